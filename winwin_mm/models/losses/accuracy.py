"""Pixel accuracy without host-device syncs.

MMSegmentation's ``accuracy()`` drops ignored pixels with boolean-mask
indexing (``correct[:, target != ignore_index]``), which on a GPU runs
``nonzero`` and waits for the device; decode heads call it in every training
step. :func:`sync_free_accuracy` gives the same value from masked sums.
"""
from typing import Optional, Tuple, Union

import torch

EPS = torch.finfo(torch.float32).eps


def sync_free_accuracy(pred: torch.Tensor, target: torch.Tensor,
                       topk: Union[int, Tuple[int, ...]] = 1,
                       thresh: Optional[float] = None,
                       ignore_index: Optional[int] = None):
    """``mmseg.models.losses.accuracy`` (same arguments, same value, in
    percent, shape (1,)) with ignored pixels masked out instead of indexed
    away: no ``nonzero``, no host-device sync.

    Args:
        pred: (N, num_classes, ...) scores.
        target: (N, ...) labels.
        topk, thresh, ignore_index: as in mmseg's ``accuracy``.

    Returns:
        (1,) float32 tensor, or a list of them when ``topk`` is a tuple.
    """
    single = isinstance(topk, int)
    topk = (topk, ) if single else tuple(topk)
    if pred.size(0) == 0:
        accu = [pred.new_tensor(0.) for _ in topk]
        return accu[0] if single else accu
    if pred.ndim != target.ndim + 1 or pred.size(0) != target.size(0):
        raise ValueError(f'accuracy: pred {tuple(pred.shape)} must be '
                         f'(N, num_classes, ...) for target '
                         f'{tuple(target.shape)} (N, ...).')
    if max(topk) > pred.size(1):
        raise ValueError(f'accuracy: topk {max(topk)} exceeds the '
                         f'{pred.size(1)} classes of pred.')
    pred_value, pred_label = pred.topk(max(topk), dim=1)
    correct = pred_label.transpose(0, 1) == target.unsqueeze(0)  # (k, N, ..)
    if thresh is not None:
        correct = correct & (pred_value > thresh).transpose(0, 1)
    if ignore_index is not None:
        valid = target != ignore_index
        correct = correct & valid.unsqueeze(0)
        total = valid.sum(dtype=torch.float32) + EPS
    else:
        total = target.numel() + EPS
    res = []
    for k in topk:
        correct_k = correct[:k].sum(dtype=torch.float32).reshape(1) + EPS
        res.append(correct_k * (100.0 / total))
    return res[0] if single else res
