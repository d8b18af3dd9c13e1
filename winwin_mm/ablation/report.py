"""Summaries of the masking study: seeds aggregated per variant, and the
results.md / results.png files."""
import os.path as osp
import statistics
from typing import Dict, List

BANDS = ('mIoU_border', 'mIoU_centre', 'err_border', 'err_centre')


def _mean(xs: List[float]) -> float:
    xs = [x for x in xs if x == x]  # drop NaN (class absent in a run)
    return round(statistics.fmean(xs), 2) if xs else float('nan')


def aggregate(runs: List[dict]) -> dict:
    """Per-seed records of one variant/eval mode -> its summary: ``mIoU``
    (mean over seeds), ``mIoU_std`` (sample std, 0 for one seed),
    ``seeds``, ``per_class_iou`` {class: mean IoU}, the border / centre
    means, costs (means; ``peak_mb`` the maximum) and the ``runs``."""
    runs = sorted(runs, key=lambda r: r['seed'])  # parallel runs end in any order
    m = [r['mIoU'] for r in runs]
    out = dict(
        seeds=[r['seed'] for r in runs], mIoU=_mean(m),
        mIoU_std=round(statistics.stdev(m), 2) if len(m) > 1 else 0.,
        aAcc=_mean([r['aAcc'] for r in runs]),
        per_class_iou={
            c: _mean([r['per_class_iou'][c] for r in runs])
            for c in runs[0]['per_class_iou']
        },
        eval_mode=runs[0]['eval_mode'],
        tokens_per_image=runs[0]['tokens_per_image'],
        iters=runs[0]['iters'],
        train_s=round(statistics.fmean(r['train_s'] for r in runs), 1),
        eval_s=round(statistics.fmean(r['eval_s'] for r in runs), 1),
        peak_mb=max(r['peak_mb'] for r in runs), runs=runs)
    med = [r['iter_s_median'] for r in runs if r.get('iter_s_median')]
    out['iter_s_median'] = round(statistics.fmean(med), 4) if med else None
    for k in BANDS:
        if k in runs[0]:
            out[k] = _mean([r[k] for r in runs])
    return out


def _fmt(v, spec='.1f') -> str:
    return '-' if v is None or v != v else format(v, spec)


def paired_differences(variants: Dict[str, dict], ref: str = 'win2'
                       ) -> Dict[str, dict]:
    """``ref``'s mIoU minus each other variant's, seed by seed, over the
    seeds both ran: {variant: dict(seeds, diffs, mean, std)}. The seed moves
    every variant together (same initial head, same data order), so these
    paired differences are tighter than the spreads of the means. Empty
    when ``ref`` is absent."""
    if ref not in variants:
        return {}
    base = {r['seed']: r['mIoU'] for r in variants[ref]['runs']}
    out = {}
    for name, v in variants.items():
        if name == ref:
            continue
        pairs = [(r['seed'], base[r['seed']] - r['mIoU'])
                 for r in sorted(v['runs'], key=lambda r: r['seed'])
                 if r['seed'] in base]
        if not pairs:
            continue
        diffs = [round(d, 2) for _, d in pairs]
        out[name] = dict(
            seeds=[s for s, _ in pairs], diffs=diffs,
            mean=round(statistics.fmean(diffs), 2),
            std=round(statistics.stdev(diffs), 2) if len(diffs) > 1 else 0.)
    return out


def _per_seed_table(vs: Dict[str, dict], seeds: List[int],
                    ref: str = 'win2') -> str:
    paired = paired_differences(vs, ref)
    text = ('\nPer seed (the seed moves every variant together, so the '
            f'paired differences, {ref} minus the variant on the same seed, '
            'are the figures to compare):\n\n| variant | ' +
            ' | '.join(f'seed {s}' for s in seeds) +
            f' | {ref} minus variant (mean +- std) |\n|---|' +
            '---|' * (len(seeds) + 1) + '\n')
    for name, r in vs.items():
        by_seed = {x['seed']: x['mIoU'] for x in r['runs']}
        cells = [_fmt(by_seed.get(s), '.2f') for s in seeds]
        p = paired.get(name)
        diff = ('' if p is None else ' / '.join(f'{d:+.2f}' for d in
                                                 p['diffs']) +
                f' ({p["mean"]:+.2f} +- {p["std"]:.2f})')
        text += f'| {name} | ' + ' | '.join(cells) + f' | {diff} |\n'
    return text


