from .flow_visualization_hook import FlowVisualizationHook
from .hooks import DatasetConsistencyHook, NonFiniteLossHook, RNGStateHook
from .study_hooks import IterTimeHook, PeakMemoryHook, TimeBudgetHook
from .layer_decay_optim_wrapper_constructor import (
    LayerDecayOptimWrapperConstructor, get_layer_id)

__all__ = ['LayerDecayOptimWrapperConstructor', 'get_layer_id',
           'RNGStateHook', 'NonFiniteLossHook', 'DatasetConsistencyHook',
           'FlowVisualizationHook', 'PeakMemoryHook', 'IterTimeHook',
           'TimeBudgetHook']
