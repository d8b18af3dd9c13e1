"""Data pipeline of the optical-flow task: loading, RAFT-style augmentation
and packing (MMFlow 1.x conventions).

Keys used in ``results``:

* ``img1``, ``img2``: (H, W, 3) uint8 RGB frames;
* ``gt_flow_fw``: (H, W, 2) float32 ``(u, v)`` forward flow in pixels;
* ``gt_valid_fw``: (H, W) float32 in {0, 1};
* ``sparse`` (bool): sparse ground truth (KITTI, HD1K);
* ``img_shape``: (H, W) of the current frames. **Every geometric transform
  here updates it**, so that a later ``RandomWindows`` places its windows on
  the final image.

The augmentations follow the recipe of RAFT (Teed and Deng, ECCV 2020),
re-implemented from its description: random log-uniform scale with random
stretch, horizontal/vertical flips, colour jitter applied to both frames
alike or (with some probability) independently, random crop.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from winwin_mm.registry import TRANSFORMS
from winwin_mm.structures import FlowDataSample
from .flow_io import FlowFileError, gt_scale_factor, read_flow, read_image

FRAME_KEYS = ('img1', 'img2')
GT_KEYS = ('gt_flow_fw', 'gt_valid_fw')
DEFAULT_META_KEYS = ('img1_path', 'img2_path', 'ori_shape', 'img_shape',
                     'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                     'window_boxes', 'window_patch_size')


def _check_gt_aligned(results: dict, transform: str) -> None:
    """Geometric transforms need the ground truth at image resolution."""
    flow = results.get('gt_flow_fw')
    if flow is not None and flow.shape[:2] != results['img1'].shape[:2]:
        raise ValueError(
            f'{transform}: ground truth {flow.shape[:2]} is not at the image '
            f'resolution {results["img1"].shape[:2]}; use '
            "LoadFlowPair(highres_gt='subsample') before geometric "
            'transforms.')


@TRANSFORMS.register_module()
class LoadFlowPair(BaseTransform):
    """Read the two frames and, when there is one, the forward flow.

    Required keys: ``img1_path``, ``img2_path``; optional ``flow_fw_path``
    (None: no ground truth), ``sparse``.

    Added keys: ``img1``, ``img2`` (H, W, 3) uint8 RGB (grey frames are
    replicated to 3 channels), ``gt_flow_fw`` (H, W, 2) float32,
    ``gt_valid_fw`` (H, W) float32, ``img_shape`` and ``ori_shape`` (H, W),
    ``sparse`` (default False).

    Args:
        highres_gt (str): what to do with ground truth at an integer multiple
            ``k`` of the image resolution (Spring: ``k = 2``):
            ``'subsample'`` keeps every k-th pixel (``gt[::k, ::k]``, as the
            Spring devkit does) so that it matches the frames; ``'keep'``
            leaves it at full resolution, for ``FlowMetric(mode='spring')``
            (no geometric transform may follow).
    """

    def __init__(self, highres_gt: str = 'subsample') -> None:
        if highres_gt not in ('subsample', 'keep'):
            raise ValueError("highres_gt must be 'subsample' or 'keep', got "
                             f'{highres_gt!r}')
        self.highres_gt = highres_gt

    def _match_resolution(self, path: str, flow: np.ndarray, valid: np.ndarray,
                          img_hw: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
        k = gt_scale_factor(flow.shape, img_hw)
        if k is None:
            (fh, fw), (h, w) = flow.shape[:2], img_hw
            raise FlowFileError(
                path, f'ground truth is {fh}x{fw} but the frames are {h}x{w}')
        if k == 1 or self.highres_gt == 'keep':
            return flow, valid
        return (np.ascontiguousarray(flow[::k, ::k]),
                np.ascontiguousarray(valid[::k, ::k]))

    def transform(self, results: dict) -> dict:
        img1 = read_image(results['img1_path'])
        img2 = read_image(results['img2_path'])
        if img1.shape != img2.shape:
            raise FlowFileError(
                results['img2_path'],
                f'frame size {img2.shape[:2]} differs from frame 1 '
                f'{img1.shape[:2]} ({results["img1_path"]})')
        hw = img1.shape[:2]
        results.update(img1=img1, img2=img2, img_shape=hw, ori_shape=hw)
        results.setdefault('sparse', False)
        path = results.get('flow_fw_path')
        if path is not None:
            flow, valid = self._match_resolution(path, *read_flow(path), hw)
            results['gt_flow_fw'] = flow
            results['gt_valid_fw'] = valid.astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(highres_gt={self.highres_gt!r})'


def resize_dense_flow(flow: np.ndarray, valid: np.ndarray,
                      out_hw: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
    """Resize a dense flow (bilinear) and its mask (nearest).

    Args:
        flow: (H, W, 2); valid: (H, W).
        out_hw: (H', W').

    Returns:
        tuple: (H', W', 2) flow multiplied by ``(W'/W, H'/H)`` and the
        (H', W') mask.
    """
    (h, w), (oh, ow) = flow.shape[:2], out_hw
    flow = cv2.resize(flow, (ow, oh), interpolation=cv2.INTER_LINEAR)
    flow *= np.array([ow / w, oh / h], np.float32)
    valid = cv2.resize(valid, (ow, oh), interpolation=cv2.INTER_NEAREST)
    return flow, valid


def resize_sparse_flow(flow: np.ndarray, valid: np.ndarray,
                       out_hw: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
    """Resize a sparse flow by moving each valid sample, not interpolating.

    A valid pixel ``(x, y)`` goes to the nearest pixel of
    ``((x + 0.5) * fx - 0.5, (y + 0.5) * fy - 0.5)`` (the pixel-centre
    mapping that ``cv2.resize`` uses for the frames), with its flow
    multiplied by ``(fx, fy) = (W'/W, H'/H)``. When samples collide (down
    scaling) one of them is kept.

    Args:
        flow: (H, W, 2); valid: (H, W).
        out_hw: (H', W').

    Returns:
        tuple: (H', W', 2) float32 flow and (H', W') float32 mask.
    """
    (h, w), (oh, ow) = flow.shape[:2], out_hw
    fx, fy = ow / w, oh / h
    ys, xs = np.nonzero(valid > 0)
    new_x = np.rint((xs + 0.5) * fx - 0.5).astype(np.int64)
    new_y = np.rint((ys + 0.5) * fy - 0.5).astype(np.int64)
    inside = (new_x >= 0) & (new_x < ow) & (new_y >= 0) & (new_y < oh)
    out_flow = np.zeros((oh, ow, 2), np.float32)
    out_valid = np.zeros((oh, ow), np.float32)
    new_y, new_x = new_y[inside], new_x[inside]
    out_flow[new_y, new_x] = flow[ys[inside], xs[inside]] * np.array(
        [fx, fy], np.float32)
    out_valid[new_y, new_x] = 1
    return out_flow, out_valid


@TRANSFORMS.register_module()
class FlowRandomScale(BaseTransform):
    """Random rescale with random stretch (RAFT's spatial augmentation).

    With probability ``prob``: ``s = 2**U(*log2_scale_range)``; with
    probability ``stretch_prob`` the two axes are further multiplied by
    independent ``2**U(-max_stretch, max_stretch)``; each factor is raised to
    at least ``(crop side + margin) / image side`` so that a following
    ``FlowRandomCrop(crop_size)`` fits. Frames are resized bilinearly; dense
    ground truth is resized bilinearly and multiplied by the actual factors;
    sparse ground truth (``results['sparse']``) is rescaled with
    :func:`resize_sparse_flow`.

    Modified keys: ``img1``, ``img2``, ``gt_flow_fw``, ``gt_valid_fw``,
    ``img_shape``, ``scale_factor`` (``(fx, fy)``, accumulated).
    """

    def __init__(self,
                 log2_scale_range: Tuple[float, float] = (-0.2, 0.5),
                 prob: float = 0.8,
                 stretch_prob: float = 0.8,
                 max_stretch: float = 0.2,
                 crop_size: Optional[Tuple[int, int]] = None,
                 margin: int = 8) -> None:
        self.log2_scale_range = tuple(log2_scale_range)
        self.prob = prob
        self.stretch_prob = stretch_prob
        self.max_stretch = max_stretch
        self.crop_size = crop_size
        self.margin = margin

    def _sample_factors(self, hw: Tuple[int, int]) -> Tuple[float, float]:
        scale = 2.0**np.random.uniform(*self.log2_scale_range)
        fx = fy = scale
        if np.random.rand() < self.stretch_prob:
            fx *= 2.0**np.random.uniform(-self.max_stretch, self.max_stretch)
            fy *= 2.0**np.random.uniform(-self.max_stretch, self.max_stretch)
        if self.crop_size is not None:
            low = max((self.crop_size[0] + self.margin) / hw[0],
                      (self.crop_size[1] + self.margin) / hw[1])
            fx, fy = max(fx, low), max(fy, low)
        return fx, fy

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        _check_gt_aligned(results, type(self).__name__)
        h, w = results['img1'].shape[:2]
        fx, fy = self._sample_factors((h, w))
        oh, ow = max(1, int(round(h * fy))), max(1, int(round(w * fx)))
        for key in FRAME_KEYS:
            results[key] = cv2.resize(
                results[key], (ow, oh), interpolation=cv2.INTER_LINEAR)
        if 'gt_flow_fw' in results:
            resize = resize_sparse_flow if results.get('sparse') \
                else resize_dense_flow
            results['gt_flow_fw'], results['gt_valid_fw'] = resize(
                results['gt_flow_fw'], results['gt_valid_fw'], (oh, ow))
        prev = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (prev[0] * ow / w, prev[1] * oh / h)
        results['img_shape'] = (oh, ow)
        return results


@TRANSFORMS.register_module()
class FlowRandomFlip(BaseTransform):
    """Random flips of both frames and the flow.

    Each direction is drawn independently with its probability. A
    horizontal flip mirrors x and negates ``u``; a vertical flip mirrors y
    and negates ``v`` (if ``x2 = x1 + u`` then ``(W-1-x2) = (W-1-x1) - u``).

    Args:
        prob (float or sequence): probability per direction.
        direction (str or sequence): ``'horizontal'`` and/or
            ``'vertical'``. Default: RAFT's 0.5 horizontal, 0.1 vertical.

    Added keys: ``flip`` (bool), ``flip_direction`` (``'horizontal'``,
    ``'vertical'``, ``'diagonal'`` for both, or None).
    """

    AXES = dict(horizontal=1, vertical=0)

    def __init__(
        self,
        prob: Union[float, Sequence[float]] = (0.5, 0.1),
        direction: Union[str, Sequence[str]] = ('horizontal', 'vertical')
    ) -> None:
        directions = (direction, ) if isinstance(direction, str) \
            else tuple(direction)
        probs = (prob, ) * len(directions) if isinstance(prob, (int, float)) \
            else tuple(prob)
        if len(probs) != len(directions) or not set(directions) <= set(
                self.AXES):
            raise ValueError(f'invalid flip directions {directions} / '
                             f'probabilities {probs}')
        self.directions = directions
        self.probs = probs

    @staticmethod
    def flip(results: dict, direction: str) -> None:
        """Flip frames and ground truth in place along ``direction``."""
        axis = FlowRandomFlip.AXES[direction]
        for key in FRAME_KEYS + GT_KEYS:
            if key in results:
                results[key] = np.ascontiguousarray(
                    np.flip(results[key], axis))
        if 'gt_flow_fw' in results:
            # component 0 (u) changes sign under a horizontal flip (axis 1).
            results['gt_flow_fw'][..., 1 - axis] *= -1

    def transform(self, results: dict) -> dict:
        _check_gt_aligned(results, type(self).__name__)
        done = [
            d for d, p in zip(self.directions, self.probs)
            if np.random.rand() < p
        ]
        for direction in done:
            self.flip(results, direction)
        results['flip'] = bool(done)
        results['flip_direction'] = (None if not done else
                                     done[0] if len(done) == 1 else 'diagonal')
        return results


@TRANSFORMS.register_module()
class FlowColorJitter(BaseTransform):
    """Photometric jitter of the two frames (brightness, contrast,
    saturation, hue, in random order).

    With probability ``asymmetric_prob`` each frame gets its own random
    parameters; otherwise both frames get the same ones.

    Args:
        brightness, contrast, saturation (float): factors drawn from
            ``U(max(0, 1 - x), 1 + x)``.
        hue (float): shift drawn from ``U(-hue, hue)`` in turns of the hue
            circle (at most 0.5).
        asymmetric_prob (float): probability of independent parameters.
    """

    OPS = ('brightness', 'contrast', 'saturation', 'hue')
    GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)

    def __init__(self,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.4,
                 hue: float = 0.5 / 3.14,
                 asymmetric_prob: float = 0.2) -> None:
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        self.ranges = dict(
            brightness=(max(0., 1 - brightness), 1 + brightness),
            contrast=(max(0., 1 - contrast), 1 + contrast),
            saturation=(max(0., 1 - saturation), 1 + saturation),
            hue=(-hue, hue))
        self.asymmetric_prob = asymmetric_prob

    def sample_params(self) -> Dict:
        """Random factors and a random order of the four operations."""
        params = {k: np.random.uniform(*r) for k, r in self.ranges.items()}
        params['order'] = [self.OPS[i] for i in np.random.permutation(4)]
        return params

    def _grey(self, img: np.ndarray) -> np.ndarray:
        return img @ self.GREY_WEIGHTS

    def apply(self, img: np.ndarray, params: Dict) -> np.ndarray:
        """Jitter one (H, W, 3) uint8 RGB frame."""
        out = img.astype(np.float32)
        for op in params['order']:
            factor = params[op]
            if op == 'brightness':
                out = out * factor
            elif op == 'contrast':
                mean = self._grey(out).mean()
                out = (out - mean) * factor + mean
            elif op == 'saturation':
                grey = self._grey(out)[..., None]
                out = (out - grey) * factor + grey
            elif factor != 0:  # hue: rotate H of HSV (degrees for float)
                hsv = cv2.cvtColor(
                    np.clip(out, 0, 255) / 255, cv2.COLOR_RGB2HSV)
                hsv[..., 0] = (hsv[..., 0] + 360 * factor) % 360
                out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255
            out = np.clip(out, 0, 255)
        return np.rint(out).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        params = self.sample_params()
        asymmetric = np.random.rand() < self.asymmetric_prob
        for i, key in enumerate(FRAME_KEYS):
            if asymmetric and i > 0:
                params = self.sample_params()
            results[key] = self.apply(results[key], params)
        return results


@TRANSFORMS.register_module()
class FlowRandomCrop(BaseTransform):
    """Crop both frames and the ground truth at the same random place.

    Args:
        crop_size (tuple): (h, w). An image smaller than that along a side is
            kept whole along that side (as MMSegmentation's ``RandomCrop``);
            put ``FlowRandomScale(crop_size=...)`` before to avoid it.

    Modified keys: ``img1``, ``img2``, ``gt_flow_fw``, ``gt_valid_fw``,
    ``img_shape``; added ``crop_bbox`` ``(y0, x0, y1, x1)``.
    """

    def __init__(self, crop_size: Tuple[int, int]) -> None:
        self.crop_size = tuple(crop_size)

    def transform(self, results: dict) -> dict:
        _check_gt_aligned(results, type(self).__name__)
        h, w = results['img1'].shape[:2]
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        y0 = np.random.randint(0, h - ch + 1)
        x0 = np.random.randint(0, w - cw + 1)
        for key in FRAME_KEYS + GT_KEYS:
            if key in results:
                results[key] = np.ascontiguousarray(results[key][y0:y0 + ch,
                                                                 x0:x0 + cw])
        results['crop_bbox'] = (y0, x0, y0 + ch, x0 + cw)
        results['img_shape'] = (ch, cw)
        return results


@TRANSFORMS.register_module()
class PackFlowInputs(BaseTransform):
    """Pack a frame pair for the model.

    Returns:
        dict: ``inputs``: (6, H, W) uint8 tensor, frame 1 RGB then frame 2
        RGB; ``data_samples``: :class:`FlowDataSample` with ``gt_flow_fw``
        (2, H, W) and ``gt_valid_fw`` (1, H, W) when there is ground truth,
        and the ``meta_keys`` present in ``results`` as metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        pair = np.concatenate([results[k] for k in FRAME_KEYS], axis=2)
        inputs = torch.from_numpy(
            np.ascontiguousarray(pair.transpose(2, 0, 1)))
        sample = FlowDataSample()
        if 'gt_flow_fw' in results:
            flow = results['gt_flow_fw'].transpose(2, 0, 1)
            sample.gt_flow_fw = PixelData(
                data=torch.from_numpy(np.ascontiguousarray(flow, np.float32)))
            valid = results['gt_valid_fw'][None].astype(np.float32)
            sample.gt_valid_fw = PixelData(data=torch.from_numpy(valid))
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
