"""Benchmark report: JSON layout, ratios, markdown table and bar chart.

JSON layout (``results`` rows have exactly these keys)::

    {"device": str, "torch": str, "task": str, "arch": str, "size": [H, W],
     "dtype": str,
     "results": {"<case>": {
         "ms_p10": float, "ms_p50": float, "ms_p90": float,
         "ms_median": float, "ms_min": float, "ms_max": float,
         "peak_mb": float, "tokens": int, "gflops": float,
         "tiles": int | null, "tflops": float, "mfu": float | null,
         "breakdown_ms": {"data/checks": float, "encoder": float,
                          "neck+head": float, "loss": float | null,
                          "backward": float | null,
                          "optimizer": float | null,
                          "postprocess": float | null},
         "syncs_per_step": int, "launches_per_step": int | null,
         "graph_breaks": int | null}},
     ... extra keys: device_name, bf16_peak_tflops, attention_backend,
     windows, batch_size, steps, warmup, compile, case_order, threads,
     isolated_processes, case_info (per case: config, optimizer,
     memory_format, test_cfg, sync_ops, graph_break_reasons, ...),
     cases_doc, ratios, errors, elapsed_s, field_doc}
"""
import json
import os.path as osp
from typing import Dict, List, Optional

FIELD_DOC: Dict[str, str] = {
    'device': "torch device type the cases ran on ('cpu' or 'cuda'); "
              'device_name gives the model and thread count',
    'size': 'image size [H, W] in pixels (inputs are padded to the patch '
            "size by the config's data preprocessor)",
    'dtype': 'fp32, or bf16/fp16 autocast (CUDA: AmpOptimWrapper; CPU: '
             'torch.autocast around the step; weights and optimizer state '
             'in fp32)',
    'case_order': 'the order the cases ran in (shuffled with --seed unless '
                  '--no-shuffle)',
    'results.ms_p10/ms_p50/ms_p90/ms_min/ms_max': 'wall time of one step '
        '(training: train_step on batch_size.train images; inference: '
        'test_step on batch_size.infer images, tiles included), in ms, '
        'over `steps` timed steps after the probe step and `warmup` '
        'untimed ones; each step is bracketed by a device sync. ms_median '
        '= ms_p50',
    'results.breakdown_ms': 'median per component (ms): data/checks = '
        'step start to the encoder (data preprocessor, window stacking, '
        'label checks); encoder = inside the transformer (flow: encoder + '
        'cross-attention decoder); neck+head = inside neck and heads; loss '
        '= the rest of the forward up to the backward (ground-truth crops, '
        'resizes, loss, accuracy, parse_losses); backward; optimizer = '
        'gradient clipping, step and zero_grad; postprocess (inference) = '
        'tile merging, resizing, argmax. CUDA events on a GPU, '
        'time.perf_counter on CPU; the parts of a step add up to it',
    'results.peak_mb': 'peak memory over the timed steps (see '
        'winwin_mm/benchmark/memory.py), MiB. CUDA: '
        'torch.cuda.max_memory_allocated after a reset right before the '
        'timed steps (weights + optimizer state + activations). CPU: '
        'RSS high-water mark (VmHWM, reset before the timed steps) minus '
        "the RSS before the case's model was built; exact when "
        'isolated_processes is true (a fresh process per case)',
    'results.tokens': 'tokens the encoder processes per image and pass '
        '(tiled: per tile; flow: per frame, the encoder sees both frames)',
    'results.gflops': 'GFLOPs per image of one step as dispatched, counted '
        'by torch.utils.flop_counter on the eager probe step (matrix '
        'products, convolutions, attention; 1 multiply-add = 2 FLOPs; '
        'training = forward + backward). Norms, activations, RoPE, resizes '
        'and the optimizer are not counted. The encoder part equals the '
        'analytic formula of winwin_mm/benchmark/flops.py '
        '(tests/test_benchmark.py)',
    'results.tiles': 'tiles per image of tiled_infer (images through the '
        'head per image, counted while the probe step ran), null otherwise',
    'results.tflops': 'gflops x images per step / ms_p50',
    'results.mfu': 'tflops / the dense bf16 peak of the device '
        '(bf16_peak_tflops; null when unknown, e.g. on CPU)',
    'results.syncs_per_step': 'host reads of tensor data in the eager '
        'probe step (.item(), bool()/int() of a tensor, nonzero, boolean-'
        'mask indexing, unique, copies to the CPU): on CUDA only those of '
        'CUDA tensors, i.e. device syncs; on CPU every such op (a sync if '
        'the tensor lived on a GPU) except those inside the optimizer step '
        "(PyTorch's non-fused AdamW reads its step counters, kept on the "
        'host also on a GPU). case_info.<case>.sync_ops names them by '
        'phase (model / optimizer)',
    'results.launches_per_step': 'device kernels launched by one step '
        '(torch.profiler, after warm-up); null on CPU',
    'results.graph_breaks': 'with --compile: graph breaks torch.compile '
        'took while compiling (warm-up and timed steps; reasons in '
        'case_info.<case>.graph_break_reasons); null without --compile',
    'attention_backend': 'SDPA backend forced for every case with '
        'torch.nn.attention.sdpa_kernel after a forward+backward probe '
        '(auto: first of flash, efficient, cudnn, math that runs)',
    'windows': 'Win-Win geometry: number and side (patches) of the windows, '
        'their token share, and the equal-budget crop side',
    'ratios': 'A/B ratios of ms_median, gflops and peak_mb for '
        'fullres_train/winwin_train, crop_train/winwin_train and '
        'tiled_infer/whole_infer',
}

