"""The Win-Win training/inference logic shared by the segmentation and depth
segmentors (mixed into MMSegmentation's ``EncoderDecoder`` and
``DepthEstimator``)."""
from typing import List, Optional

import torch
from mmseg.structures import SegDataSample
from torch import Tensor

from winwin_mm.token_selection import TokenSelection
from ..window_meta import training_windows
from .window_crop import (crop_samples_to_windows, pad_to_patch,
                          token_keep_mask)


class WindowedSegmentorMixin:
    """Windows in training, one whole-image pass at test.

    Training: the boxes sampled by ``RandomWindows`` (``metainfo
    ['window_boxes']``, (N, 4) patch units) become the backbone's
    :class:`~winwin_mm.token_selection.TokenSelection`; the backbone returns
    per-window grids (B*N, C, s, s); neck and heads run per window and the
    ground truth is cropped to the same pixel windows (B*N samples), so the
    loss covers the kept windows only. ``metainfo['window_tokens']`` (random
    token ablation) scatters the kept features onto the full grid and fills
    the ground truth of every dropped token's pixels with
    :meth:`dropped_value` (a value the loss ignores). A batch without either
    key is an error (Win-Win must not silently switch off) unless the config
    asks for full-resolution training with ``train_windows=False``.

    Test: ``encode_decode`` pads the image to the patch size so features
    align with pixels, runs it in one pass and crops the output back.

    Subclasses set ``gt_field`` (the data-sample field to mask).

    Args:
        train_windows (bool): True (Win-Win): every training batch must carry
            the windows of ``RandomWindows``, sampled with the backbone's
            patch size. False: full-resolution training (the baselines); a
            batch with windows is then an error. Default: True.
    """
    gt_field = 'gt_sem_seg'

    def __init__(self, *args, train_windows: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.train_windows = train_windows

    @property
    def patch_size(self) -> int:
        return self.backbone.patch_size

    def dropped_value(self) -> float:
        """Ground-truth value for pixels of dropped tokens."""
        raise NotImplementedError

    def validate_targets(self, data_samples) -> None:
        """Hook for subclasses: check the ground truth before a step."""

    @property
    def vit_encoder(self):
        """The RoPE ViT whose blocks layer-wise lr decay groups."""
        return self.backbone

    def extract_feat(self, inputs: Tensor,
                     selection: Optional[TokenSelection] = None
                     ) -> List[Tensor]:
        """inputs (B, 3, H, W) -> multi-level features: per window,
        (B*N, C, s, s), for a window selection; on the full grid otherwise
        (see :class:`~winwin_mm.token_selection.TokenSelection`)."""
        x = self.backbone(inputs, selection=selection)
        if self.with_neck:
            x = self.neck(x)
        return x

    def loss(self, inputs: Tensor, data_samples) -> dict:
        self.validate_targets(data_samples)
        boxes, tokens = training_windows(data_samples, self.train_windows,
                                         self.patch_size, type(self).__name__)
        # host-side, before any device work: the step stays sync-free
        selection = self.backbone.select_tokens(
            inputs.shape[-2:], windows=boxes, token_index=tokens,
            device=inputs.device)
        x = self.extract_feat(inputs, selection)
        if boxes is not None:
            data_samples = crop_samples_to_windows(data_samples, boxes,
                                                   self.patch_size)
        elif tokens is not None:
            data_samples = self.mask_to_tokens(data_samples, tokens,
                                               inputs.shape[-2:])
        try:
            losses = self._decode_head_forward_train(x, data_samples)
            if self.with_auxiliary_head:
                losses.update(self._auxiliary_head_forward_train(
                    x, data_samples))
        except ValueError as e:
            if 'Expected more than 1 value per channel' not in str(e):
                raise
            n = x[-1].shape[0]
            raise ValueError(
                f'{type(self).__name__}: the heads see {n} sample(s) per '
                'step (batch size x windows per image) and a BatchNorm after'
                ' global pooling (e.g. UPerHead\'s pool scale 1) cannot '
                f'train on one value per channel ({e}). Fix: use '
                'train_dataloader.batch_size >= 2 or num_windows >= 2 in '
                'RandomWindows, or norm_cfg=dict(type=\'GN\', num_groups=8,'
                ' requires_grad=True) in the heads.') from e
        return losses

    def mask_to_tokens(self, data_samples, tokens: Tensor, img_hw) -> list:
        """Fill ``gt_field`` with :meth:`dropped_value` on every pixel whose
        token was dropped; (B, K) token indices."""
        keep = token_keep_mask(tokens, img_hw, self.patch_size)
        fill = self.dropped_value()
        out = []
        for sample, k in zip(data_samples, keep):
            gt = getattr(sample, self.gt_field)
            k = k[:gt.data.shape[-2], :gt.data.shape[-1]].to(gt.data.device)
            masked = SegDataSample(metainfo=sample.metainfo)
            setattr(masked, self.gt_field, type(gt)(data=torch.where(
                k[None], gt.data, torch.full_like(gt.data, fill))))
            out.append(masked)
        return out

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """(B, 3, H, W) -> head output (B, K, H, W) in one pass."""
        H, W = inputs.shape[-2:]
        inputs, batch_img_metas = pad_to_patch(inputs, batch_img_metas,
                                               self.patch_size)
        x = self.extract_feat(inputs)
        out = self.decode_head.predict(x, batch_img_metas, self.test_cfg)
        return out[..., :H, :W]
