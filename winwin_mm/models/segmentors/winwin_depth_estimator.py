"""Win-Win depth estimator: windows in training, one whole-image pass at
test, on MMSegmentation's ``DepthEstimator``."""
from typing import List, Optional

import torch
from mmseg.models.segmentors import DepthEstimator
from mmseg.structures import SegDataSample
from torch import Tensor

from winwin_mm.registry import MODELS
from .window_crop import (crop_to_windows, pad_to_patch, stack_meta,
                          token_keep_mask)


@MODELS.register_module()
class WinWinDepthEstimator(DepthEstimator):
    """DepthEstimator that trains on the tokens of a few windows.

    Training: the boxes sampled by ``RandomWindows`` (``metainfo
    ['window_boxes']``, (N, 4) patch units) go to the backbone, which returns
    per-window grids (B*N, C, s, s); neck and head run per window and
    ``gt_depth_map`` is cropped to the same pixel windows (B*N samples,
    tagged ``window_source=(b, n)`` so ``WindowSiLogLoss`` pools the windows
    of one image). ``metainfo['window_tokens']`` (random-token ablation)
    scatters the kept features onto the full grid and sets the depth of every
    dropped token's pixels to 0 (invalid). Without either key the step is a
    normal full-resolution step.

    Test: ``test_cfg=dict(mode='whole')`` runs the full-resolution image in
    one pass (padded to the patch size, depth cropped back); mmseg's
    ``slide_flip`` mode stays available as the tiling baseline (note that
    ``DepthEstimator.inference`` of mmseg 1.2.2 falls through to ``whole``
    for ``mode='slide'``).

    All ``DepthEstimator`` arguments apply; the backbone must accept
    ``windows=`` / ``token_index=`` (``winwin_mm.RoPEViT``).
    """

    @property
    def patch_size(self) -> int:
        return self.backbone.patch_size

    def extract_feat(self, inputs: Tensor,
                     batch_img_metas: Optional[List[dict]] = None,
                     windows: Optional[Tensor] = None,
                     token_index: Optional[Tensor] = None) -> List[Tensor]:
        """inputs (B, 3, H, W) -> multi-level features (per window, (B*N,
        C, s, s), when ``windows`` (B, N, 4) is given)."""
        if windows is None and token_index is None:
            x = self.backbone(inputs)
        else:
            x = self.backbone(inputs, windows=windows, token_index=token_index)
        if self.with_neck:
            x = self.neck(x)
        return x

    # ------------------------------------------------------------- training
    def loss(self, inputs: Tensor, data_samples) -> dict:
        boxes = stack_meta(data_samples, 'window_boxes')
        tokens = stack_meta(data_samples, 'window_tokens')
        if boxes is not None:
            x = self.extract_feat(inputs, windows=boxes)
            data_samples = crop_to_windows(data_samples, boxes,
                                           self.patch_size)
        elif tokens is not None:
            x = self.extract_feat(inputs, token_index=tokens)
            data_samples = self.mask_to_tokens(data_samples, tokens,
                                               inputs.shape[-2:])
        else:
            x = self.extract_feat(inputs)
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def mask_to_tokens(self, data_samples, tokens: Tensor, img_hw) -> list:
        """Depth 0 (invalid, excluded by the loss) on every pixel whose token
        was dropped."""
        keep = token_keep_mask(tokens, img_hw, self.patch_size)
        out = []
        for sample, k in zip(data_samples, keep):
            depth = sample.gt_depth_map.data
            k = k[:depth.shape[-2], :depth.shape[-1]].to(depth.device)
            masked = SegDataSample(metainfo=sample.metainfo)
            masked.gt_depth_map = type(sample.gt_depth_map)(
                data=torch.where(k[None], depth, torch.zeros_like(depth)))
            out.append(masked)
        return out

    # ------------------------------------------------------------ inference
    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """(B, 3, H, W) -> depth (B, 1, H, W) in one pass. Pads to the patch
        size so features align with pixels, then crops back."""
        H, W = inputs.shape[-2:]
        inputs, batch_img_metas = pad_to_patch(inputs, batch_img_metas,
                                               self.patch_size)
        x = self.extract_feat(inputs)
        depth = self.decode_head.predict(x, batch_img_metas, self.test_cfg)
        return depth[..., :H, :W]
