from .winwin_encoder_decoder import WinWinEncoderDecoder
from .winwin_depth_estimator import WinWinDepthEstimator  # noqa: F401

__all__ = ['WinWinEncoderDecoder']
