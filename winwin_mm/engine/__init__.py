from .checkpoint_hooks import (AtomicCheckpointHook, CheckpointMatchHook,
                               install_resume_resolver,
                               resolve_last_checkpoint)
from .resume import ResumeLearningRateHook
from .dataset_check_hook import DatasetCheckHook
from .flow_visualization_hook import FlowVisualizationHook
from .hooks import (DatasetConsistencyHook, EvalLabelCheckHook,
                    NonFiniteLossHook, RNGStateHook)
from .progress_hook import TimedProgressHook
from .seg_visualization_hook import SegVisualizationHook
from .study_hooks import IterTimeHook, PeakMemoryHook, TimeBudgetHook
from .layer_decay_optim_wrapper_constructor import (
    LayerDecayOptimWrapperConstructor, find_vit_encoder, layer_ids)

__all__ = [
    'DatasetCheckHook', 'LayerDecayOptimWrapperConstructor', 'find_vit_encoder',
           'layer_ids',
           'RNGStateHook', 'NonFiniteLossHook', 'DatasetConsistencyHook',
           'FlowVisualizationHook', 'AtomicCheckpointHook',
           'CheckpointMatchHook', 'EvalLabelCheckHook', 'SegVisualizationHook',
           'install_resume_resolver', 'resolve_last_checkpoint',
           'PeakMemoryHook', 'IterTimeHook', 'TimeBudgetHook',
           'TimedProgressHook', 'ResumeLearningRateHook']
