from .cross_block import CrossBlock, CrossDecoder, RoPECrossAttention
from .data_preprocessor import FlowDataPreprocessor
from .dpt_head import DPTFlowHead
from .flow_losses import (EndPointErrorLoss, FlowL1Loss, LaplacianFlowLoss,
                          bounded_scale)
from .winwin_flow import WinWinFlow

__all__ = [
    'FlowDataPreprocessor', 'CrossBlock', 'CrossDecoder',
    'RoPECrossAttention', 'DPTFlowHead', 'LaplacianFlowLoss',
    'EndPointErrorLoss', 'FlowL1Loss', 'bounded_scale', 'WinWinFlow'
]