RATIO_PAIRS = (('fullres_train', 'winwin_train'),
               ('crop_train', 'winwin_train'))


def ratio_pairs(results: Dict[str, dict]) -> List[tuple]:
    pairs = list(RATIO_PAIRS) + [(n, 'whole_infer') for n in results
                                 if n.startswith('tiled_infer')]
    return [(a, b) for a, b in pairs if a in results and b in results]


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return float(a) / float(b) if a is not None and b else None


def add_ratios(report: dict) -> dict:
    """Fill ``report['ratios']`` from ``report['results']``."""
    res = report['results']
    report['ratios'] = {
        f'{a}/{b}': dict(time=_div(res[a]['ms_median'], res[b]['ms_median']),
                         gflops=_div(res[a]['gflops'], res[b]['gflops']),
                         peak_mb=_div(res[a]['peak_mb'], res[b]['peak_mb']))
        for a, b in ratio_pairs(res)}
    return report


def _fmt(v: Optional[float], spec: str = '.2f') -> str:
    return '-' if v is None else format(v, spec)


def markdown_table(report: dict) -> str:
    """Results table plus the ratio lines, in GitHub markdown."""
    bs = report.get('batch_size', {})
    lines = [
        f"**{report['task']} {report['arch']} {report['size'][0]}x"
        f"{report['size'][1]}, {report['dtype']}, "
        f"{report.get('device_name', report['device'])}, attention "
        f"{report.get('attention_backend', '?')}, batch train "
        f"{bs.get('train', '?')} / infer {bs.get('infer', '?')}**",
        '',
        '| case | ms p10 | ms p50 | ms p90 | peak MB | tokens/img | '
        'GFLOPs/img | tiles/img | TFLOP/s | MFU | syncs | launches | '
        'graph breaks |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    res = report['results']
    for name, r in res.items():
        lines.append(
            f"| {name} | {r['ms_p10']:.1f} | {r['ms_p50']:.1f} | "
            f"{r['ms_p90']:.1f} | {r['peak_mb']:.0f} | {r['tokens']} | "
            f"{r['gflops']:.1f} | {'-' if r['tiles'] is None else r['tiles']}"
            f" | {_fmt(r['tflops'], '.3g')} | {_fmt(r['mfu'], '.1%')} | "
            f"{r['syncs_per_step']} | {_fmt(r['launches_per_step'], 'd')} | "
            f"{_fmt(r['graph_breaks'], 'd')} |")
    if res:
        parts = list(next(iter(res.values()))['breakdown_ms'])
        lines += ['', '| case (ms, median) | ' + ' | '.join(parts) + ' |',
                  '|---|' + '---:|' * len(parts)]
        for name, r in res.items():
            lines.append(f'| {name} | ' + ' | '.join(
                _fmt(r['breakdown_ms'][k], '.1f') for k in parts) + ' |')
    ratios = report.get('ratios') or {}
    if ratios:
        lines += ['', '| ratio | time | GFLOPs | peak memory |',
                  '|---|---:|---:|---:|']
        for key, v in ratios.items():
            lines.append(f"| {key} | {_fmt(v['time'])}x | "
                         f"{_fmt(v['gflops'])}x | {_fmt(v['peak_mb'])}x |")
    for name, err in (report.get('errors') or {}).items():
        lines.append(f'\nFAILED {name}: {err.splitlines()[-1]}')
    return '\n'.join(lines)


def plot_path(json_path: str) -> str:
    root, _ = osp.splitext(json_path)
    return root + '.png'


def save_plot(report: dict, path: str) -> str:
    """Bar chart (time with min/max whiskers, peak memory, GFLOPs)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    res = report['results']
    names = list(res)
    colors = ['tab:red' if n == 'fullres_train' else
              'tab:green' if n == 'winwin_train' else
              'tab:orange' if n == 'crop_train' else
              'tab:blue' if n == 'whole_infer' else 'tab:purple'
              for n in names]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    med = [res[n]['ms_median'] for n in names]
    err = [[m - res[n]['ms_min'] for n, m in zip(names, med)],
           [res[n]['ms_max'] - m for n, m in zip(names, med)]]
    panels = [(med, 'ms per step (median, min-max)', err),
              ([res[n]['peak_mb'] for n in names], 'peak memory (MB)', None),
              ([res[n]['gflops'] for n in names], 'GFLOPs per image', None)]
    for ax, (vals, title, yerr) in zip(axes, panels):
        ax.bar(range(len(names)), vals, color=colors, yerr=yerr, capsize=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=35, ha='right', fontsize=8)
        ax.set_title(title)
        ax.grid(axis='y', alpha=.3)
        for i, n in enumerate(names):
            if res[n]['tiles']:
                ax.annotate(f"{res[n]['tiles']} tiles", (i, vals[i]),
                            ha='center', va='bottom', fontsize=7)
    fig.suptitle(f"{report['task']} {report['arch']} {report['size'][0]}x"
                 f"{report['size'][1]} {report['dtype']} on "
                 f"{report.get('device_name', report['device'])}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_json(report: dict, path: str) -> None:
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)
        f.write('\n')
