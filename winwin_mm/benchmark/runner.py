"""Measuring the cases: one probe step, warm-up, timed steps, memory.

For each case (in a seeded random order): a fresh model from its config,
then

1. one **probe** step in eager mode under ``torch.utils.flop_counter`` and
   :class:`.profiling.SyncCounter`: the FLOPs (forward and backward as
   dispatched: matrix products, convolutions, attention; 2 per
   multiply-add), the host reads of tensor data (device syncs) and the
   images through the head (tiles);
2. with ``--compile``: ``torch.compile`` of the parts, graph breaks counted
   while the warm-up steps compile them;
3. ``warmup`` untimed steps; on CUDA one more under ``torch.profiler`` to
   count kernel launches;
4. ``steps`` timed steps, each bracketed by a device sync, with the
   component split of :class:`.profiling.StepTimer`; peak memory by
   :class:`.memory.PeakMemoryMeter` over exactly these steps.

On CPU each case runs by default in a fresh ``spawn`` subprocess, which
makes the RSS-based memory figure exact.
"""
import gc
import multiprocessing as mp
import os.path as osp
import random
import time
import traceback
from dataclasses import asdict, replace
from typing import Callable, Optional

import numpy as np
import torch

from .cases import build_case, compile_model
from .hardware import (bf16_peak_tflops, check_device_dtype,
                       device_description, load_average, sdpa_context,
                       sdpa_description, select_sdpa_backend, synchronize)
from .memory import PeakMemoryMeter
from winwin_mm.utils.profiling import (count_kernel_launches,
                                       find_device_syncs)
from .profiling import (HeadPassCounter, StepTimer, record_graph_breaks,
                        split_syncs)
from .settings import CASE_DOC, BenchmarkSetupError, BenchSettings

HEAD_ATTR = {'seg': 'decode_head', 'flow': 'head'}


