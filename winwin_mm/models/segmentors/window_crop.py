"""Data-sample side of Win-Win: ground truth cut to the kept windows or
masked to the kept tokens, and whole-image inputs padded to the patch grid.

Shared by the segmentation and depth segmentors, so that the pixel maps a
loss sees always follow the backbone's token order (one source of truth).
"""
from typing import List, Sequence, Tuple

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

from winwin_mm.windows import crop_windows, grid_size, pad_to_multiple

# every per-pixel ground-truth field a SegDataSample may carry
PIXEL_FIELDS = ('gt_sem_seg', 'gt_depth_map', 'gt_edge_map')


def crop_samples_to_windows(data_samples: Sequence[SegDataSample],
                            boxes: Tensor, patch_size: int,
                            fields: Sequence[str] = PIXEL_FIELDS
                            ) -> List[SegDataSample]:
    """B samples + (B, N, 4) patch boxes -> B*N window samples.

    Window ``n`` of image ``b`` becomes sample ``b * N + n``, the order of the
    backbone's (B*N, C, s, s) window grids. Each of ``fields`` the samples
    carry is cropped to the window's pixels ``[y0*p, y1*p) x [x0*p, x1*p)``
    (:func:`winwin_mm.windows.crop_windows`); the metainfo is the image's,
    with ``img_shape``/``pad_shape`` set to the crop and ``window_source =
    (b, n)`` so a loss can regroup the windows of one image (e.g. SiLog,
    whose scale term is per image).
    """
    n = len(boxes[0])
    present = [f for f in fields if f in data_samples[0]]
    crops = {
        f: crop_windows([getattr(s, f).data for s in data_samples], boxes,
                        patch_size)
        for f in present
    }
    out = []
    for i, (b, w) in enumerate(
            (b, w) for b in range(len(data_samples)) for w in range(n)):
        y0, x0, y1, x1 = (int(v) for v in boxes[b][w])
        hw = (tuple(crops[present[0]][i].shape[-2:]) if present else
              ((y1 - y0) * patch_size, (x1 - x0) * patch_size))
        meta = dict(data_samples[b].metainfo)
        meta.update(img_shape=hw, pad_shape=hw, window_source=(b, w))
        win = SegDataSample(metainfo=meta)
        for f in present:
            setattr(win, f, PixelData(data=crops[f][i]))
        out.append(win)
    return out


def token_keep_mask(tokens: Tensor, img_hw: Tuple[int, int],
                    patch_size: int) -> Tensor:
    """(B, K) flat kept-token indices on the patch grid of an ``img_hw``
    image -> (B, ceil(H/p)*p, ceil(W/p)*p) bool pixel mask of kept tokens."""
    p = patch_size
    gh, gw = grid_size(img_hw, p)
    keep = torch.zeros(tokens.shape[0], gh * gw, dtype=torch.bool,
                       device=tokens.device)
    keep.scatter_(1, tokens.long(), True)
    return keep.view(-1, gh, gw).repeat_interleave(p, 1).repeat_interleave(
        p, 2)


def pad_to_patch(inputs: Tensor, batch_img_metas: List[dict],
                 patch_size: int) -> Tuple[Tensor, List[dict]]:
    """Pad (B, C, H, W) right/bottom with zeros to a multiple of the patch
    size (:func:`winwin_mm.windows.pad_to_multiple`), so that head outputs
    align with pixels; the metas get the padded ``img_shape``/``pad_shape``
    (heads resize their output to it). Crop the prediction back with
    ``[..., :H, :W]``."""
    padded = pad_to_multiple(inputs, patch_size)
    if padded.shape[-2:] == inputs.shape[-2:]:
        return inputs, batch_img_metas
    hw = tuple(padded.shape[-2:])
    return padded, [dict(m, img_shape=hw, pad_shape=hw)
                    for m in batch_img_metas]
