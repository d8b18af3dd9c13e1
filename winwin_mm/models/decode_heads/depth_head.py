"""A convolutional depth head for multi-level ViT features."""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

from winwin_mm.registry import MODELS


@MODELS.register_module()
class DepthRegressionHead(BaseDecodeHead):
    """FPN-style fusion of multi-level features into a positive depth map.

    Every level goes through a 1x1 lateral conv, coarser levels are added
    top-down, each level gets a 3x3 conv, all are resized to the finest
    level, concatenated and fused by a 3x3 conv; a 1x1 conv gives one channel
    and ``depth = sigmoid(x) * max_depth`` (as mmseg's ``VPDDepthHead``).

    The head is purely convolutional: no global pooling (UPerHead's PPM), so
    a window crop seen in Win-Win training and the whole image seen at test
    go through the same local operations.

    ``loss_by_feat`` reads ``gt_depth_map`` (resizing the prediction to it);
    window crops carrying ``window_source`` in their metainfo are regrouped
    per image for losses that declare ``pools_groups = True`` (called with
    ``groups=``, e.g. ``WindowSiLogLoss``).
    ``predict_by_feat`` (inherited) returns (B, 1, H, W) depth at
    ``pad_shape``, which ``DepthEstimator.postprocess_result`` turns into
    ``pred_depth_map``.

    Args:
        in_channels (Sequence[int]): channels of the selected levels.
        channels (int): width of the head.
        in_index (Sequence[int]): levels used, finest first.
        max_depth (float): upper bound of the output (metres). Default 10.
        loss_decode (dict): Default ``winwin_mm.WindowSiLogLoss``.
        Other arguments as :class:`BaseDecodeHead`.

    Shapes:
        inputs: list of (B, C_i, h_i, w_i), finest first.
        returns: (B, 1, h_0, w_0) depth in (0, max_depth).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 256,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 max_depth: float = 10.,
                 loss_decode: dict = dict(type='winwin_mm.WindowSiLogLoss'),
                 dropout_ratio: float = 0.,
                 **kwargs) -> None:
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            num_classes=1,
            out_channels=1,
            threshold=0.5,  # unused (regression); silences the binary warning
            in_index=list(in_index),
            input_transform='multiple_select',
            loss_decode=loss_decode,
            dropout_ratio=dropout_ratio,
            ignore_index=None,
            **kwargs)
        self.max_depth = max_depth
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, channels, 1, **conv) for c in self.in_channels)
        self.fpn_convs = nn.ModuleList(
            ConvModule(channels, channels, 3, padding=1, **conv)
            for _ in self.in_channels)
        self.fuse = ConvModule(channels * len(self.in_channels), channels, 3,
                               padding=1, **conv)

    def _resize(self, x: Tensor, size) -> Tensor:
        return resize(x, size=size, mode='bilinear',
                      align_corners=self.align_corners)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = self._transform_inputs(inputs)
        lat = [conv(f) for conv, f in zip(self.lateral_convs, x)]
        for i in range(len(lat) - 1, 0, -1):
            lat[i - 1] = lat[i - 1] + self._resize(lat[i],
                                                   lat[i - 1].shape[2:])
        outs = [conv(f) for conv, f in zip(self.fpn_convs, lat)]
        size = outs[0].shape[2:]
        outs = [outs[0]] + [self._resize(o, size) for o in outs[1:]]
        feat = self.fuse(torch.cat(outs, dim=1))
        return torch.sigmoid(self.cls_seg(feat)) * self.max_depth

    def loss_by_feat(self, depth: Tensor, batch_data_samples) -> dict:
        """depth (B, 1, h, w) + samples with ``gt_depth_map`` (1, H, W) ->
        dict of losses."""
        gt = torch.stack(
            [s.gt_depth_map.data for s in batch_data_samples]).to(depth)
        depth = self._resize(depth, gt.shape[2:])
        groups = None
        if all('window_source' in s.metainfo for s in batch_data_samples):
            groups = torch.tensor(
                [s.metainfo['window_source'][0] for s in batch_data_samples],
                device=depth.device)
        losses_decode = (self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode])
        loss = dict()
        for loss_fn in losses_decode:
            if groups is not None and getattr(loss_fn, 'pools_groups', False):
                value = loss_fn(depth, gt, groups=groups)
            else:
                value = loss_fn(depth, gt)
            name = loss_fn.loss_name
            loss[name] = loss[name] + value if name in loss else value
        return loss

