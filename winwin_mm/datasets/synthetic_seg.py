"""A generated high-resolution segmentation dataset (the ``make demo`` data).

Each image is a noisy background with large elliptic regions. A region's
class needs two things: its **texture** (stripes or checkerboard, a local
cue visible inside one patch) and its **shape** (wide or tall ellipse, a cue
that only a wide context reveals, since colours are random). Five classes:
0 background, 1 wide-stripes, 2 tall-stripes, 3 wide-checker, 4 tall-checker.
Generation is deterministic given the seed and needs no download.
"""
import json
import os
import os.path as osp
from typing import Tuple

import numpy as np
from mmseg.datasets import BaseSegDataset

from winwin_mm.registry import DATASETS

CLASSES = ('background', 'wide stripes', 'tall stripes', 'wide checker',
           'tall checker')
PALETTE = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25],
           [0, 130, 200]]
VERSION = 1


def _region(rng: np.random.Generator, h: int, w: int, yy, xx):
    """One random ellipse: mask (H, W) bool and class id."""
    wide = rng.random() < 0.5
    major = rng.uniform(0.16, 0.26) * w
    minor = major / rng.uniform(2.5, 3.5)
    ry, rx = (minor, major) if wide else (major, minor)
    cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
    mask = ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1
    checker = rng.random() < 0.5
    cls = 1 + 2 * int(checker) + (0 if wide else 1)
    period = rng.uniform(6, 12)
    phase = rng.uniform(0, period)
    if checker:
        tex = ((np.floor((yy + phase) / period) +
                np.floor((xx + phase) / period)) % 2)
    else:
        theta = rng.uniform(0, np.pi)
        u = yy * np.sin(theta) + xx * np.cos(theta)
        tex = (np.floor((u + phase) / period) % 2)
    return mask, cls, tex


def render(rng: np.random.Generator, size: Tuple[int, int],
           max_regions: int = 5) -> Tuple[np.ndarray, np.ndarray]:
    """One sample: image (H, W, 3) uint8 RGB and label (H, W) uint8."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = rng.uniform(60, 200, 3)[None, None] + rng.normal(0, 20, (h, w, 3))
    label = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(2, max_regions + 1)):
        mask, cls, tex = _region(rng, h, w, yy, xx)
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        colour = c0[None, None] + (c1 - c0)[None, None] * tex[..., None]
        img[mask] = colour[mask] + rng.normal(0, 12, (int(mask.sum()), 3))
        label[mask] = cls
    return np.clip(img, 0, 255).astype(np.uint8), label


def generate(root: str, num_train: int = 64, num_val: int = 16,
             size: Tuple[int, int] = (384, 768), seed: int = 0) -> str:
    """Write the dataset under ``root`` once (skipped when a matching copy
    exists). Layout: ``img_dir/{train,val}/*.png``,
    ``ann_dir/{train,val}/*.png``. Returns ``root``."""
    import cv2
    spec = dict(version=VERSION, num_train=num_train, num_val=num_val,
                size=list(size), seed=seed)
    stamp = osp.join(root, 'spec.json')
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == spec:
                return root
    rng = np.random.default_rng(seed)
    for split, n in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, 'img_dir', split), exist_ok=True)
        os.makedirs(osp.join(root, 'ann_dir', split), exist_ok=True)
        for i in range(n):
            img, label = render(rng, size)
            name = f'{split}_{i:04d}.png'
            cv2.imwrite(osp.join(root, 'img_dir', split, name), img[..., ::-1])
            cv2.imwrite(osp.join(root, 'ann_dir', split, name), label)
    with open(stamp, 'w') as f:  # written last: a partial copy is redone
        json.dump(spec, f)
    return root


# where `make demo` (tools/demo.py) generates it
DEMO_ROOT = 'data/winwin_demo'


@DATASETS.register_module()
class WinWinDemoDataset(BaseSegDataset):
    """The generated dataset of :func:`generate` (5 classes, PNG pairs)."""
    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, **kwargs) -> None:
        super().__init__(img_suffix='.png', seg_map_suffix='.png',
                         reduce_zero_label=False, **kwargs)

    def load_data_list(self):
        img_dir = self.data_prefix.get('img_path', '')
        if not osp.isdir(img_dir):
            demo = osp.normpath(self.data_root) == osp.normpath(DEMO_ROOT)
            raise FileNotFoundError(
                f'The demo dataset is not there ({img_dir} does not exist): '
                'it is generated, not downloaded. Fix: '
                + ('run `make demo` (generates it under data/winwin_demo, '
                   'then trains), or ' if demo else
                   'check data_root / data_prefix, or ')
                + 'generate it with python -c "from winwin_mm.datasets.'
                f'synthetic_seg import generate; generate({self.data_root!r})'
                '".')
        return super().load_data_list()
