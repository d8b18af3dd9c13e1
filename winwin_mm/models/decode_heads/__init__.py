from .depth_head import DepthRegressionHead
from .dpt_fusion import DPTFusion
from .dpt_seg_head import DPTSegHead

__all__ = ['DepthRegressionHead', 'DPTFusion', 'DPTSegHead']
