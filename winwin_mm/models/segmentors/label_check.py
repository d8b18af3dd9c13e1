"""Label-range check of a training batch that does not stall the device.

On the CPU the check reads its result at once and names the bad values. On
a GPU ``bool(bad.any())`` would wait for the whole queued step; instead
the bad pixels are set to ``ignore_index`` on the device (so that the loss
cannot hit a device-side assert first), a per-sample summary (any bad, min,
max) is copied to pinned host memory without blocking, an event is
recorded, and the summary is read at a later step once the event has
completed (never waiting for it), at the latest before validation
(``poll(wait=True)``). The error names the label file, the value range and
the fix.
"""
from typing import List, Optional, Sequence

import torch

FIX = ('Fix: set num_classes to the dataset\'s class count, or map these '
       'values (dataset label_map / reduce_zero_label / ignore_index).')


class LabelRangeCheck:
    """Checks that labels are in ``[0, num_classes)`` or ``ignore_index``.

    Args:
        deferred (bool, optional): the non-blocking mode of the module
            docstring; default (None): on for labels off the CPU.

    Call it with the batch's data samples (``gt_sem_seg.data`` (1, H, W)).
    """

    def __init__(self, deferred: Optional[bool] = None) -> None:
        self.deferred = deferred
        self._pending: List[tuple] = []

    @staticmethod
    def _bad(seg: torch.Tensor, num_classes: int,
             ignore_index: int) -> torch.Tensor:
        return ((seg < 0) | (seg >= num_classes)) & (seg != ignore_index)

    def __call__(self, data_samples: Sequence, num_classes: int,
                 ignore_index: int) -> None:
        """Check a batch; raise for this batch (immediate mode) or for an
        earlier one whose summary has arrived (deferred mode)."""
        self.poll()
        segs = [s.gt_sem_seg.data for s in data_samples]
        deferred = self.deferred
        if deferred is None:
            deferred = any(s.device.type != 'cpu' for s in segs)
        if not deferred:
            for sample, seg in zip(data_samples, segs):
                bad = self._bad(seg, num_classes, ignore_index)
                if bool(bad.any()):  # CPU tensor: no device sync
                    values = torch.unique(seg[bad]).tolist()[:10]
                    raise ValueError(
                        f'{_path(sample)}: label values {values} are outside'
                        f' [0, {num_classes}) and are not ignore_index='
                        f'{ignore_index}. {FIX}')
            return
        rows = []
        for seg in segs:
            bad = self._bad(seg, num_classes, ignore_index)
            rows.append(torch.stack((bad.any().long(), seg.min().long(),
                                     seg.max().long())))
            seg.masked_fill_(bad, ignore_index)  # the loss ignores them
        summary = torch.stack(rows)  # (B, 3): any bad, min, max
        event = None
        if summary.device.type != 'cpu':
            host = torch.empty(summary.shape, dtype=summary.dtype,
                               pin_memory=True)
            host.copy_(summary, non_blocking=True)
            event = torch.Event(device=summary.device)
            event.record()
            summary = host
        self._pending.append((event, summary,
                              [_path(s) for s in data_samples], num_classes,
                              ignore_index))

    def poll(self, wait: bool = False) -> None:
        """Raise for the first pending batch with bad labels whose summary
        has arrived (``wait=True``: wait for all of them)."""
        while self._pending:
            event = self._pending[0][0]
            if event is not None and not wait and not event.query():
                return
            if event is not None:
                event.synchronize()
            _, summary, paths, n, ignore = self._pending.pop(0)
            for (bad, lo, hi), path in zip(summary.tolist(), paths):
                if bad:
                    self._pending.clear()
                    raise ValueError(
                        f'{path}: label values outside [0, {n}) that are not'
                        f' ignore_index={ignore} (this map\'s values span '
                        f'[{lo}, {hi}]; found after the step, which ignored '
                        f'those pixels). {FIX}')


def _path(sample) -> str:
    return sample.metainfo.get('seg_map_path', 'a label map')
