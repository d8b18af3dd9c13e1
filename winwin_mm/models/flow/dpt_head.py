"""DPT head of the flow model: the shared DPT trunk (reassemble four token
layers - the last encoder layer and three decoder layers - and fuse them,
:mod:`winwin_mm.models.decode_heads.dpt_fusion`), then a small
convolutional head at the pixel resolution ``(h * p, w * p)`` that outputs
flow ``(u, v)`` and a raw confidence."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from winwin_mm.registry import MODELS
from ..decode_heads.dpt_fusion import DPTFusion


@MODELS.register_module()
class DPTFlowHead(DPTFusion):
    """DPT head on four token layers: the shared reassemble-and-fuse trunk
    (:class:`DPTFusion`) and a small convolutional output head.

    Args:
        in_channels (sequence of 4 int): channels of the four input layers,
            shallowest first (e.g. encoder last layer, then decoder layers).
        patch_size (int): pixels per token; the output has ``(h * p, w * p)``
            pixels for an ``(h, w)`` grid.
        hidden_channels (sequence of 4 int): channels after reassembly of
            each layer. Default: (96, 192, 384, 768) (DPT-Base).
        features (int): channels of the fusion path. Default: 256.
        head_channels (int): channels of the last hidden convolution.
            Default: 32.
        out_channels (int): output channels; 3 = flow (2) + confidence (1).

    Shapes:
        feats: 4 maps (B, C_i, h, w) on the same grid.
        returns: (B, out_channels, h * p, w * p).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 patch_size: int = 16,
                 hidden_channels: Sequence[int] = (96, 192, 384, 768),
                 features: int = 256,
                 head_channels: int = 32,
                 out_channels: int = 3,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, hidden_channels, features, init_cfg)
        self.in_channels = tuple(in_channels)
        self.patch_size = patch_size
        self.out_channels = out_channels
        self.head = nn.ModuleDict(
            dict(
                conv1=nn.Conv2d(features, features // 2, 3, padding=1),
                conv2=nn.Conv2d(features // 2, head_channels, 3, padding=1),
                conv3=nn.Conv2d(head_channels, out_channels, 1)))

    def forward(self, feats: Sequence[torch.Tensor],
                out_size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """See the class docstring; ``out_size`` defaults to the grid size
        times the patch size."""
        h, w = feats[0].shape[-2:]
        if out_size is None:
            out_size = (h * self.patch_size, w * self.patch_size)
        path = self.fuse(feats)
        x = self.head['conv1'](path)
        x = F.interpolate(x, size=out_size, mode='bilinear',
                          align_corners=False)
        x = F.relu(self.head['conv2'](x))
        return self.head['conv3'](x)
