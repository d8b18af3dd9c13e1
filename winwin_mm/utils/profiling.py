"""Counters for what slows a training step on a GPU: host-device syncs, kernel
launches, dispatched ops and ``torch.compile`` graph breaks.

All take a callable and its arguments and run it once:

* :func:`count_device_syncs` / :func:`find_device_syncs`: ops that make the
  host wait for the device (``.item()``, ``bool(t)``, ``nonzero``, boolean-mask
  indexing, ``unique``, device->host copies, ...), seen through a
  ``TorchDispatchMode``, so they are counted on CPU too: on a CPU run every
  such op counts (it *would* sync if the step ran on a GPU); on a GPU run only
  those whose tensors live on the device (host-side checks of CPU tensors do
  not sync).
* :func:`count_ops`: aten ops that do work (views and allocations excluded),
  a device-independent proxy for kernel launches in eager mode.
* :func:`count_kernel_launches`: CUDA kernel launches from ``torch.profiler``
  (``None`` where CUDA is not available: the caller reports null).
* :func:`count_graph_breaks`: ``torch._dynamo.explain`` graph breaks.

Example::

    >>> from winwin_mm.utils.profiling import count_device_syncs
    >>> count_device_syncs(lambda: model.loss(inputs, data_samples))
    0
"""
import os
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    'SyncEvent', 'find_device_syncs', 'count_device_syncs', 'count_ops',
    'count_kernel_launches', 'count_graph_breaks', 'explain_graph_breaks'
]

_aten = torch.ops.aten
# ops that always wait for their result on the host
_ALWAYS_SYNC = {
    'aten::_local_scalar_dense',  # .item(), bool(t), int(t), float(t)
    'aten::nonzero', 'aten::masked_select', 'aten::equal',
    'aten::_unique', 'aten::_unique2', 'aten::unique_dim',
    'aten::unique_consecutive', 'aten::bincount',
}
# ops that index with tensors: sync when an index is boolean (-> nonzero)
_INDEX_OPS = {'aten::index', 'aten::index_put', 'aten::index_put_',
              'aten::_index_put_impl_'}
_COPY_OPS = {'aten::_to_copy', 'aten::copy_', 'aten::_copy_from'}
# no kernel of their own: allocation or metadata only
_NO_KERNEL = {'aten::empty', 'aten::empty_strided', 'aten::empty_like',
              'aten::new_empty', 'aten::new_empty_strided',
              'aten::detach', 'aten::lift_fresh', 'aten::_to_copy_meta',
              'aten::set_', 'aten::resize_', 'aten::_local_scalar_dense',
              'aten::_unsafe_view', 'aten::_reshape_alias'}
_HERE = os.path.abspath(__file__)
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


@dataclass
class SyncEvent:
    """One op that waits for the device.

    Attributes:
        op (str): aten op name, e.g. ``'aten::_local_scalar_dense'``.
        reason (str): why it syncs, e.g. ``'boolean index'``.
        where (str): ``file:line (function)`` of the innermost caller outside
            torch, or ``'<autograd>'`` for backward ops.
        on_device (bool): whether a tensor argument lives off the CPU.
    """
    op: str
    reason: str
    where: str
    on_device: bool


def _op_name(func) -> str:
    return func._schema.name  # 'aten::index'