def repo_root() -> str:
    """Where ``configs/`` lives: the source tree, or the installed
    package's ``.mim`` folder."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.dirname(pkg), osp.join(pkg, '.mim')):
        if osp.isdir(osp.join(root, 'configs')):
            return root
    raise BenchmarkSetupError(
        f'No configs/ folder next to {pkg} nor in its .mim folder; run from '
        'a checkout of winwin_mm or install it with pip install -e .')


def _log(msg: str) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current')


def _percentiles(times) -> dict:
    p10, p50, p90 = np.percentile(np.asarray(times), [10, 50, 90])
    return dict(ms_p10=float(p10), ms_p50=float(p50), ms_p90=float(p90),
                ms_median=float(p50), ms_min=float(min(times)),
                ms_max=float(max(times)))


def measure_case(s: BenchSettings, name: str, sdpa: str, root: str,
                 log: Callable[[str], None] = _log) -> dict:
    """Build and measure case ``name``: ``{'row': ..., 'info': ...}``."""
    from torch.utils.flop_counter import FlopCounterMode
    device = check_device_dtype(s.device, s.dtype)
    if s.compile:
        torch._dynamo.reset()  # fresh compile caches for the fresh model
    meter = PeakMemoryMeter(device).start()  # CPU baseline: before the model
    with sdpa_context(sdpa):
        case = build_case(s, name, device, root)
        heads = HeadPassCounter(getattr(case.model, HEAD_ATTR[s.task]))
        with FlopCounterMode(display=False) as flops:
            syncs = split_syncs(find_device_syncs(case.step))
        synchronize(device)
        heads.remove()
        compiled = (compile_model(case.model, case.groups, s.compile_backend)
                    if s.compile else [])
        timer = StepTimer(case.model, case.groups, device,
                          case.optim_wrapper)
        times, parts = [], []
        with record_graph_breaks() as breaks:
            for i in range(s.warmup):
                t0 = time.perf_counter()
                case.step()
                synchronize(device)
                log(f'  {name}: warm-up {i + 1}/{s.warmup} '
                    f'{(time.perf_counter() - t0) * 1e3:.0f} ms')
            launches = (count_kernel_launches(case.step)
                        if device.type == 'cuda' else None)
            meter.resume()
            for i in range(s.steps):
                synchronize(device)
                t0 = time.perf_counter()
                timer.start()
                case.step()
                synchronize(device)
                times.append((time.perf_counter() - t0) * 1e3)
                parts.append(timer.stop())
                log(f'  {name}: step {i + 1}/{s.steps} {times[-1]:.0f} ms')
            meter.update()
        timer.remove()
    peak_mb = meter.stop()
    gflops = flops.get_total_flops() / 1e9 / case.images
    row = _percentiles(times)
    breakdown = {
        k: (None if parts[0][k] is None else
            float(np.median([p[k] for p in parts])))
        for k in parts[0]}
    head_images = heads.images / case.images
    tflops = gflops * case.images / row['ms_p50']
    peak = bf16_peak_tflops(device)
    row.update(
        peak_mb=float(peak_mb), tokens=int(case.tokens),
        gflops=float(gflops),
        tiles=(int(round(head_images)) if name == 'tiled_infer' else None),
        tflops=float(tflops), mfu=None if peak is None else tflops / peak,
        breakdown_ms=breakdown,
        # CUDA: the device syncs; CPU: the would-be syncs of the model's
        # code (the optimizer's host-side step counters are listed apart)
        syncs_per_step=int(sum(syncs['model'].values()) + (
            sum(syncs['optimizer'].values()) if device.type == 'cuda'
            else 0)),
        launches_per_step=launches,
        graph_breaks=breaks['graph_breaks'] if s.compile else None)
    info = dict(case.info, mode=case.mode, head_images=head_images,
                sync_ops={k: dict(v) for k, v in syncs.items()},
                memory_method=meter.method,
                compiled=compiled)
    if s.compile:
        info['graph_break_reasons'] = breaks['reasons']
        info['graph_break_locations'] = breaks['locations']
    del case
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return dict(row=row, info=info)


def _child_entry(settings: dict, name: str, sdpa: str, root: str,
                 conn) -> None:
    """Body of an isolated case: fresh process, fresh allocator."""
    try:
        s = BenchSettings(**settings)
        if s.threads:
            torch.set_num_threads(s.threads)
        conn.send(('ok', measure_case(s, name, sdpa, root)))
    except BaseException:  # report everything to the parent
        conn.send(('error', traceback.format_exc()))
    finally:
        conn.close()


def _run_isolated(s: BenchSettings, name: str, sdpa: str, root: str) -> dict:
    ctx = mp.get_context('spawn')
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_entry,
                       args=(asdict(s), name, sdpa, root, send))
    proc.start()
    send.close()
    try:
        while not recv.poll(1.0):
            if not proc.is_alive():
                proc.join()
                raise RuntimeError(
                    f'case {name} died with exit code {proc.exitcode}'
                    + (' (killed: likely out of memory)'
                       if proc.exitcode in (-9, 137) else ''))
        status, payload = recv.recv()
    finally:
        proc.join()
    if status != 'ok':
        raise RuntimeError(f'case {name} failed in its subprocess:\n'
                           f'{payload}')
    return payload


def run_benchmark(s: BenchSettings,
                  on_case: Optional[Callable[[dict], None]] = None) -> dict:
    """Run every case of ``s``; the report dict (layout in
    :mod:`.report`). ``on_case(partial_report)`` runs after each case."""
    from winwin_mm.models.backbones.rope_vit import ARCH_SETTINGS
    from winwin_mm.utils.progress import estimate_remaining, progress_line
    from .cases import geometry, load_config
    from .report import FIELD_DOC, add_ratios
    from .settings import ARCHS
    s.check()
    dev = check_device_dtype(s.device, s.dtype)
    root = repo_root()
    s = replace(s, size=s.image_size)
    if s.threads:
        torch.set_num_threads(s.threads)
    else:
        s = replace(s, threads=torch.get_num_threads())
    cfg = load_config(s, s.case_names[0], root)
    geo = geometry(s, cfg)  # checks the sizes before any case runs
    a = ARCH_SETTINGS[ARCHS[s.arch]]
    sdpa = select_sdpa_backend(s.sdpa, dev, s.dtype, a['num_heads'],
                               a['embed_dims'] // a['num_heads'])
    isolated = (s.isolate == 'always' or
                (s.isolate == 'auto' and dev.type == 'cpu'))
    order = list(s.case_names)
    if s.shuffle:
        random.Random(s.seed).shuffle(order)
    patch = cfg.model.get('backbone', cfg.model.get('encoder')).patch_size
    report = dict(
        device=dev.type, torch=torch.__version__, task=s.task, arch=s.arch,
        size=list(s.size), dtype=s.dtype, results={},
        device_name=device_description(dev),
        bf16_peak_tflops=bf16_peak_tflops(dev),
        attention_backend=sdpa_description(sdpa),
        windows=geo.as_dict(patch),
        batch_size=dict(train=s.batch_size, infer=s.infer_batch_size),
        steps=s.steps, warmup=s.warmup,
        compile=dict(enabled=s.compile, backend=s.compile_backend,
                     mode='default',
                     scope='forward of encoder/decoder, neck and heads'),
        case_order=order, threads=s.threads,
        load_average_start=load_average(), isolated_processes=isolated,
        case_info={}, cases_doc={}, errors={}, field_doc=FIELD_DOC)
    start = time.perf_counter()
    done_s = []
    for k, name in enumerate(order, 1):
        _log(f'[{k}/{len(order)}] {name}')
        t0 = time.perf_counter()
        try:
            out = (_run_isolated(s, name, sdpa, root) if isolated else
                   measure_case(s, name, sdpa, root))
        except Exception as e:  # keep the other cases' results
            report['errors'][name] = str(e)
            _log(f'[{k}/{len(order)}] {name} FAILED: {e}')
            continue
        row = out['row']
        report['results'][name] = row
        report['case_info'][name] = dict(out['info'],
                                         wall_s=time.perf_counter() - t0)
        report['cases_doc'][name] = CASE_DOC[name]
        _log(f'[{k}/{len(order)}] {name}: p50 {row["ms_p50"]:.1f} ms, '
             f'{row["gflops"]:.1f} GFLOPs/img, peak {row["peak_mb"]:.0f} MB, '
             f'{row["syncs_per_step"]} syncs'
             + (f', {row["graph_breaks"]} graph breaks'
                if s.compile else ''))
        done_s.append(time.perf_counter() - t0)
        left = [1.] * (len(order) - k)
        _log(progress_line(k, len(order), name, time.perf_counter() - start,
                           estimate_remaining([1.] * k, done_s, left)))
        report['elapsed_s'] = time.perf_counter() - start
        add_ratios(report)
        if on_case is not None:
            on_case(report)
    report['elapsed_s'] = time.perf_counter() - start
    report['load_average_end'] = load_average()
    add_ratios(report)
    return report
