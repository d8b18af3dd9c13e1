from .depth_head import DepthRegressionHead

__all__ = ['DepthRegressionHead']
