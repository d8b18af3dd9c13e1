from .backbones import RoPEViT
from .decode_heads import *  # noqa: F401,F403
from .flow import WinWinFlow
from .losses import WindowLoss
from .rope import RoPE2D, apply_rope
from .segmentors import WinWinEncoderDecoder

__all__ = ['RoPEViT', 'RoPE2D', 'apply_rope', 'WindowLoss',
           'WinWinEncoderDecoder', 'WinWinFlow']
