"""Optical-flow accuracy: end-point error, outlier rates and KITTI's Fl."""
import logging
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from winwin_mm.registry import METRICS

# Sums kept per sample; the metrics are ratios of their dataset totals.
SUM_KEYS = ('num_valid', 'epe', '1px', '3px', '5px', 'Fl')
# printed names of the rates: '1px' alone reads as an accuracy in RAFT-style
# tools, here it is the outlier rate (error > 1 px, Spring's convention)
METRIC_NAMES = {'1px': '1px_outliers', '3px': '3px_outliers',
                '5px': '5px_outliers', 'Fl': 'Fl'}
MODES = ('standard', 'spring')


def _field(sample: Any, name: str) -> Optional[torch.Tensor]:
    """``sample[name]['data']`` of a data sample given as dict or element."""
    field = sample.get(name) if isinstance(sample, dict) else getattr(
        sample, name, None)
    if field is None:
        return None
    data = field['data'] if isinstance(field, dict) else field.data
    return torch.as_tensor(data)


def flow_error_sums(pred: torch.Tensor,
                    gt: torch.Tensor,
                    valid: Optional[torch.Tensor] = None,
                    mode: str = 'standard') -> Dict[str, float]:
    """Sums of per-pixel errors of one flow field.

    Args:
        pred: (2, h, w) predicted flow. Extra rows/columns at the bottom or
            right (padding) are cropped away.
        gt: (2, H, W) ground truth. ``H, W = h, w`` in ``'standard'`` mode and
            ``2h, 2w`` in ``'spring'`` mode.
        valid: (H, W) or (1, H, W) mask (> 0.5 is valid), optional.
        mode: ``'standard'`` or ``'spring'`` (see :class:`FlowMetric`).

    Returns:
        dict: ``num_valid`` (valid pixels), ``epe`` (sum of end-point
        errors), ``1px``/``3px``/``5px`` (number of pixels with error above
        1/3/5 px) and ``Fl`` (number of KITTI outliers).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    gt = gt.double()
    valid_gt = torch.isfinite(gt).all(dim=0)
    if valid is not None:
        valid_gt &= valid.reshape(gt.shape[-2:]) > 0.5
    k = 2 if mode == 'spring' else 1
    if gt.shape[-2] % k or gt.shape[-1] % k:
        raise ValueError(f'spring mode needs an even-sized ground truth, '
                         f'got {tuple(gt.shape)}')
    h, w = gt.shape[-2] // k, gt.shape[-1] // k
    if pred.shape[-2] < h or pred.shape[-1] < w:
        raise ValueError(f'prediction {tuple(pred.shape)} is smaller than '
                         f'the ground truth ({h}, {w}) it is compared with '
                         f'(mode {mode!r})')
    pred = pred[:, :h, :w].double()
    # (k*k, 2, h, w): the GT vectors each prediction pixel is compared with.
    cands = gt.reshape(2, h, k, w, k).permute(2, 4, 0, 1,
                                              3).reshape(k * k, 2, h, w)
    cand_valid = valid_gt.reshape(h, k, w, k).permute(1, 3, 0,
                                                      2).reshape(k * k, h, w)
    mask = cand_valid.all(dim=0)
    cands = torch.where(cand_valid[:, None], cands, torch.zeros_like(cands))
    epe = (cands - pred[None]).norm(dim=1).min(dim=0).values[mask]
    gt_mag = cands.norm(dim=1).max(dim=0).values[mask]
    return {
        'num_valid': float(mask.sum()),
        'epe': float(epe.sum()),
        '1px': float((epe > 1).sum()),
        '3px': float((epe > 3).sum()),
        '5px': float((epe > 5).sum()),
        'Fl': float(((epe > 3) & (epe > 0.05 * gt_mag)).sum()),
    }


def flow_metrics_from_sums(totals: Dict[str, float]) -> Dict[str, float]:
    """``EPE`` (px) and the rates in % (``1px_outliers``, ``3px_outliers``,
    ``5px_outliers``, ``Fl``) from :func:`flow_error_sums` (of one field or
    summed over a dataset); all ``nan`` without a valid pixel."""
    n = totals['num_valid']
    if n == 0:
        return {k: float('nan') for k in ('EPE', *METRIC_NAMES.values())}
    metrics = {'EPE': float(totals['epe'] / n)}
    for key, name in METRIC_NAMES.items():
        metrics[name] = float(100.0 * totals[key] / n)
    return metrics


@METRICS.register_module()
class FlowMetric(BaseMetric):
    """End-point error, outlier rates and Fl over a whole dataset.

    Keys (no prefix unless ``prefix`` is given): ``EPE`` (mean end-point
    error in px), ``1px_outliers``, ``3px_outliers``, ``5px_outliers`` (%
    of pixels with error > 1, 3, 5 px: outlier rates, Spring's ``1px``
    convention, not the accuracy (% below) that RAFT-style tools print as
    ``1px``) and ``Fl`` (% of KITTI outliers: error > 3 px **and** > 5 % of the
    ground-truth magnitude).

    **Pixel-weighted dataset figures.** Every figure is a ratio of sums over
    *all valid pixels of the dataset* (each pixel counts once, whatever its
    image). MMFlow instead averages per-batch/per-image values, which weighs
    an image with few valid pixels (sparse KITTI) as much as a dense one;
    its numbers can therefore differ from ours on datasets whose images
    differ in valid-pixel count. The KITTI and Spring benchmarks count
    pixels the way we do.

    A pixel is valid when its ground truth is finite and ``gt_valid_fw`` (if
    present) is > 0.5.

    **Spring mode** (``mode='spring'``): the ground truth has twice the
    resolution of the prediction (Spring: images 1920x1080, ground truth
    3840x2160, flow in image pixels). Following the official Spring
    evaluation (Mehl et al., "Spring: A High-Resolution High-Detail Dataset
    and Benchmark for Scene Flow, Optical Flow and Stereo", CVPR 2023;
    evaluation code of https://spring-benchmark.org in
    github.com/cv-stuttgart/springwebsite, ``subsampling/create_evalfiles.py``
    and ``springeval/management/commands/evaluation.py``), prediction pixel
    ``(i, j)`` is compared with the four ground-truth vectors
    ``gt[2i + a, 2j + b]``, ``a, b`` in {0, 1}:

    * its error is the **minimum** of the four end-point errors,
      ``e = min_k |gt_k - pred|``;
    * it is counted only if all four ground-truth vectors are valid (the
      official code computes ``np.min`` over values containing NaN, so one
      invalid vector makes the pixel NaN and excluded);
    * ``EPE`` is the mean of ``e``; ``1px`` the % of pixels with ``e > 1``;
      ``Fl`` the % with ``e > 3`` and ``e > 0.05 * max_k |gt_k|`` (the
      largest of the four magnitudes). ``3px`` and ``5px`` (not Spring
      metrics) use the same ``e``.

    The leaderboard evaluates a fixed subsample of the test pixels (plus
    full "hero" frames); on the full train/val frames we evaluate all
    pixels.

    Args:
        mode (str): ``'standard'`` (ground truth at prediction resolution)
            or ``'spring'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): prefix of the metric names.

    ``process`` reads ``data_sample['pred_flow_fw']['data']`` (2, h, w),
    ``['gt_flow_fw']['data']`` (2, H, W) and, optionally,
    ``['gt_valid_fw']['data']`` (1, H, W).
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 mode: str = 'standard',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.mode = mode

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        for sample in data_samples:
            pred = _field(sample, 'pred_flow_fw')
            gt = _field(sample, 'gt_flow_fw')
            if pred is None or gt is None:
                raise KeyError('FlowMetric needs pred_flow_fw and gt_flow_fw '
                               'in every data sample')
            valid = _field(sample, 'gt_valid_fw')
            if valid is not None:
                valid = valid.detach().cpu()
            self.results.append(
                flow_error_sums(pred.detach().cpu(),
                                gt.detach().cpu(), valid, self.mode))

    def compute_metrics(self, results: List[Dict[str, float]]) -> Dict:
        totals = {k: sum(r[k] for r in results) for k in SUM_KEYS}
        if totals['num_valid'] == 0:
            print_log('FlowMetric: no valid ground-truth pixel', 'current',
                      logging.WARNING)
        return flow_metrics_from_sums(totals)
