from .flow_visualization_hook import FlowVisualizationHook
from .hooks import DatasetConsistencyHook, NonFiniteLossHook, RNGStateHook
from .study_hooks import IterTimeHook, PeakMemoryHook, TimeBudgetHook
from .layer_decay_optim_wrapper_constructor import (
    LayerDecayOptimWrapperConstructor, find_vit_encoder, layer_ids)

__all__ = ['LayerDecayOptimWrapperConstructor', 'find_vit_encoder',
           'layer_ids',
           'RNGStateHook', 'NonFiniteLossHook', 'DatasetConsistencyHook',
           'FlowVisualizationHook', 'PeakMemoryHook', 'IterTimeHook',
           'TimeBudgetHook']
