from .checkpoint_hooks import (AtomicCheckpointHook, CheckpointMatchHook,
                               install_resume_resolver,
                               resolve_last_checkpoint)
from .flow_visualization_hook import FlowVisualizationHook
from .hooks import (DatasetConsistencyHook, EvalLabelCheckHook,
                    NonFiniteLossHook, RNGStateHook)
from .seg_visualization_hook import SegVisualizationHook
from .layer_decay_optim_wrapper_constructor import (
    LayerDecayOptimWrapperConstructor, get_layer_id)

__all__ = ['LayerDecayOptimWrapperConstructor', 'get_layer_id',
           'RNGStateHook', 'NonFiniteLossHook', 'DatasetConsistencyHook',
           'FlowVisualizationHook', 'AtomicCheckpointHook',
           'CheckpointMatchHook', 'EvalLabelCheckHook', 'SegVisualizationHook',
           'install_resume_resolver', 'resolve_last_checkpoint']