def tensors_in(obj) -> List[torch.Tensor]:
    """The tensors in ``obj`` and its nested lists, tuples and dicts."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in tensors_in(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in tensors_in(o)]
    return []


def _caller() -> str:
    for fr in reversed(traceback.extract_stack()):
        f = os.path.abspath(fr.filename)
        if f != _HERE and not f.startswith(_TORCH_DIR):
            return f'{fr.filename}:{fr.lineno} ({fr.name})'
    return '<autograd>'


def _sync_reason(name: str, args, kwargs) -> Optional[str]:
    if name in _ALWAYS_SYNC:
        return 'result read on the host'
    if name in _INDEX_OPS:
        idx = args[1] if len(args) > 1 else kwargs.get('indices', ())
        if any(t is not None and t.dtype in (torch.bool, torch.uint8)
               for t in tensors_in(idx)):
            return 'boolean index (nonzero)'
        return None
    if name == 'aten::repeat_interleave':
        # repeat counts in a tensor: the output size is read on the host
        if kwargs.get('output_size') is None:
            return 'repeat_interleave without output_size'
        return None
    if name in _COPY_OPS:
        return 'copy to the host'  # filtered by device in _SyncMode
    return None


class _SyncMode(TorchDispatchMode):

    def __init__(self) -> None:
        super().__init__()
        self.events: List[SyncEvent] = []
        self.saw_device = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _op_name(func)
        ts = tensors_in(args) + tensors_in(kwargs)
        on_device = any(t.device.type not in ('cpu', 'meta') for t in ts)
        self.saw_device |= on_device
        reason = _sync_reason(name, args, kwargs)
        out = func(*args, **kwargs)
        if reason == 'copy to the host':
            # device -> host only: source off the CPU, result on the CPU
            dst = out if name != 'aten::copy_' else args[0]
            src = args[1] if name in ('aten::copy_',
                                      'aten::_copy_from') else args[0]
            if not (isinstance(dst, torch.Tensor) and dst.device.type == 'cpu'
                    and src.device.type not in ('cpu', 'meta')):
                reason = None
            elif name == 'aten::copy_' and (
                    len(args) > 2 and args[2] or kwargs.get('non_blocking')) \
                    and dst.is_pinned():
                reason = None  # into pinned memory without blocking
        if reason is not None:
            self.events.append(SyncEvent(name, reason, _caller(), on_device))
        return out


def find_device_syncs(fn: Callable, *args, **kwargs) -> List[SyncEvent]:
    """Run ``fn(*args, **kwargs)`` once and list the ops that sync.

    When any op of the call touches a tensor off the CPU, only the events on
    such tensors are returned (host-side work on CPU tensors does not sync);
    on a CPU-only call every event is returned: the syncs the same code would
    make on a GPU, plus any host-side checks of tensors that stay on the host
    there (look at ``where`` to tell them apart).

    Not seen: syncs inside C++ kernels that dispatch nothing (e.g. a CUDA
    ``cudaStreamSynchronize`` in a custom op), ``Tensor.tolist()`` and
    ``torch.cuda.synchronize()``.
    """
    mode = _SyncMode()
    with mode:
        fn(*args, **kwargs)
    if mode.saw_device:
        return [e for e in mode.events if e.on_device]
    return mode.events


def count_device_syncs(fn: Callable, *args, **kwargs) -> int:
    """Number of host-device syncs of one call of ``fn(*args, **kwargs)``;
    see :func:`find_device_syncs` for what is counted."""
    return len(find_device_syncs(fn, *args, **kwargs))


class _OpCounter(TorchDispatchMode):

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = _op_name(func)
        if not func.is_view and name not in _NO_KERNEL:
            self.ops[name] += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable, *args, **kwargs) -> Counter:
    """aten ops that do work in one call of ``fn(*args, **kwargs)``, by name
    (``sum(counter.values())`` is the total). Views, ``detach`` and
    allocations are left out; in eager mode each counted op is about one
    kernel launch on a GPU (a few ops launch more, e.g. a reduction over
    many elements), so it is a device-independent proxy for launches."""
    mode = _OpCounter()
    with mode:
        fn(*args, **kwargs)
    return mode.ops


def count_kernel_launches(fn: Callable, *args, **kwargs) -> Optional[int]:
    """CUDA kernel launches of one call of ``fn(*args, **kwargs)``, counted by
    ``torch.profiler`` from the CUDA runtime/driver launch calls
    (``cudaLaunchKernel*``, ``cuLaunchKernel*``; a CUDA-graph replay counts
    as one ``cudaGraphLaunch``). Returns ``None`` where CUDA is not
    available: kernel launches are not a CPU notion (use :func:`count_ops`).
    The device is synchronised before and after the call."""
    if not torch.cuda.is_available():
        return None
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU,
                             ProfilerActivity.CUDA]) as prof:
        fn(*args, **kwargs)
        torch.cuda.synchronize()
    return sum(1 for e in prof.events()
               if 'LaunchKernel' in e.name or e.name == 'cudaGraphLaunch')


def explain_graph_breaks(fn: Callable, *args, **kwargs) -> List[str]:
    """The reasons of the graph breaks ``torch.compile`` makes in
    ``fn(*args, **kwargs)`` (from ``torch._dynamo.explain``, which traces
    without compiling kernels). Dynamo's caches are reset first."""
    import torch._dynamo
    torch._dynamo.reset()
    out = torch._dynamo.explain(fn)(*args, **kwargs)
    torch._dynamo.reset()
    return [str(b.reason).strip() for b in out.break_reasons]


def count_graph_breaks(fn: Callable, *args, **kwargs) -> int:
    """Number of ``torch.compile`` graph breaks in ``fn(*args, **kwargs)``
    (``torch._dynamo.explain(...).graph_break_count``)."""
    import torch._dynamo
    torch._dynamo.reset()
    out = torch._dynamo.explain(fn)(*args, **kwargs)
    torch._dynamo.reset()
    return int(out.graph_break_count)
