"""IoU with the per-class and per-position detail of the masking study."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmseg.evaluation import IoUMetric

from winwin_mm.registry import METRICS


def border_mask(hw, border: float) -> torch.Tensor:
    """(H, W) bool: True within ``border`` x H of the top/bottom edges or
    ``border`` x W of the left/right edges (at least one pixel)."""
    H, W = hw
    bh, bw = max(1, int(round(border * H))), max(1, int(round(border * W)))
    m = torch.zeros(H, W, dtype=torch.bool)
    m[:bh], m[-bh:], m[:, :bw], m[:, -bw:] = True, True, True, True
    return m


@METRICS.register_module()
class StudyIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` plus what the masking study compares.

    Adds to the returned metrics:

    * ``IoU.<class name>``: each class's IoU (%), NaN when the class is in
      neither the predictions nor the labels;
    * ``mIoU_border`` / ``mIoU_centre`` and ``err_border`` / ``err_centre``:
      mIoU and pixel error (100 - pixel accuracy, %) on the labelled pixels
      of the border band (within ``border`` of each side's length from the
      image edge) and of the rest of the image. Uniformly placed windows
      rarely touch the edges, so a gap here shows under-supervised borders.

    Args:
        border (float): band width as a fraction of the image height (top /
            bottom) and width (left / right). Default: 0.125.
        **kwargs: ``IoUMetric``'s arguments (``format_only`` is not
            supported: the study needs the labels).
    """

    def __init__(self, border: float = 0.125, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 < border < 0.5:
            raise ValueError(f'StudyIoUMetric border must be in (0, 0.5), '
                             f'got {border}.')
        if self.format_only:
            raise ValueError('StudyIoUMetric needs labels; use IoUMetric '
                             'with format_only=True to only save outputs.')
        self.border = border

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Each result: 12 per-class area tensors (whole image, border band,
        centre), the first 4 exactly ``IoUMetric``'s."""
        n = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze()
            label = sample['gt_sem_seg']['data'].squeeze().to(pred)
            band = border_mask(label.shape, self.border).to(label.device)
            parts = []
            for keep in (None, band, ~band):
                lab = label if keep is None else torch.where(
                    keep, label, torch.full_like(label, self.ignore_index))
                parts.extend(self.intersect_and_union(pred, lab, n,
                                                      self.ignore_index))
            self.results.append(tuple(parts))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics([r[:4] for r in results])
        names = self.dataset_meta['classes']
        cols = tuple(zip(*results))
        inter, union = sum(cols[0]), sum(cols[1])
        iou = (inter / union).cpu().numpy() * 100
        for name, v in zip(names, iou):
            metrics[f'IoU.{name}'] = float(np.round(v, 2))
        for tag, k in (('border', 4), ('centre', 8)):
            inter, union, label = sum(cols[k]), sum(cols[k + 1]), \
                sum(cols[k + 3])
            metrics[f'mIoU_{tag}'] = float(np.round(np.nanmean(
                (inter / union).cpu().numpy()) * 100, 2))
            metrics[f'err_{tag}'] = float(np.round(
                100 * (1 - float(inter.sum() / label.sum())), 2))
        return metrics
