"""A progress line at least every ``seconds`` of work, whatever the logging
interval: a 101-image CamVid test on CPU at MMEngine's ``interval=50`` is
minutes of silence."""
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from winwin_mm.registry import HOOKS
from winwin_mm.utils.progress import format_duration, format_eta


@HOOKS.register_module()
class TimedProgressHook(Hook):
    """Print ``<phase> progress: i/N iterations, elapsed h:mm:ss, eta
    h:mm:ss`` for training, validation and testing whenever ``seconds``
    have passed since the last such line (``seconds=0``: after every
    iteration). MMEngine's ``LoggerHook`` still prints its own lines (losses,
    learning rate) at its interval; this hook only fills the silence.

    Args:
        seconds (float): the longest silence, in seconds. Default: 30.
    """
    priority = 'LOW'

    def __init__(self, seconds: float = 30.) -> None:
        if seconds < 0:
            raise ValueError(f'TimedProgressHook: seconds must be >= 0, got '
                             f'{seconds}')
        self.seconds = float(seconds)
        self._start: Optional[float] = None
        self._last = 0.
        self._first_iter = 0
        # the training clock, kept while a validation inside training runs
        self._val_resume = (None, 0., 0)

    def _begin(self, first_iter: int = 0) -> None:
        self._start = self._last = time.perf_counter()
        self._first_iter = first_iter

    def _report(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._start is None or now - self._last < self.seconds:
            return
        self._last = now
        elapsed = now - self._start
        done_here = done - self._first_iter
        eta = (elapsed / done_here * (total - done)
               if done_here > 0 else float('nan'))
        print_log(f'{phase} progress: {done}/{total} iterations, elapsed '
                  f'{format_duration(elapsed)}, eta {format_eta(eta)}',
                  logger='current')

    def before_train(self, runner) -> None:
        self._begin(runner.iter)  # a resumed run starts mid-way

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._report('train', runner.iter + 1, runner.max_iters)

    def before_val_epoch(self, runner) -> None:
        self._val_resume = (self._start, self._last, self._first_iter)
        self._begin()

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._report('val', batch_idx + 1, len(runner.val_dataloader))

    def after_val_epoch(self, runner, metrics=None) -> None:
        # back to the training clock (validation inside a training run)
        self._start, _, self._first_iter = self._val_resume
        self._last = time.perf_counter()

    def before_test_epoch(self, runner) -> None:
        self._begin()

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._report('test', batch_idx + 1, len(runner.test_dataloader))
