"""Hooks that measure a training run for the masking study
(``tools/ablate.py``): peak memory, per-iteration time, a time budget."""
import time
from typing import List, Optional

import torch
from mmengine.hooks import Hook

from winwin_mm.registry import HOOKS


@HOOKS.register_module()
class PeakMemoryHook(Hook):
    """Peak memory of the training iterations (MB) in ``self.peak_mb``.

    Measured by :class:`winwin_mm.benchmark.memory.PeakMemoryMeter` (the
    benchmark's meter) from ``before_train`` on, one window per iteration,
    closed and reopened in ``after_train_iter``: on GPU the allocator's
    peak, read *before* MMEngine's ``LoggerHook`` resets it (this hook runs
    at ``ABOVE_NORMAL``, the logger at ``BELOW_NORMAL``); on CPU the RSS
    high-water mark. Both are absolute: ``self.start_mb`` is the usage when
    training began (weights and buffers already in memory).
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self) -> None:
        self.device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.start_mb: Optional[float] = None
        self.peak_mb = 0.
        self._meter = None

    def before_train(self, runner) -> None:
        from winwin_mm.benchmark.memory import MiB, PeakMemoryMeter
        if self.device == 'cuda':
            torch.cuda.synchronize()
        self._meter = PeakMemoryMeter(self.device).start()
        self.start_mb = self._meter.baseline_bytes / MiB
        self.peak_mb = self.start_mb

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()
        self._meter.update()
        self._meter.resume()
        self.peak_mb = max(self.peak_mb, self._meter.absolute_peak_mb)

    def after_train(self, runner) -> None:
        self._meter.stop()


@HOOKS.register_module()
class IterTimeHook(Hook):
    """Wall time of every training iteration (``self.times``, seconds).
    Their median is a cost figure that other jobs on a shared machine
    disturb less than the total; their running sum dates the checkpoints
    (the equal-time view)."""
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.times: List[float] = []
        self._t0 = None

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._t0 = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._t0)


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Stop training after ``seconds`` of wall time (the lr schedule stays
    the one of ``max_iters``): the equal-time comparison."""
    priority = 'LOW'

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f'TimeBudgetHook seconds must be > 0, got '
                             f'{seconds}.')
        self.seconds = seconds
        self._t0 = None

    def before_train(self, runner) -> None:
        self._t0 = time.time()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if time.time() - self._t0 > self.seconds:
            runner.train_loop.stop_training = True
            runner.logger.info(f'time budget {self.seconds:.0f} s reached at '
                               f'iteration {runner.iter + 1}')
