"""Generated monocular-depth data with exactly known depth, in NYU layout.

A scene is a closed box room (floor, ceiling, four walls) with a few
textured rectangles (fronto-parallel, turned about the vertical axis, or
horizontal like table tops) seen by a pinhole camera with a small random
pitch, yaw and roll. Depth is the z-buffer depth of the nearest ray-plane
intersection, computed analytically per pixel centre (no rasterisation
error), so the ground truth is exact up to the 1 mm quantisation of the PNG.
Images are shaded so that depth is inferable: every plane has a texture of
metric period in its own coordinates (it shrinks with distance), a
Lambertian "head-light" term and a fall-off with distance. Optional holes
(depth 0) imitate the missing measurements of a Kinect.

Layout written by :func:`generate_nyu_layout` (as mmseg's ``NYUDataset``
reads it, converted by mmseg's ``tools/dataset_converters/nyu.py``)::

    root/images/{train,test}/scene_00000.jpg
    root/annotations/{train,test}/scene_00000.png   # uint16, depth in mm

Load with ``LoadDepthAnnotation(depth_rescale_factor=1e-3)`` (depth scale
1000, metres), as mmseg's NYU configs do. Deterministic given the seed: image
``i`` of a split depends only on ``(seed, split, i)``.

Command line::

    python -m winwin_mm.datasets.synthetic_depth data/nyu_synthetic \
        --num-train 64 --num-test 8 --size 480 640
"""
import argparse
import json
import os
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np

