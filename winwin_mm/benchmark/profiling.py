"""What happens inside one step: component times, host-device syncs, kernel
launches, graph breaks, head passes.

``count_device_syncs``, ``count_kernel_launches`` and ``count_graph_breaks``
carry the names of the utilities task B adds in ``winwin_mm/utils/
profiling.py``; these are minimal versions for the benchmark, to be
reconciled with those.
"""
import time
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

#: aten ops that read tensor data on the host (an ``.item()``, a Python
#: ``bool``/``int`` of a tensor) or whose output shape depends on the data:
#: on a CUDA tensor each waits for the device (a sync).
SYNC_OPS = {
    aten._local_scalar_dense.default, aten.nonzero.default,
    aten.masked_select.default, aten._unique2.default,
    aten.unique_dim.default, aten.unique_consecutive.default,
    aten.repeat_interleave.Tensor,
}
_BOOL_INDEX_OPS = {aten.index.Tensor, aten.index_put.default,
                   aten.index_put_.default}


def _tensors(args):
    for a in args:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _tensors(a)


class SyncCounter(TorchDispatchMode):
    """Counts host reads of tensor data (see :data:`SYNC_OPS`, plus indexing
    with a boolean mask and copies from CUDA to the CPU) by op name.

    ``device_only``: count only ops on CUDA tensors (real device syncs);
    on CPU every such op is counted (a sync if the tensor lived on a GPU).
    ``tensor.tolist()`` on a CPU tensor does not go through the dispatcher
    and is not seen.
    """

    def __init__(self, device_only: bool = False) -> None:
        super().__init__()
        self.device_only = device_only
        self.phase = 'model'
        self.by_phase: Dict[str, Counter] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        hit = func in SYNC_OPS
        if func in _BOOL_INDEX_OPS:
            hit = any(t.dtype in (torch.bool, torch.uint8)
                      for t in _tensors(args[1:2]))
        tensors = list(_tensors(args))
        if func in (aten._to_copy.default, aten.copy_.default):
            src = tensors[-1] if func is aten.copy_.default else tensors[0]
            dst = (tensors[0].device if func is aten.copy_.default else
                   kwargs.get('device'))
            hit = (src.device.type == 'cuda' and dst is not None
                   and torch.device(dst).type == 'cpu')
        if hit and (not self.device_only or any(
                t.device.type == 'cuda' for t in tensors)):
            self.by_phase.setdefault(self.phase, Counter())[
                str(func.overloadpacket.__name__)] += 1
        return func(*args, **kwargs)

    @property
    def ops(self) -> Counter:
        return sum(self.by_phase.values(), Counter())

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    @contextmanager
    def optimizer_phase(self, optim_wrapper):
        """Count what ``optim_wrapper.step`` does under phase 'optimizer'
        (PyTorch's non-fused AdamW reads its step counters, which live on
        the host even on a GPU, with ``.item()``)."""
        if optim_wrapper is None:
            yield
            return
        step = optim_wrapper.step

        def counted_step(**kwargs):
            self.phase = 'optimizer'
            try:
                return step(**kwargs)
            finally:
                self.phase = 'model'
        optim_wrapper.step = counted_step
        try:
            yield
        finally:
            del optim_wrapper.step


def count_device_syncs(fn: Callable[[], object],
                       device_only: bool = False) -> Counter:
    """Run ``fn()`` once in eager mode; op name -> count of host reads of
    tensor data (device syncs on CUDA)."""
    with SyncCounter(device_only) as counter:
        fn()
    return counter.ops


def count_kernel_launches(fn: Callable[[], object],
                          device: torch.device) -> Optional[int]:
    """Device kernels (and memcpy/memset) launched by one ``fn()`` on CUDA,
    from ``torch.profiler``; None on CPU (no kernels to count)."""
    if device.type != 'cuda':
        return None
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CPU,
                             ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    return sum(1 for e in prof.events() if e.device_type == DeviceType.CUDA)


@contextmanager
def count_graph_breaks():
    """Graph breaks ``torch.compile`` takes while the block compiles:
    yields a dict filled at exit with ``graph_breaks`` (count) and
    ``reasons`` (reason -> count), read from dynamo's counters."""
    from torch._dynamo.utils import counters
    counters['graph_break'].clear()
    out = {}
    try:
        yield out
    finally:
        reasons = Counter(counters['graph_break'])
        out['graph_breaks'] = int(sum(reasons.values()))
        out['reasons'] = {str(k)[:300]: int(v) for k, v in reasons.items()}


