"""FlyingChairs-style frame pairs generated on the fly, with exact flow.

A pair is a textured background plus a few textured objects (ellipses and
rotated rectangles), each layer moved by its own random affine motion
``A`` (translation, rotation, scale, about a random centre). Frame 1 shows
every layer at its place; frame 2 shows every layer moved: its pixel ``q``
samples the layer's texture and shape at ``A^-1(q)``. The ground truth of
frame-1 pixel ``p`` is ``A_k(p) - p`` for the topmost layer ``k`` covering
``p``, exact by construction (occluded pixels keep their true motion, as in
FlyingChairs). Used by ``tests/test_flow_training.py`` and by the CPU demo
config ``configs/winwin_vitti_flow_demo.py``.

``import winwin_mm`` registers :class:`SyntheticFlowDataset`.
"""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from winwin_mm.registry import DATASETS


def random_texture(rng: np.random.Generator, hw: Tuple[int, int],
                   scales: Sequence[int] = (2, 4, 8, 16)) -> np.ndarray:
    """Multi-scale coloured noise, (H, W, 3) float32 in [0, 255]."""
    h, w = hw
    tex = np.zeros((h, w, 3), np.float32)
    for s in scales:
        small = rng.standard_normal(
            (max(2, h // s + 2), max(2, w // s + 2), 3)).astype(np.float32)
        tex += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    tex = tex @ rng.uniform(-1, 1, (3, 3)).astype(np.float32)  # mix colours
    tex -= tex.min()
    tex *= 255 / max(float(tex.max()), 1e-6)
    return tex


def random_affine(rng: np.random.Generator, hw: Tuple[int, int],
                  max_translation: float, max_rotation: float,
                  max_log_scale: float,
                  translation_step: Optional[float] = None) -> np.ndarray:
    """A 2x3 matrix mapping frame-1 pixel ``(x, y, 1)`` to frame 2: rotation
    (degrees) and scale about a random centre, then a translation (rounded
    to a multiple of ``translation_step`` pixels when given)."""
    h, w = hw
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(-max_rotation, max_rotation)
    scale = float(np.exp(rng.uniform(-max_log_scale, max_log_scale)))
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    shift = rng.uniform(-max_translation, max_translation, 2)
    if translation_step:
        shift = np.round(shift / translation_step) * translation_step
    m[:, 2] += shift
    return m.astype(np.float64)


def _apply(m: np.ndarray, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray,
                                                                  np.ndarray]:
    return (m[0, 0] * x + m[0, 1] * y + m[0, 2],
            m[1, 0] * x + m[1, 1] * y + m[1, 2])


def _shape_mask(shape: Dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inside test of an ellipse or rotated rectangle at coordinates x, y."""
    c, s = np.cos(shape['theta']), np.sin(shape['theta'])
    dx, dy = x - shape['cx'], y - shape['cy']
    u, v = (c * dx + s * dy) / shape['a'], (-s * dx + c * dy) / shape['b']
    if shape['kind'] == 'ellipse':
        return u * u + v * v <= 1
    return (np.abs(u) <= 1) & (np.abs(v) <= 1)


def generate_pair(rng: np.random.Generator,
                  size: Tuple[int, int] = (64, 96),
                  num_objects: Tuple[int, int] = (2, 4),
                  bg_motion: Tuple[float, float, float] = (4., 3., 0.05),
                  obj_motion: Tuple[float, float, float] = (8., 10., 0.1),
                  obj_size: Tuple[float, float] = (0.12, 0.35),
                  texture_scales: Sequence[int] = (2, 4, 8, 16),
                  translation_step: Optional[float] = None
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pair with its exact forward flow.

    Args:
        rng: numpy Generator (the pair is a function of its state).
        size: (H, W) of the frames.
        num_objects: inclusive range of the number of objects.
        bg_motion, obj_motion: (max translation px, max rotation degrees,
            max |log scale|) of the background / of each object.
        obj_size: range of an object's half-axes, as fractions of min(H, W).
        texture_scales: feature sizes (px) of the noise summed into a
            texture; larger scales give smoother textures.
        translation_step: round every translation to a multiple of this
            many pixels (e.g. the patch size); None: continuous.

    Returns:
        tuple: img1, img2 (H, W, 3) uint8 RGB and flow (H, W, 2) float32
        ``(u, v)`` from frame 1 to frame 2, valid everywhere.
    """
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    layers = []
    bg = dict(tex=random_texture(rng, (h, w), texture_scales),
              m=random_affine(rng, (h, w), *bg_motion, translation_step),
              shape=None)
    layers.append(bg)
    side = min(h, w)
    for _ in range(rng.integers(num_objects[0], num_objects[1] + 1)):
        shape = dict(kind=('ellipse', 'rect')[rng.integers(2)],
                     cx=rng.uniform(0, w), cy=rng.uniform(0, h),
                     a=rng.uniform(*obj_size) * side,
                     b=rng.uniform(*obj_size) * side,
                     theta=rng.uniform(0, np.pi))
        layers.append(dict(tex=random_texture(rng, (h, w), texture_scales),
                           m=random_affine(rng, (h, w), *obj_motion,
                                           translation_step),
                           shape=shape))
    img1 = np.zeros((h, w, 3), np.float32)
    img2 = np.zeros((h, w, 3), np.float32)
    flow = np.zeros((h, w, 2), np.float64)
    for layer in layers:
        m = layer['m']
        inv = cv2.invertAffineTransform(m)
        # frame 1: the texture in place
        inside1 = np.ones((h, w), bool) if layer['shape'] is None else \
            _shape_mask(layer['shape'], xs, ys)
        img1[inside1] = layer['tex'][inside1]
        x2, y2 = _apply(m, xs, ys)
        flow[inside1, 0] = (x2 - xs)[inside1]
        flow[inside1, 1] = (y2 - ys)[inside1]
        # frame 2: pixel q shows the layer at A^-1(q)
        sx, sy = _apply(inv, xs, ys)
        warped = cv2.remap(layer['tex'], sx.astype(np.float32),
                           sy.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT101)
        inside2 = np.ones((h, w), bool) if layer['shape'] is None else \
            _shape_mask(layer['shape'], sx, sy)
        img2[inside2] = warped[inside2]
    to_u8 = lambda im: np.clip(np.rint(im), 0, 255).astype(np.uint8)  # noqa
    return to_u8(img1), to_u8(img2), flow.astype(np.float32)


GENERATORS = dict(layers=generate_pair)


@DATASETS.register_module()
class SyntheticFlowDataset(BaseDataset):
    """Generated FlyingChairs-style pairs (see :func:`generate_pair`).

    Sample ``i`` is a deterministic function of ``(seed, i)``: use different
    seeds for training and held-out data. Each data info already holds the
    frames and the ground truth, so the pipeline starts *after*
    ``LoadFlowPair`` (e.g. ``FlowRandomFlip``, ``RandomWindows``,
    ``PackFlowInputs``).

    Args:
        num_samples (int): length of the dataset. Default: 1000.
        img_size (tuple): (H, W). Default: (64, 96).
        seed (int): base seed. Default: 0.
        kind (str): ``'layers'`` (:func:`generate_pair`, FlyingChairs-style;
            the only generator).
        generator (dict, optional): other arguments of the generator.
        pipeline (list): transforms.
        test_mode (bool): passed to ``BaseDataset``.
    """

    def __init__(self,
                 num_samples: int = 1000,
                 img_size: Tuple[int, int] = (64, 96),
                 seed: int = 0,
                 kind: str = 'layers',
                 generator: Optional[dict] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        self.num_samples = int(num_samples)
        self.img_size = tuple(img_size)
        self.seed = int(seed)
        if kind not in GENERATORS:
            raise ValueError(f'kind must be one of {sorted(GENERATORS)}, got '
                             f'{kind!r}')
        self.kind = kind
        self.generator = dict(generator or {})
        super().__init__(pipeline=list(pipeline), test_mode=test_mode,
                         serialize_data=False, **kwargs)

    def load_data_list(self):
        return [dict(sample_idx=i) for i in range(self.num_samples)]

    def get_data_info(self, idx: int) -> dict:
        info = dict(super().get_data_info(idx))
        rng = np.random.default_rng((self.seed, info['sample_idx']))
        img1, img2, flow = GENERATORS[self.kind](rng, self.img_size,
                                                 **self.generator)
        name = f'synthetic_{self.seed}_{info["sample_idx"]:06d}'
        info.update(img1=img1, img2=img2, gt_flow_fw=flow,
                    gt_valid_fw=np.ones(flow.shape[:2], np.float32),
                    img_shape=img1.shape[:2], ori_shape=img1.shape[:2],
                    sparse=False, img1_path=name + '_img1',
                    img2_path=name + '_img2')
        return info
