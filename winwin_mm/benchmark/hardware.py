"""The device side of a benchmark run: device and dtype checks, attention
backend, autocast, a description of the machine (its load included) and its
bf16 peak."""
import os
import warnings
from contextlib import nullcontext
from typing import List, Optional

import torch

from .settings import BenchmarkSetupError

#: Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s from NVIDIA's data
#: sheets, matched against ``torch.cuda.get_device_name`` in this order
#: (first substring found wins). H200 and H100 SXM: 1979 with sparsity, 989
#: dense; H100 NVL 1671 / 835; H100 PCIe 1513 / 756; A100 312; L40S 362.
BF16_PEAK_TFLOPS = (
    ('H200', 989.), ('H100 NVL', 835.), ('H100 PCIe', 756.),
    ('H100', 989.), ('A100', 312.), ('L40S', 362.))

SDPA_CHOICES = ('auto', 'flash', 'efficient', 'cudnn', 'math', 'default')
_SDPA_NAMES = {'flash': 'FLASH_ATTENTION', 'efficient': 'EFFICIENT_ATTENTION',
               'cudnn': 'CUDNN_ATTENTION', 'math': 'MATH'}
AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def bf16_peak_tflops(device: torch.device) -> Optional[float]:
    """The device's dense bf16 peak (TFLOP/s), None when unknown / CPU."""
    if device.type != 'cuda':
        return None
    name = torch.cuda.get_device_name(device)
    for key, peak in BF16_PEAK_TFLOPS:
        if key in name:
            return peak
    return None


def check_device_dtype(device: str, dtype: str) -> torch.device:
    """Validate ``--device`` / ``--dtype``; raise with the fix."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise BenchmarkSetupError(
            f'Unknown --device {device!r}; use cpu or cuda[:N].') from None
    if dev.type not in ('cpu', 'cuda'):
        raise BenchmarkSetupError(
            f'--device {device!r} is not supported; use cpu or cuda[:N].')
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            build = (f'CUDA {torch.version.cuda} build'
                     if torch.version.cuda else 'CPU-only build')
            raise BenchmarkSetupError(
                f'--device cuda was requested but torch.cuda.is_available() '
                f'is False (torch {torch.__version__}, {build}). Run on a '
                f'machine with an NVIDIA GPU and a CUDA build of torch, or '
                f'pass --device cpu.')
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BenchmarkSetupError(
                f'--device {device}: only {torch.cuda.device_count()} CUDA '
                f'device(s) visible.')
        if dev.index is None:
            dev = torch.device('cuda', torch.cuda.current_device())
    if dtype == 'fp16' and dev.type == 'cpu':
        raise BenchmarkSetupError(
            '--dtype fp16 is not supported on CPU (no fp16 autocast fast '
            'path there); use --dtype bf16 or fp32 on CPU, or fp16 with '
            '--device cuda.')
    if dtype == 'bf16' and dev.type == 'cuda' and \
            not torch.cuda.is_bf16_supported():
        raise BenchmarkSetupError(
            f'--dtype bf16: {torch.cuda.get_device_name(dev)} has no bf16 '
            f'support; use --dtype fp16 or fp32.')
    return dev


def sdpa_context(name: str):
    """Force one SDPA backend (``default``: PyTorch's own dispatch)."""
    if name == 'default':
        return nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel([getattr(SDPBackend, _SDPA_NAMES[name])])


def sdpa_description(name: str) -> str:
    return name if name == 'default' else (
        f'{name} ({_SDPA_NAMES[name]}, forced with '
        'torch.nn.attention.sdpa_kernel)')


def select_sdpa_backend(requested: str, device: torch.device, dtype: str,
                        heads: int, head_dim: int) -> str:
    """The SDPA backend the benchmark will force.

    ``auto`` probes flash, memory-efficient, cuDNN and math attention in that
    order with a forward + backward on a small (1, heads, 64, head_dim) input
    in the compute dtype and returns the first that runs; a named backend is
    checked the same way; ``default`` leaves PyTorch's own dispatch.
    """
    if requested not in SDPA_CHOICES:
        raise BenchmarkSetupError(f'Unknown --sdpa {requested!r}; choose one '
                                  f'of {SDPA_CHOICES}.')
    if requested == 'default':
        return 'default'
    order = (['flash', 'efficient', 'cudnn', 'math']
             if requested == 'auto' else [requested])
    t = AMP_DTYPES.get(dtype, torch.float32)
    errors = []
    for name in order:
        q = torch.randn(1, heads, 64, head_dim, device=device, dtype=t,
                        requires_grad=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                with sdpa_context(name):
                    out = torch.nn.functional.scaled_dot_product_attention(
                        q, q, q)
                    out.sum().backward()
            return name
        except RuntimeError as e:
            errors.append(f'{name}: {str(e).splitlines()[0]}')
    raise BenchmarkSetupError(
        f'No requested SDPA backend runs on {device} in {dtype}: '
        + '; '.join(errors))


def device_description(device: torch.device) -> str:
    if device.type == 'cuda':
        return f'{device} ({torch.cuda.get_device_name(device)})'
    name = 'CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    name = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'cpu ({name}, {torch.get_num_threads()} threads)'


def load_average() -> Optional[List[float]]:
    """1/5/15-minute load averages: other processes on the machine skew
    CPU timings (OpenMP threads stall when a core is taken)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_load_note(load: Optional[float] = None,
                      cores: Optional[int] = None) -> str:
    """A line saying that other processes keep the CPU busy (1-minute
    :func:`load_average` above half the cores), or '' when it is quiet or
    unknown: iteration times measured then are slower than the machine can
    do (on the 2-core CI machine, 2-3x). ``tools/demo.py`` prints it."""
    if load is None:
        loads = load_average()
        if loads is None:
            return ''
        load = loads[0]
    cores = cores or os.cpu_count() or 1
    if load <= cores / 2:
        return ''
    return (f'the machine is busy (load average {load:.1f} on {cores} '
            'cores): other processes share the CPU, so iterations will be '
            'slower than on a quiet machine.')


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
