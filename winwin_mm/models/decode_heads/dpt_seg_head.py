"""DPT segmentation head: no global pooling, the same convolutions on a
window's grid and on the whole image."""
from typing import List, Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from winwin_mm.registry import MODELS
from .dpt_fusion import DPTFusion


@MODELS.register_module()
class DPTSegHead(BaseDecodeHead):
    """DPT head for semantic segmentation (Ranftl et al., ICCV 2021): the
    reassemble-and-fuse trunk shared with the flow head
    (:class:`~winwin_mm.models.decode_heads.dpt_fusion.DPTFusion`), then
    ``conv3x3-BN-ReLU``, dropout and the 1x1 classifier, as DPT's
    segmentation head. Unlike UPerHead's pyramid pooling it has no global
    pooling, so a window's prediction depends only on its neighbourhood,
    in training (per window) as at test (whole image).

    Use it on the backbone's four layers directly (no neck).

    Args:
        in_channels (sequence of 4 int): the four layers' channels.
        channels (int): fusion and head channels (DPT's ``features``).
        hidden_channels (sequence of 4 int): channels after reassembly.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``norm_cfg``, ``loss_decode``, ``dropout_ratio``, ...);
            ``in_index`` defaults to (0, 1, 2, 3).

    Shapes:
        inputs: 4 maps (B, C_i, h, w) -> logits (B, num_classes, 8h, 8w).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 hidden_channels: Sequence[int] = (96, 192, 384, 768),
                 **kwargs) -> None:
        kwargs.setdefault('in_index', (0, 1, 2, 3))
        super().__init__(in_channels=list(in_channels), channels=channels,
                         input_transform='multiple_select', **kwargs)
        self.dpt = DPTFusion(self.in_channels, hidden_channels, channels)
        self.conv = ConvModule(channels, channels, 3, padding=1,
                               conv_cfg=self.conv_cfg,
                               norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        return self.cls_seg(self.conv(self.dpt.fuse(x)))
