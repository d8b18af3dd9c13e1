"""Benchmark report: JSON layout, ratios, markdown table and bar chart.

JSON layout (``results`` rows have exactly these keys)::

    {"device": str, "torch": str, "task": str, "arch": str, "size": [H, W],
     "dtype": str,
     "results": {"<case>": {"ms_median": float, "ms_min": float,
                            "ms_max": float, "peak_mb": float, "tokens": int,
                            "gflops": float, "tiles": int | null}},
     ... extra keys: device_name, attention_backend, windows, batch_size,
     steps, warmup, compile, isolated_processes, case_info, cases_doc,
     ratios, errors, elapsed_s, field_doc}
"""
import json
import os.path as osp
from typing import Dict, List, Optional

FIELD_DOC: Dict[str, str] = {
    'device': "torch device type the cases ran on ('cpu' or 'cuda'); "
              'device_name gives the model and thread count',
    'size': 'image size [H, W] in pixels (training inputs are padded to '
            'the patch size, like SegDataPreProcessor size_divisor)',
    'dtype': 'fp32, or bf16/fp16 = torch.autocast on the device (weights '
             'and optimizer in fp32; fp16 adds a GradScaler)',
    'results.ms_median/ms_min/ms_max': 'wall time of one step (training: '
        'forward + backward + AdamW step on batch_size.train images; '
        'inference: one pass over batch_size.infer images, tiles included), '
        'in ms, over `steps` timed steps after `warmup` untimed ones; on '
        'CUDA each step is bracketed by torch.cuda.synchronize',
    'results.peak_mb': 'CUDA: torch.cuda.max_memory_allocated during the '
        'case (weights + optimizer state + activations; the AdamW state is '
        'created before measuring, so the figure is the steady-state one '
        'even with --warmup 0), MiB. CPU: growth '
        'of the process resident set size over its value just before the '
        "case's model was built (sampled every 2 ms from /proc/self/statm "
        'and checked against getrusage ru_maxrss), MiB; each CPU case runs '
        'in a fresh subprocess unless isolated_processes is false, in which '
        'case memory kept by the allocator from earlier cases can hide part '
        'of the growth',
    'results.tokens': 'tokens the encoder processes per image and pass '
        '(tiled: tiles x tokens per tile; flow: per frame, the encoder sees '
        'both frames)',
    'results.gflops': 'analytic GFLOPs per image (1 multiply-add = 2 '
        'FLOPs). Encoder: per layer 24*N*C^2 + 4*N^2*C on each sequence '
        'of N tokens (windows of one image form one sequence, each tile its '
        'own), times depth, plus the patch embedding. Neck + decode head: '
        'convolution/linear FLOPs counted from the real modules on the meta '
        'device (torch.utils.flop_counter). Norms, activations, softmax, '
        'RoPE, resizes, the loss and the optimizer are not counted. '
        'Flow: the whole forward (2-frame encoder, cross-attention decoder, '
        'DPT head) is counted on the meta device by torch.utils.flop_counter '
        '(its encoder part equals the formula above). Training cases = 3 x '
        'forward',
    'results.tiles': 'tiles per image for tiled_infer* cases, null otherwise',
    'attention_backend': 'SDPA backend forced for every case with '
        'torch.nn.attention.sdpa_kernel after a forward+backward probe '
        '(auto: first of flash, efficient, cudnn, math that runs)',
    'windows': 'Win-Win geometry: number and side (patches) of the windows, '
        'their token share, and the equal-budget crop side',
    'ratios': 'A/B ratios of ms_median, gflops and peak_mb for '
        'fullres_train/winwin_train, crop_train/winwin_train and '
        'tiled_infer*/whole_infer',
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
        '| case | ms median | ms min | ms max | peak MB | tokens/img | '
        'GFLOPs/img | tiles/img | TFLOP/s |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for name, r in report['results'].items():
        imgs = bs.get('train' if name.endswith('_train') else 'infer', 1)
        tput = r['gflops'] * imgs / r['ms_median'] if r['ms_median'] else None
        lines.append(
            f"| {name} | {r['ms_median']:.1f} | {r['ms_min']:.1f} | "
            f"{r['ms_max']:.1f} | {r['peak_mb']:.0f} | {r['tokens']} | "
            f"{r['gflops']:.1f} | {'-' if r['tiles'] is None else r['tiles']}"
            f" | {_fmt(tput)} |")
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
