from .backbones import RoPEViT
from .losses import WindowLoss
from .rope import RoPE2D, apply_rope
from .segmentors import WinWinEncoderDecoder

__all__ = ['RoPEViT', 'RoPE2D', 'apply_rope', 'WindowLoss',
           'WinWinEncoderDecoder']