def wrap_forward(module: torch.nn.Module, before: Callable,
                 after: Callable) -> Callable[[], None]:
    """Call ``before(args)`` / ``after()`` around ``module.forward``
    (however it is called: MMSegmentation's heads call ``self.forward``
    directly, which module hooks do not see). Returns the undo function."""
    had = 'forward' in vars(module)
    inner = module.forward

    def forward(*args, **kwargs):
        before(args)
        out = inner(*args, **kwargs)
        after()
        return out
    module.forward = forward

    def undo() -> None:
        if had:
            module.forward = inner
        else:
            del module.forward
    return undo


class HeadPassCounter:
    """Images through a head per counted block: a Win-Win step runs its
    head on B*N windows, tiled inference on every tile. Counts the batch
    size of the first tensor given to each ``forward``."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.images = 0
        self.calls = 0
        self.remove = wrap_forward(module, self._count, lambda: None)

    def _count(self, args) -> None:
        first = next(_tensors(args), None)
        self.calls += 1
        self.images += int(first.shape[0]) if first is not None else 0


class StepTimer:
    """Component split of a step, from hooks on the model's parts.

    Marks are taken at the step start, before and after the forward of the
    ``groups`` ('encoder', 'neck+head'), after the model's forward, around
    ``optim_wrapper.backward`` and at the step end: CUDA events on a GPU
    (no sync inside the step; read after it), ``time.perf_counter`` on CPU.
    Per step (ms): ``data/checks`` = start -> first encoder call (data
    preprocessor, window stacking, label checks); ``encoder`` and
    ``neck+head`` = time inside those modules; ``loss`` = the rest of the
    forward (ground-truth cropping, resizes, loss, accuracy) up to the
    backward; ``backward``; ``optimizer`` = after the backward to the end
    (gradient clipping, step, zero_grad). Inference: ``postprocess`` = what
    follows the forward parts (tile merging, resizing, argmax); loss,
    backward and optimizer are None. The parts add up to the step.
    """

    def __init__(self, model: torch.nn.Module, groups: Dict[str, List[str]],
                 device: torch.device, optim_wrapper=None) -> None:
        self.device = device
        self.cuda = device.type == 'cuda'
        self.marks = []
        self.undo = []
        for group, names in groups.items():
            for n in names:
                self.undo.append(wrap_forward(
                    getattr(model, n),
                    lambda a, g=group: self.mark(g, 'start'),
                    lambda g=group: self.mark(g, 'end')))
        handle = model.register_forward_hook(
            lambda *a: self.mark('forward', 'end'))
        self.undo.append(handle.remove)
        self.optim_wrapper = optim_wrapper
        if optim_wrapper is not None:
            backward = optim_wrapper.backward

            def timed_backward(loss, **kwargs):
                self.mark('backward', 'start')
                out = backward(loss, **kwargs)
                self.mark('backward', 'end')
                return out
            optim_wrapper.backward = timed_backward

    def mark(self, what: str, edge: str) -> None:
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks.append((what, edge, ev))
        else:
            self.marks.append((what, edge, time.perf_counter()))

    def start(self) -> None:
        self.marks = []
        self.mark('step', 'start')

    def stop(self) -> Dict[str, Optional[float]]:
        """Close the step (after the caller's device sync); component ms."""
        self.mark('step', 'end')
        if self.cuda:
            torch.cuda.synchronize(self.device)
            t0 = self.marks[0][2]
            times = [t0.elapsed_time(ev) for _, _, ev in self.marks]
        else:
            t0 = self.marks[0][2]
            times = [(t - t0) * 1e3 for _, _, t in self.marks]
        total = times[-1]
        inside = {'encoder': 0., 'neck+head': 0.}
        open_at = {}
        first_enc = fwd_end = bwd = None
        for (what, edge, _), t in zip(self.marks, times):
            if what in inside:
                if edge == 'start':
                    open_at.setdefault(what, []).append(t)
                    if what == 'encoder' and first_enc is None:
                        first_enc = t
                elif open_at.get(what):
                    inside[what] += t - open_at[what].pop()
            elif what == 'forward':
                fwd_end = t if fwd_end is None else fwd_end
            elif what == 'backward':
                bwd = [t] if edge == 'start' else bwd + [t]
        first_enc = total if first_enc is None else first_enc
        out = {'data/checks': first_enc, **inside}
        if bwd is None:  # inference
            rest = total - first_enc - inside['encoder'] - inside['neck+head']
            out.update(loss=None, backward=None, optimizer=None,
                       postprocess=rest)
            return out
        out['loss'] = (bwd[0] - first_enc - inside['encoder'] -
                       inside['neck+head'])
        out['backward'] = bwd[1] - bwd[0]
        out['optimizer'] = total - bwd[1]
        out['postprocess'] = None
        return out

    def remove(self) -> None:
        for undo in reversed(self.undo):
            undo()
        if self.optim_wrapper is not None:
            del self.optim_wrapper.backward  # back to the class's method