def markdown(summary: dict) -> str:
    """results.md: the main table, per-position errors, per-class IoU and
    (when run) the equal-time view."""
    vs: Dict[str, dict] = summary['variants']
    rows = ['| variant | eval | tokens/img | iters | train s | s/iter '
            '(median) | mIoU (mean +- std) | aAcc | peak MB |',
            '|---|---|---|---|---|---|---|---|---|']
    for name, r in vs.items():
        rows.append(
            f'| {name} | {r["eval_mode"]} | {r["tokens_per_image"]} | '
            f'{r["iters"]} | {r["train_s"]:.0f} | '
            f'{_fmt(r.get("iter_s_median"), ".2f")} | {r["mIoU"]:.2f} '
            + (f'+- {r["mIoU_std"]:.2f}' if len(r['seeds']) > 1 else
               '(1 seed)') +
            f' | {r["aAcc"]:.2f} | {r["peak_mb"]:.0f} |')
    seeds = sorted({s for r in vs.values() for s in r['seeds']})
    every = summary.get('eval_every', 1)
    images = f'{summary.get("eval_images", "all")} images' + (
        f', every {every}-th' if every > 1 else '')
    text = (f'Config `{summary["config"]}`, {summary["iters"]} iterations, '
            f'seeds {seeds}, evaluated on `{summary["eval_split"]}` '
            f'({images}) at full resolution. Peak memory: '
            f'{summary.get("memory", "")}.\n\n' +
            '\n'.join(rows) + '\n')
    merged = summary.get('merged_from') or []
    if len(merged) > 1:
        text += (f'\nMerged from {len(merged)} studies: each run keeps its '
                 'own seconds, so times compare across studies only when '
                 'they ran on equally loaded machines.\n')
    if len(seeds) > 1:
        text += _per_seed_table(vs, seeds)
    if any('err_border' in r for r in vs.values()):
        text += ('\nError by position (border band: within '
                 f'{summary.get("border", 0.125):g} of the height / width '
                 'from the edge; means over seeds):\n\n| variant | mIoU '
                 'border | mIoU centre | pixel error border % | pixel error '
                 'centre % |\n|---|---|---|---|---|\n')
        for name, r in vs.items():
            text += (f'| {name} | {_fmt(r.get("mIoU_border"))} | '
                     f'{_fmt(r.get("mIoU_centre"))} | '
                     f'{_fmt(r.get("err_border"))} | '
                     f'{_fmt(r.get("err_centre"))} |\n')
    classes = list(next(iter(vs.values()))['per_class_iou'])
    if classes:
        text += ('\nPer-class IoU (mean over seeds):\n\n| variant | ' +
                 ' | '.join(classes) + ' |\n|---|' + '---|' * len(classes) +
                 '\n')
        for name, r in vs.items():
            text += f'| {name} | ' + ' | '.join(
                _fmt(r['per_class_iou'][c]) for c in classes) + ' |\n'
    eq = summary.get('equal_time')
    if eq:
        text += (f'\nEqual time: what each variant reaches within '
                 f'{eq["budget_s"]:.0f} s of training (the cheapest '
                 f'variant, {eq["cheapest"]}), from its logged checkpoints '
                 '(mean over seeds):\n\n| variant | iteration | training s '
                 '| mIoU |\n|---|---|---|---|\n')
        for name, r in eq['variants'].items():
            text += (f'| {name} | {_fmt(r.get("iters"), ".0f")} | '
                     f'{_fmt(r.get("train_s"), ".0f")} | '
                     f'{_fmt(r.get("mIoU"), ".2f")} |\n')
    return text


def write_reports(out: str, summary: dict) -> str:
    text = markdown(summary)
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write(text)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    # a legend, not point labels: variants of equal cost (win1, win2,
    # win1 with slide test) sit on top of each other
    markers = 'osD^vP*Xh<>'
    for i, (name, r) in enumerate(summary['variants'].items()):
        ax.errorbar(r['train_s'], r['mIoU'], yerr=r['mIoU_std'] or None,
                    marker=markers[i % len(markers)], linestyle='none',
                    capsize=3, label=f'{name} ({r["mIoU"]:.1f})')
    ax.legend(loc='lower right', fontsize=8)
    ax.set_xlabel('training time (s)')
    ax.set_ylabel('mIoU at full resolution')
    ax.set_title(osp.basename(summary['config']))
    ax.grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(osp.join(out, 'results.png'), dpi=100)
    plt.close(fig)
    return text
