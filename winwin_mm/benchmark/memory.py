"""Peak memory of a block of code, measured the same way on CPU and GPU.

Shared by ``tools/benchmark.py`` and ``tools/ablate.py``.

**CUDA** -- ``torch.cuda.max_memory_allocated``: the largest number of bytes
held by torch's caching allocator since the last reset of the peak counter.
It counts everything alive (weights, optimizer state, activations), not a
growth. MMEngine resets that counter itself when it logs
(``mmengine.runner.log_processor`` calls ``torch.cuda.reset_peak_memory_stats``
after reading it), so a peak read at the end of a training run only covers
the iterations since the last log line. :class:`PeakMemoryMeter` therefore
resets the counter right before each measured window (:meth:`~PeakMemoryMeter.
resume`) and folds the window's peak in right after it
(:meth:`~PeakMemoryMeter.update`), keeping the maximum over all windows (e.g.
one window per training iteration, read in a hook that runs before the
logger's).

**CPU** -- the growth of the process resident set size (RSS): the kernel's
RSS high-water mark ``VmHWM`` (``/proc/self/status``) minus the RSS at
:meth:`~PeakMemoryMeter.start`. ``VmHWM`` is reset to the current RSS by
writing ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0), so every peak
inside a window is seen, however short. Where that file cannot be written,
a thread samples ``/proc/self/statm`` every 2 ms instead (it may miss peaks
shorter than that; the ``method`` attribute says which was used). Python's
``tracemalloc`` is not used: it does not see torch's allocations. Before the
baseline is taken, freed heap memory is handed back to the system
(``gc.collect`` and glibc's ``malloc_trim(0)``) so that the growth is not
hidden by memory the C allocator kept from earlier work; still, memory freed
but kept by the allocator between :meth:`start` and a window counts as in
use, so for exact figures run each measurement in a fresh process. Start the
meter before building the model to include the weights, as on CUDA.
"""
import ctypes
import gc
import os
import threading
from typing import Optional, Union

import torch

MiB = float(2**20)


def current_rss() -> int:
    """Resident set size of this process in bytes (0 if unknown)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return 0


def rss_high_water() -> Optional[int]:
    """The kernel's RSS high-water mark ``VmHWM`` in bytes (None if the
    platform has no ``/proc/self/status``)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_rss_high_water() -> bool:
    """Reset ``VmHWM`` to the current RSS; False if not possible here."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return rss_high_water() is not None


def release_free_memory() -> None:
    """Collect garbage and return the C heap's free pages to the system."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class _RSSSampler:
    """Largest RSS seen by a thread polling ``/proc/self/statm``."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak = current_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss())
            self._stop.wait(self.interval)

    def close(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, current_rss())


class PeakMemoryMeter:
    """Peak memory over one or more measured windows (see the module doc).

    Use as a context manager around one block::

        with PeakMemoryMeter('cuda') as mem:
            ...
        mem.peak_mb

    or, when something else (MMEngine's logger) resets CUDA's peak counter in
    between, window by window::

        mem = PeakMemoryMeter(device).start()
        for ...:
            mem.resume()      # right before the measured work
            ...
            mem.update()      # right after it
        mem.stop()

    Args:
        device: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or a ``torch.device``.

    Attributes:
        peak_bytes (int): CUDA: the largest ``max_memory_allocated`` over the
            windows (absolute). CPU: the largest RSS over the windows minus
            the RSS at :meth:`start`.
        method (str): how it was measured (for reports).
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu') -> None:
        self.device = torch.device(device)
        if self.device.type not in ('cpu', 'cuda'):
            raise ValueError(f'PeakMemoryMeter measures cpu or cuda memory, '
                             f'got device {self.device}.')
        if self.device.type == 'cuda' and self.device.index is None:
            self.device = torch.device('cuda', torch.cuda.current_device())
        self.peak_bytes = 0
        self.baseline_bytes = 0
        self.method = ''
        self._sampler = None
        self._running = False
        self._window_open = False

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MiB

    @property
    def absolute_peak_mb(self) -> float:
        """The peak as total usage (MiB): CUDA's peak as is, the CPU
        growth plus the RSS at :meth:`start`."""
        cpu_base = self.baseline_bytes if self.device.type == 'cpu' else 0
        return (cpu_base + self.peak_bytes) / MiB

    def start(self) -> 'PeakMemoryMeter':
        """Take the CPU baseline, open the first window."""
        self.peak_bytes = 0
        if self.device.type == 'cuda':
            self.baseline_bytes = torch.cuda.memory_allocated(self.device)
            self.method = ('torch.cuda.max_memory_allocated, peak counter '
                           'reset before each measured window')
        else:
            release_free_memory()
            self.baseline_bytes = current_rss()
            if reset_rss_high_water():
                self.method = ('growth of the RSS high-water mark VmHWM '
                               '(reset through /proc/self/clear_refs)')
            else:
                self.method = ('growth of the RSS sampled every 2 ms from '
                               '/proc/self/statm')
        self._running = True
        self.resume()
        return self

    def resume(self) -> None:
        """Open a measured window: reset the peak counter to what is in use
        now (CUDA, VmHWM) or start the RSS sampler."""
        if not self._running:
            raise RuntimeError('PeakMemoryMeter.resume() before start().')
        self._window_open = True
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.method.startswith('growth of the RSS high-water'):
            reset_rss_high_water()
        elif self._sampler is None:
            self._sampler = _RSSSampler()

    def update(self) -> int:
        """Close the window: fold its peak into :attr:`peak_bytes`."""
        if not self._window_open:
            raise RuntimeError('PeakMemoryMeter.update() without an open '
                               'window: call resume() first.')
        self._window_open = False
        if self.device.type == 'cuda':
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            if self._sampler is not None:
                peak = self._sampler.close()
                self._sampler = None
            else:
                peak = rss_high_water() or current_rss()
            peak = max(0, peak - self.baseline_bytes)
        self.peak_bytes = max(self.peak_bytes, int(peak))
        return self.peak_bytes

    def stop(self) -> float:
        """Close the last window; the peak in MiB."""
        if self._window_open:
            self.update()
        self._running = False
        return self.peak_mb

    def __enter__(self) -> 'PeakMemoryMeter':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
