"""The DPT reassemble-and-fuse trunk (Ranftl et al., "Vision Transformers
for Dense Prediction", ICCV 2021), written from the paper's description and
shared by the flow head (:class:`DPTFlowHead`) and the segmentation head
(:class:`DPTSegHead`).

Four token layers of a ViT, each reshaped to its patch grid ``(h, w)``, are
*reassembled* to four scales (``4h``, ``2h``, ``h``, ``h/2``) and *fused*
from coarse to fine with residual convolution units; the fused map has
twice the finest scale, ``8h x 8w`` (half the pixel resolution at patch 16).

It is purely convolutional, with no global pooling: during Win-Win
training it runs on each window's own small grid ``(B*N, C, s, s)``, at
test time on the whole grid, and sees the same kind of input in both. Any
grid size works (odd sizes included): every fusion step resizes to the size
of the next finer map instead of assuming exact factors of two.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class ResidualConvUnit(nn.Module):
    """``x + conv(relu(conv(relu(x))))`` with 3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """Fuse a coarser path with a skip map, then upsample.

    ``out = rcu2(prev + rcu1(skip))`` (``prev`` absent for the coarsest
    level), bilinearly resized to ``size``, then a 1x1 projection.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.rcu1 = ResidualConvUnit(channels)
        self.rcu2 = ResidualConvUnit(channels)
        self.out_conv = nn.Conv2d(channels, channels, 1)

    def forward(self, skip: torch.Tensor, prev: Optional[torch.Tensor],
                size: Tuple[int, int]) -> torch.Tensor:
        x = self.rcu1(skip)
        if prev is not None:
            x = x + prev
        x = self.rcu2(x)
        x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return self.out_conv(x)


def resample(scale: int, channels: int) -> nn.Module:
    """Change the resolution of a (B, C, h, w) map by ``scale`` (4, 2, 1 or
    0.5 coded as -2): transposed conv up, strided conv down."""
    if scale in (4, 2):
        return nn.ConvTranspose2d(channels, channels, scale, stride=scale)
    if scale == 1:
        return nn.Identity()
    return nn.Conv2d(channels, channels, 3, stride=2, padding=1)


class DPTFusion(BaseModule):
    """Reassemble four token layers and fuse them (module names
    ``reassemble.*`` and ``fusion.*``, as in the flow checkpoints).

    Args:
        in_channels (sequence of 4 int): channels of the four input layers,
            shallowest first.
        hidden_channels (sequence of 4 int): channels after reassembly of
            each layer. Default: (96, 192, 384, 768) (DPT-Base).
        features (int): channels of the fusion path. Default: 256.

    Shapes:
        feats: 4 maps (B, C_i, h, w) on the same grid.
        :meth:`fuse` returns (B, features, 8h, 8w) (the finest reassembled
        map is 4h; the last fusion step doubles it).
    """

    SCALES = (4, 2, 1, -2)  # -2: downsample by 2

    def __init__(self,
                 in_channels: Sequence[int],
                 hidden_channels: Sequence[int] = (96, 192, 384, 768),
                 features: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 4 or len(hidden_channels) != 4:
            raise ValueError(f'{type(self).__name__} takes exactly 4 layers: '
                             f'got in_channels={tuple(in_channels)}, '
                             f'hidden_channels={tuple(hidden_channels)}')
        self.features = features
        self.reassemble = nn.ModuleList()
        for c_in, c_hid, scale in zip(in_channels, hidden_channels,
                                      self.SCALES):
            self.reassemble.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_hid, 1), resample(scale, c_hid),
                    nn.Conv2d(c_hid, features, 3, padding=1, bias=False)))
        self.fusion = nn.ModuleList(FusionBlock(features) for _ in range(4))

    def fuse(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """4 maps (B, C_i, h, w) -> fused (B, features, 8h, 8w)."""
        if len(feats) != 4:
            raise ValueError(f'{type(self).__name__} takes 4 layers, got '
                             f'{len(feats)}')
        maps: List[torch.Tensor] = [
            m(f) for m, f in zip(self.reassemble, feats)
        ]
        # coarse (index 3) to fine (index 0); each step resizes to the next
        # finer map, the last one to twice the finest.
        path = None
        for i in (3, 2, 1, 0):
            size = maps[i - 1].shape[-2:] if i else tuple(
                2 * s for s in maps[0].shape[-2:])
            path = self.fusion[i](maps[i], path, size)
        return path