VERSION = 1
DEPTH_SCALE = 1000.  # PNG stores millimetres (NYU convention)
SPLITS = ('train', 'test')


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation (x right, y down, z forward)."""
    cx, sx = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cz, sz = np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return ry @ rx @ rz


class Plane:
    """``{X : n . X = d}`` with in-plane unit axes ``u``, ``v`` through
    ``centre``; ``half`` = (a, b) half extents (None: unbounded)."""

    def __init__(self, centre, u, v, half=None, texture=None):
        self.centre = np.asarray(centre, np.float64)
        self.u = np.asarray(u, np.float64) / np.linalg.norm(u)
        self.v = np.asarray(v, np.float64) / np.linalg.norm(v)
        self.n = np.cross(self.u, self.v)
        self.d = float(self.n @ self.centre)
        self.half = half
        self.texture = texture

    def intersect(self, rays: np.ndarray) -> np.ndarray:
        """(M, 3) world ray directions from the origin -> (M,) ray parameter
        t of the hit (inf where the ray misses or hits behind)."""
        denom = rays @ self.n
        with np.errstate(divide='ignore', invalid='ignore'):
            t = self.d / denom
        ok = np.isfinite(t) & (t > 1e-9)
        if self.half is not None:
            rel = rays * t[:, None] - self.centre
            ok &= (np.abs(rel @ self.u) <= self.half[0]) & (
                np.abs(rel @ self.v) <= self.half[1])
        return np.where(ok, t, np.inf)

    def shade(self, points: np.ndarray, rays: np.ndarray) -> np.ndarray:
        """(M, 3) hit points -> (M, 3) RGB in [0, 1]."""
        rel = points - self.centre
        s, t = rel @ self.u, rel @ self.v
        kind, period, phase, c0, c1 = self.texture
        if kind == 'checker':
            f = (np.floor(s / period + phase) + np.floor(t / period)) % 2
        elif kind == 'stripes':
            f = (np.floor(s / period + phase) % 2)
        else:  # smooth waves
            f = 0.5 + 0.25 * (np.sin(2 * np.pi * (s / period + phase)) +
                              np.sin(2 * np.pi * t / (1.7 * period)))
        albedo = c0[None] + (c1 - c0)[None] * f[:, None]
        dist = np.linalg.norm(points, axis=1)
        cos = np.abs(rays @ self.n) / np.linalg.norm(rays, axis=1)
        light = (0.35 + 0.65 * cos) / (1. + (dist / 6.)**2)
        return albedo * light[:, None]


def _texture(rng: np.random.Generator):
    kind = ('checker', 'stripes', 'waves')[rng.integers(3)]
    c0, c1 = rng.uniform(0.15, 1., 3), rng.uniform(0.15, 1., 3)
    return kind, rng.uniform(0.12, 0.6), rng.uniform(0, 1), c0, c1


def make_scene(rng: np.random.Generator, max_objects: int = 5) -> List[Plane]:
    """A box room around the camera (at the origin) plus rectangles."""
    cam_h = rng.uniform(1.0, 1.6)                 # camera above the floor
    room_h = rng.uniform(2.4, 3.0)
    left, right = rng.uniform(1.5, 3.0), rng.uniform(1.5, 3.0)
    back, front = rng.uniform(4.0, 8.5), rng.uniform(0.5, 1.5)
    top = cam_h - room_h                          # ceiling (y down)
    ex, ey, ez = np.eye(3)
    planes = [
        Plane([0, cam_h, 0], ex, ez, texture=_texture(rng)),    # floor
        Plane([0, top, 0], ez, ex, texture=_texture(rng)),      # ceiling
        Plane([-left, 0, 0], ez, ey, texture=_texture(rng)),    # left wall
        Plane([right, 0, 0], ey, ez, texture=_texture(rng)),    # right wall
        Plane([0, 0, back], ey, ex, texture=_texture(rng)),     # back wall
        Plane([0, 0, -front], ex, ey, texture=_texture(rng)),   # behind
    ]
    for _ in range(rng.integers(2, max_objects + 1)):
        z = rng.uniform(1.0, back - 0.3)
        x = rng.uniform(-left + 0.2, right - 0.2)
        y = rng.uniform(top + 0.3, cam_h - 0.1)
        half = (rng.uniform(0.15, 0.8), rng.uniform(0.15, 0.8))
        kind = rng.integers(3)
        if kind == 0:    # fronto-parallel
            u, v = ex, ey
        elif kind == 1:  # turned about the vertical axis
            a = rng.uniform(-1.1, 1.1)
            u, v = np.array([np.cos(a), 0, np.sin(a)]), ey
        else:            # horizontal (table top)
            u, v = ex, ez
        planes.append(Plane([x, y, z], u, v, half, _texture(rng)))
    return planes


def render_scene(rng: np.random.Generator,
                 size: Tuple[int, int] = (480, 640),
                 focal: Optional[float] = None,
                 max_objects: int = 5,
                 hole_prob: float = 0.5
                 ) -> Tuple[np.ndarray, np.ndarray, dict]:
    """Render one scene.

    Args:
        rng: numpy Generator (all randomness comes from it).
        size: (H, W) pixels.
        focal: focal length in pixels; default ``0.81 * W`` (NYU's Kinect:
            518.9 px at 640).
        max_objects: most rectangles besides the room.
        hole_prob: probability of one elliptic hole of depth 0.

    Returns:
        image (H, W, 3) uint8 RGB, depth (H, W) float32 z-depth in metres
        (0 = no measurement), scene dict (``K`` 3x3, ``R`` camera-to-world,
        ``planes`` list of :class:`Plane` in world coordinates).
    """
    h, w = size
    f = 0.81 * w if focal is None else float(focal)
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.]])
    R = _rotation(rng.uniform(-0.15, 0.15), rng.uniform(-0.25, 0.25),
                  rng.uniform(-0.05, 0.05))
    planes = make_scene(rng, max_objects)
    vv, uu = np.mgrid[0:h, 0:w].astype(np.float64)
    cam_rays = np.stack([(uu - K[0, 2]) / f, (vv - K[1, 2]) / f,
                         np.ones_like(uu)], -1).reshape(-1, 3)  # z = 1
    rays = cam_rays @ R.T                                       # world
    ts = np.stack([p.intersect(rays) for p in planes])          # (P, M)
    idx = ts.argmin(0)
    t = ts[idx, np.arange(ts.shape[1])]
    assert np.isfinite(t).all(), 'a ray left the closed room'
    depth = t  # camera-frame ray has z = 1, so t is the z-depth
    points = rays * t[:, None]
    rgb = np.zeros_like(points)
    for i, p in enumerate(planes):
        sel = idx == i
        if sel.any():
            rgb[sel] = p.shade(points[sel], rays[sel])
    rgb = rgb.reshape(h, w, 3) + rng.normal(0, 0.015, (h, w, 3))
    image = np.clip(rgb * 255, 0, 255).round().astype(np.uint8)
    depth = depth.reshape(h, w).astype(np.float32)
    if rng.random() < hole_prob:
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.03, 0.12) * h, rng.uniform(0.03, 0.12) * w
        depth[((vv - cy) / ry)**2 + ((uu - cx) / rx)**2 <= 1] = 0
    return image, depth, dict(K=K, R=R, planes=planes)


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The Generator of image ``index`` of ``split``: independent of how many
    images are generated."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def generate_nyu_layout(root: str,
                        num_train: int = 16,
                        num_test: int = 4,
                        size: Tuple[int, int] = (480, 640),
                        seed: int = 0,
                        hole_prob: float = 0.5) -> str:
    """Write ``num_train``/``num_test`` scenes under ``root`` in NYU layout
    (skipped when a copy with the same settings exists). Returns ``root``."""
    import cv2
    spec = dict(version=VERSION, num_train=num_train, num_test=num_test,
                size=list(size), seed=seed, hole_prob=hole_prob)
    stamp = osp.join(root, 'spec.json')
    if osp.isfile(stamp):
        with open(stamp) as fh:
            if json.load(fh) == spec:
                return root
    for split, n in (('train', num_train), ('test', num_test)):
        img_dir = osp.join(root, 'images', split)
        ann_dir = osp.join(root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(n):
            image, depth, _ = render_scene(
                sample_rng(seed, split, i), tuple(size), hole_prob=hole_prob)
            name = f'scene_{i:05d}'
            cv2.imwrite(osp.join(img_dir, name + '.jpg'), image[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            mm = np.round(depth * DEPTH_SCALE).astype(np.uint16)
            cv2.imwrite(osp.join(ann_dir, name + '.png'), mm)
    with open(stamp, 'w') as fh:  # written last: a partial copy is redone
        json.dump(spec, fh)
    return root


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description='Generate plane-scene depth data in NYU layout.')
    parser.add_argument('root')
    parser.add_argument('--num-train', type=int, default=16)
    parser.add_argument('--num-test', type=int, default=4)
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640),
                        metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--hole-prob', type=float, default=0.5)
    args = parser.parse_args(argv)
    root = generate_nyu_layout(args.root, args.num_train, args.num_test,
                               tuple(args.size), args.seed, args.hole_prob)
    print(f'wrote {args.num_train} train / {args.num_test} test scenes of '
          f'{args.size[0]}x{args.size[1]} to {root}')


if __name__ == '__main__':
    main()
