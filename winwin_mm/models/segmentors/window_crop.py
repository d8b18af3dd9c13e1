"""Data-sample side of Win-Win: ground truth cut to the kept windows or
masked to the kept tokens, and whole-image inputs padded to the patch grid.

Shared by the segmentation and depth segmentors, so that the pixel maps a
loss sees always follow the backbone's token order (one source of truth).
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

# every per-pixel ground-truth field a SegDataSample may carry
PIXEL_FIELDS = ('gt_sem_seg', 'gt_depth_map', 'gt_edge_map')


def crop_to_windows(data_samples: Sequence[SegDataSample], boxes: Tensor,
                    patch_size: int,
                    fields: Sequence[str] = PIXEL_FIELDS
                    ) -> List[SegDataSample]:
    """B samples + (B, N, 4) patch boxes -> B*N window samples.

    Window ``n`` of image ``b`` becomes sample ``b * N + n``, the order of the
    backbone's (B*N, C, s, s) window grids. Each of ``fields`` the sample
    carries is cropped to the window's pixels ``[y0*p, y1*p) x [x0*p, x1*p)``;
    the metainfo is the image's, with ``img_shape``/``pad_shape`` set to the
    crop and ``window_source = (b, n)`` so a loss can regroup the windows of
    one image (e.g. SiLog, whose scale term is per image).
    """
    p = patch_size
    out = []
    for b, (sample, sample_boxes) in enumerate(zip(data_samples,
                                                   boxes.tolist())):
        for n, (y0, x0, y1, x1) in enumerate(sample_boxes):
            rows, cols = slice(y0 * p, y1 * p), slice(x0 * p, x1 * p)
            crops = {
                f: getattr(sample, f).data[:, rows, cols]
                for f in fields if f in sample
            }
            hw = (tuple(next(iter(crops.values())).shape[-2:]) if crops else
                  ((y1 - y0) * p, (x1 - x0) * p))
            meta = dict(sample.metainfo)
            meta.update(img_shape=hw, pad_shape=hw, window_source=(b, n))
            win = SegDataSample(metainfo=meta)
            for f, crop in crops.items():
                setattr(win, f, PixelData(data=crop))
            out.append(win)
    return out


def token_keep_mask(tokens: Tensor, img_hw: Tuple[int, int],
                    patch_size: int) -> Tensor:
    """(B, K) flat kept-token indices on the patch grid of an ``img_hw``
    image -> (B, ceil(H/p)*p, ceil(W/p)*p) bool pixel mask of kept tokens."""
    p = patch_size
    gh, gw = -(-img_hw[0] // p), -(-img_hw[1] // p)
    keep = torch.zeros(tokens.shape[0], gh * gw, dtype=torch.bool,
                       device=tokens.device)
    keep.scatter_(1, tokens.long(), True)
    return keep.view(-1, gh, gw).repeat_interleave(p, 1).repeat_interleave(
        p, 2)


def pad_to_patch(inputs: Tensor, batch_img_metas: List[dict],
                 patch_size: int) -> Tuple[Tensor, List[dict]]:
    """Pad (B, C, H, W) right/bottom with zeros to a multiple of the patch
    size, so that head outputs align with pixels; the metas get the padded
    ``img_shape``/``pad_shape`` (heads resize their output to it). Crop the
    prediction back with ``[..., :H, :W]``."""
    H, W = inputs.shape[-2:]
    ph, pw = (-H) % patch_size, (-W) % patch_size
    if not (ph or pw):
        return inputs, batch_img_metas
    inputs = F.pad(inputs, (0, pw, 0, ph))
    padded = tuple(inputs.shape[-2:])
    return inputs, [
        dict(m, img_shape=padded, pad_shape=padded) for m in batch_img_metas
    ]
