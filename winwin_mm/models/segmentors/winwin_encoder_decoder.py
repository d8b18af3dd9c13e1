"""Win-Win segmentor: windows in training, one whole-image pass at test."""
from typing import List, Optional, Tuple

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.structures import SegDataSample
from torch import Tensor

from winwin_mm.registry import MODELS
from .window_crop import (crop_to_windows, pad_to_patch, stack_meta,
                          token_keep_mask)


@MODELS.register_module()
class WinWinEncoderDecoder(EncoderDecoder):
    """EncoderDecoder that trains on the tokens of a few windows.

    Training: the boxes sampled by ``RandomWindows`` (``metainfo
    ['window_boxes']``, (N, 4) patch units) go to the backbone, which returns
    per-window grids (B*N, C, s, s); neck and heads run per window and the
    ground truth is cropped to the same pixel windows (B*N samples), so the
    loss covers the kept windows only. ``metainfo['window_tokens']`` (random
    token ablation) scatters the kept features onto the full grid and marks
    every other pixel ``ignore_index``. Without either key the step is a
    normal full-resolution step.

    Test: ``test_cfg=dict(mode='whole')`` runs the full-resolution image in one
    pass (padded to the patch size, logits cropped back);
    ``mode='slide'`` keeps MMSegmentation's tiling as the crop baseline.

    All ``EncoderDecoder`` arguments apply; the backbone must accept
    ``windows=`` / ``token_index=`` (``winwin_mm.RoPEViT``).
    """

    def __init__(self, *args, check_labels: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_labels = check_labels

    @property
    def patch_size(self) -> int:
        return self.backbone.patch_size

    def extract_feat(self, inputs: Tensor, windows: Optional[Tensor] = None,
                     token_index: Optional[Tensor] = None) -> List[Tensor]:
        """inputs (B, 3, H, W) -> multi-level features (per window when
        ``windows`` (B, N, 4) is given)."""
        if windows is None and token_index is None:
            x = self.backbone(inputs)
        else:
            x = self.backbone(inputs, windows=windows, token_index=token_index)
        if self.with_neck:
            x = self.neck(x)
        return x

    # ------------------------------------------------------------- training
    def loss(self, inputs: Tensor, data_samples) -> dict:
        if self.check_labels:
            self.validate_labels(data_samples)
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

    def validate_labels(self, data_samples) -> None:
        """Raise a clear error when a label is outside [0, num_classes)
        and is not ``ignore_index`` (one batched check per step)."""
        n = self.decode_head.num_classes
        ignore = self.decode_head.ignore_index
        segs = [s.gt_sem_seg.data for s in data_samples]
        flat = torch.cat([s.flatten() for s in segs])
        bad = ((flat < 0) | (flat >= n)) & (flat != ignore)
        if not bool(bad.any()):
            return
        for sample, seg in zip(data_samples, segs):
            wrong = ((seg < 0) | (seg >= n)) & (seg != ignore)
            if bool(wrong.any()):
                values = torch.unique(seg[wrong]).tolist()[:10]
                raise ValueError(
                    f'{sample.metainfo.get("seg_map_path", "a label map")}: '
                    f'label values {values} are outside [0, {n}) and are not '
                    f'ignore_index={ignore}. Fix: set num_classes to the '
                    'dataset\'s class count, or map these values (dataset '
                    'label_map / reduce_zero_label / ignore_index).')

    def mask_to_tokens(self, data_samples, tokens: Tensor,
                       img_hw: Tuple[int, int]) -> list:
        """Set ``ignore_index`` on every pixel whose token was dropped."""
        keep = token_keep_mask(tokens, img_hw, self.patch_size)
        ignore = self.decode_head.ignore_index
        out = []
        for sample, k in zip(data_samples, keep):
            seg = sample.gt_sem_seg.data
            k = k[:seg.shape[-2], :seg.shape[-1]].to(seg.device)
            masked = SegDataSample(metainfo=sample.metainfo)
            masked.gt_sem_seg = PixelData(
                data=torch.where(k[None], seg, torch.full_like(seg, ignore)))
            out.append(masked)
        return out

    # ------------------------------------------------------------ inference
    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """(B, 3, H, W) -> logits (B, K, H, W) in one pass. Pads to the patch
        size so features align with pixels, then crops back."""
        H, W = inputs.shape[-2:]
        inputs, batch_img_metas = pad_to_patch(inputs, batch_img_metas,
                                               self.patch_size)
        x = self.extract_feat(inputs)
        logits = self.decode_head.predict(x, batch_img_metas, self.test_cfg)
        return logits[..., :H, :W]
