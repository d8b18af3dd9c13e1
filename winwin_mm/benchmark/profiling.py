"""What happens inside one benchmark step: component times, where the host
syncs, graph breaks while compiling, head passes.

Sync and kernel-launch counting are ``winwin_mm.utils.profiling``'s
(``find_device_syncs``, ``count_kernel_launches``); this module adds what
the benchmark needs around them: the split of the syncs into model and
optimizer, graph breaks recorded while the real step compiles (with the
user-code lines), the component timer and the head-pass counter.
"""
import logging
import re
import time
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional

import torch

from winwin_mm.utils.profiling import tensors_in

#: where (``SyncEvent.where``) the optimizer's host reads come from:
#: PyTorch's non-fused AdamW reads its step counters with ``.item()``;
#: they live on the host also on a GPU, so they do not sync there.
OPTIMIZER_CALLERS = ('mmengine/optim/', )


def split_syncs(events) -> Dict[str, Counter]:
    """``winwin_mm.utils.profiling.find_device_syncs`` events ->
    ``{'model': Counter, 'optimizer': Counter}`` of ``'op at where'``."""
    out = {'model': Counter(), 'optimizer': Counter()}
    for e in events:
        phase = ('optimizer' if any(c in e.where.replace('\\', '/')
                                    for c in OPTIMIZER_CALLERS) else 'model')
        out[phase][f'{e.op} ({e.reason}) at {e.where}'] += 1
    return out


class _BreakLocations(logging.Handler):
    """Collects the user-code lines dynamo names in its graph-break
    warnings (e.g. ``Tensor.item()``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.locations: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # a foreign record we cannot format
            return
        if 'Graph break' not in msg:
            return
        lines = msg.splitlines()
        for i, line in enumerate(lines):
            m = re.search(r'File "(.+)", line (\d+), in (\S+)', line)
            if m:
                path = '/'.join(m.group(1).split('/')[-3:])
                code = lines[i + 1].strip() if i + 1 < len(lines) else ''
                self.locations[f'{path}:{m.group(2)} ({m.group(3)}): '
                               f'{code}'] += 1


@contextmanager
def record_graph_breaks():
    """Graph breaks ``torch.compile`` takes while the block compiles:
    yields a dict filled at exit with ``graph_breaks`` (count),
    ``reasons`` (reason -> count, from dynamo's counters) and
    ``locations`` (user-code lines named in dynamo's graph-break warnings;
    dynamo warns once per location)."""
    from torch._dynamo.utils import counters
    counters['graph_break'].clear()
    handler = _BreakLocations()
    logger = logging.getLogger('torch._dynamo')
    logger.addHandler(handler)
    out = {}
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        reasons = Counter(counters['graph_break'])
        out['graph_breaks'] = int(sum(reasons.values()))
        out['reasons'] = {str(k).splitlines()[0][:200]: int(v)
                          for k, v in reasons.items()}
        out['locations'] = dict(handler.locations)


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
        first = next(iter(tensors_in(args)), None)
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
