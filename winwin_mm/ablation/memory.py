"""Peak memory of a stretch of code, measured the same way on CPU and GPU.

GPU: the peak of tensors allocated by PyTorch's caching allocator
(``torch.cuda.max_memory_allocated``) since :func:`reset_peak`. MMEngine's
logger resets that counter each time it logs, so a caller that spans many
log intervals reads it before each reset and keeps the maximum
(``winwin_mm.PeakMemoryHook`` does).

CPU: the peak resident set size of this process (``VmHWM``) since
:func:`reset_peak`, which clears it through ``/proc/self/clear_refs``
(Linux >= 4.0). It counts the whole process (weights, optimizer state,
activations, libraries), not data-loader worker processes.
"""
import re

import torch

MB = 2**20


def _status_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        m = re.search(rf'^{field}:\s+(\d+) kB', f.read(), re.M)
    if m is None:
        raise RuntimeError(f'/proc/self/status has no {field}: CPU peak '
                           'memory needs Linux /proc.')
    return int(m.group(1))


def current_mb(device: str) -> float:
    """Memory in use now: allocated CUDA tensors, or the process RSS."""
    if device == 'cuda':
        return torch.cuda.memory_allocated() / MB
    return _status_kb('VmRSS') / 1024


def reset_peak(device: str) -> float:
    """Start a new peak at the current usage; returns that usage (MB)."""
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # 5: reset the peak RSS to the current RSS
        except OSError as e:
            raise RuntimeError(
                f'Cannot reset the peak RSS through /proc/self/clear_refs '
                f'({e}); CPU peak memory needs Linux >= 4.0.') from None
    return current_mb(device)


def read_peak(device: str) -> float:
    """Peak (MB) since the last :func:`reset_peak` (or MMEngine's reset)."""
    if device == 'cuda':
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / MB
    return _status_kb('VmHWM') / 1024
