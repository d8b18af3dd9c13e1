"""The paper's masking-configuration study on any mmseg dataset config.

Trains and evaluates, from the same initialisation, schedule and seeds, the
variants fullres / win2 / win1 / win4 / random / win2_scatter / lowres (see
winwin_mm/ablation/variants.py), each tested at full resolution (win1 also
with sliding windows), and writes DIR/results.json, DIR/results.md,
DIR/results.png, and each run's config, job, log, metrics and checkpoints
under DIR/<variant>/seed<S>/.

    python tools/ablate.py configs/winwin_vits_camvid.py \
        --data-root ../shared/data/seg/camvid --iters 300 --seeds 0 1 \
        --out work_dirs/ablate
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from mmengine.config import DictAction  # noqa: E402
from winwin_mm.utils.validation import positive_int  # noqa: E402

DEFAULT_VARIANTS = ['fullres', 'win2', 'win1', 'win4', 'random',
                    'win2_scatter', 'lowres']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Win-Win masking study')
    p.add_argument('config', nargs='?', help='a Win-Win segmentation config '
                   '(with RandomWindows in its train pipeline)')
    p.add_argument('--merge', nargs='+', metavar='DIR',
                   help='train nothing: merge the results.json of earlier '
                   'studies (e.g. one seed each) into --out and rewrite the '
                   'reports')
    p.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS)
    p.add_argument('--seeds', nargs='+', type=int, default=[0],
                   help='one run per variant and seed; results give the '
                   'mean and std over seeds')
    p.add_argument('--iters', type=positive_int, default=None,
                   help='training iterations per variant (config default)')
    p.add_argument('--time-budget', type=float, default=None,
                   help='also stop each run after this many seconds of '
                   'training (the lr schedule is the one of --iters)')
    p.add_argument('--equal-time', type=int, default=0, metavar='K',
                   help='save K evenly spaced checkpoints per run and report '
                   'what each variant reaches within the cheapest '
                   'variant\'s training time (evaluates those checkpoints)')
    p.add_argument('--head', choices=['config', 'uper', 'dpt'],
                   default='config', help='decode head of every variant: the '
                   'config\'s, UPerHead (with MultiLevelNeck) or the DPT '
                   'head (no global pooling)')
    p.add_argument('--parallel', type=positive_int, default=1,
                   help='runs at once (e.g. several on one GPU)')
    p.add_argument('--batch-size', type=positive_int, default=None)
    p.add_argument('--num-workers', type=int, default=None,
                   help='data-loader workers per run (default: the '
                   'config\'s, at most 2 without a GPU)')
    p.add_argument('--eval-split', default='val',
                   help='split evaluated (val, test, ...): replaces "val" '
                   'in the eval dataset\'s ann_file / data_prefix')
    p.add_argument('--eval-every', type=positive_int, default=1, metavar='K',
                   help='evaluate on every K-th image of the eval split only '
                   '(cheaper, noisier; reported in results)')
    p.add_argument('--data-root', default=None,
                   help='dataset root for training and evaluation')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='key=value overrides of the config (every variant)')
    p.add_argument('--out', required=True, help='output folder')
    args = p.parse_args(argv)
    if not args.config and not args.merge:
        p.error('give a config (or --merge DIR ...)')
    if args.parallel < 1:
        p.error('--parallel must be >= 1')
    return args


def pump(proc, log_path: str, name: str) -> None:
    """Copy a run's output to its log; mmengine's iteration lines (with
    their eta) also go to the console, prefixed with the run's name."""
    with open(log_path, 'w') as log:
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if 'Iter(train)' in line or 'Iter(val)' in line:
                print(f'  {name}: {line.split(" - INFO - ")[-1].rstrip()}',
                      flush=True)


def run_jobs(jobs, parallel: int, on_done) -> None:
    """Run worker jobs, ``parallel`` at once; ``on_done(job)`` after each
    (in the main thread). A failed job stops the study."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            proc = subprocess.Popen(
                [sys.executable, '-m', 'winwin_mm.ablation.worker',
                 job['path']], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
            t = threading.Thread(target=pump, daemon=True, args=(
                proc, job['log'], job['name']))
            t.start()
            running.append((job, proc, t))
        time.sleep(0.2)
        for item in list(running):
            job, proc, t = item
            if proc.poll() is None:
                continue
            t.join()
            running.remove(item)
            if proc.returncode != 0:
                for _, other, _ in running:
                    other.kill()
                raise SystemExit(f'run {job["name"]} failed (exit '
                                 f'{proc.returncode}); see {job["log"]}')
            on_done(job)


def write_job(wd: str, cfg, desc: dict, time_budget=None, load_from=None,
              tag='') -> dict:
    os.makedirs(wd, exist_ok=True)
    cfg_path = osp.join(wd, 'variant_config.py')
    if not osp.exists(cfg_path) or not load_from:
        cfg.dump(cfg_path)
    job = dict(config=cfg_path, out=osp.join(wd, f'metrics{tag}.json'),
               desc=desc, time_budget=time_budget, load_from=load_from)
    path = osp.join(wd, f'job{tag}.json')
    with open(path, 'w') as f:
        json.dump(job, f, indent=1)
    return dict(job, path=path, log=osp.join(wd, f'worker{tag}.log'))


def merge(dirs, out: str) -> dict:
    """One summary from several studies' results.json: each variant's runs
    pooled (e.g. seeds run in separate calls) and aggregated again."""
    from winwin_mm.ablation import aggregate, write_reports
    summaries = []
    for d in dirs:
        with open(osp.join(d, 'results.json')) as f:
            summaries.append(json.load(f))
    keys = ('config', 'iters', 'head', 'eval_split', 'eval_every')
    for d, s in zip(dirs[1:], summaries[1:]):
        diff = [k for k in keys if s.get(k) != summaries[0].get(k)]
        if diff:
            raise SystemExit(f'--merge: {d} differs from {dirs[0]} in '
                             f'{diff}; merge only studies of one setting.')
    runs = {}
    for s in summaries:
        for k, v in s['variants'].items():
            have = {r['seed'] for r in runs.get(k, [])}
            dup = have & {r['seed'] for r in v['runs']}
            if dup:
                raise SystemExit(f'--merge: seed(s) {sorted(dup)} of {k} '
                                 'appear in more than one study.')
            runs.setdefault(k, []).extend(v['runs'])
    summary = dict(summaries[0], merged_from=[osp.abspath(d) for d in dirs],
                   seeds=sorted({r['seed'] for v in runs.values()
                                 for r in v}))
    summary.pop('equal_time', None)
    summary['variants'] = {k: aggregate(v) for k, v in runs.items()}
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(write_reports(out, summary))
    return summary


def main(argv=None):
    args = parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    from mmengine.logging import print_log

    from winwin_mm.ablation import (VARIANTS, aggregate, eval_every,
                                    image_grid, make_variant, prepare_base,
                                    seeded, write_reports)
    from winwin_mm.ablation.equal_time import equal_time_jobs, equal_time
    from winwin_mm.ablation.heads import set_head
    from winwin_mm.utils.progress import estimate_remaining, progress_line
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        raise SystemExit(f'Unknown variants {bad}; choose from {VARIANTS}.')
    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    base = prepare_base(
        args.config, data_root=args.data_root and osp.abspath(args.data_root),
        eval_split=args.eval_split, iters=args.iters,
        batch_size=args.batch_size, num_workers=args.num_workers,
        cfg_options=args.cfg_options, checkpoints=max(1, args.equal_time))
    if args.head != 'config':
        set_head(base, args.head)
    eval_images = eval_every(base, args.eval_every)
    grid, hw = image_grid(base)
    print_log(f'training images {hw[0]}x{hw[1]} -> {grid[0]}x{grid[1]} '
              'tokens', logger='current')
    import torch
    summary = dict(variants={}, config=args.config, head=args.head,
                   iters=base.train_cfg.max_iters, seeds=args.seeds,
                   eval_split=args.eval_split, eval_every=args.eval_every,
                   eval_images=eval_images, image_size=list(hw),
                   grid=list(grid), time_budget=args.time_budget,
                   parallel=args.parallel, border=0.125,
                   memory='GPU: peak allocated tensors' if
                   torch.cuda.is_available() else 'CPU: peak RSS of the '
                   'training process')
    variants = {v: make_variant(base, v, grid) for v in args.variants}
    jobs, runs = [], {}
    for seed in args.seeds:  # seed-major: a first complete seed comes first
        for name in args.variants:
            cfg, desc = variants[name]
            wd = osp.join(out, name, f'seed{seed}')
            job = write_job(wd, seeded(cfg, seed, wd), desc,
                            args.time_budget)
            jobs.append(dict(job, name=f'{name}/seed{seed}', variant=name,
                             seed=seed, wd=wd))
    start, done = time.time(), []

    def record(job):
        with open(job['out']) as f:
            r = json.load(f)
        job['result'] = r
        for mode, ev in r['evals'].items():
            key = job['variant'] if mode == 'whole' else \
                f'{job["variant"]}_{mode}'
            runs.setdefault(key, []).append(dict(
                ev, seed=job['seed'], eval_mode=mode,
                train_s=r['train_s'], iters=r['iters'],
                peak_mb=r['peak_mb'], tokens_per_image=r['tokens_per_image'],
                iter_s_median=r.get('iter_s_median'), ckpt_s=r['ckpt_s']))
        summary['variants'] = {k: aggregate(v) for k, v in runs.items()}
        with open(osp.join(out, 'results.json'), 'w') as f:
            json.dump(summary, f, indent=1)
        write_reports(out, summary)  # partial results survive a stop
        done.append(job)
        # time left: the remaining runs' tokens x iterations at the rate
        # measured so far plus their evaluations, shared by --parallel runs
        left = [j for j in jobs if 'result' not in j]
        ev_rate = sum(sum(e['eval_s'] for e in d['result']['evals'].values())
                      for d in done) / sum(len(d['result']['evals'])
                                           for d in done)
        eta = estimate_remaining(
            [d['result']['tokens_per_image'] for d in done],
            [d['result']['train_s'] for d in done],
            [j['desc']['tokens_per_image'] for j in left])
        eta += ev_rate * sum(len(j['desc']['eval_modes']) for j in left)
        print_log(progress_line(len(done), len(jobs), job['name'],
                                time.time() - start, eta / args.parallel) +
                  f' ({job["name"]}: {r["train_s"]:.0f} s training)',
                  logger='current')

    run_jobs(jobs, args.parallel, record)
    if args.equal_time:
        extra = equal_time_jobs(jobs, variants, write_job)
        run_jobs(extra, args.parallel, lambda job: None)
        summary['equal_time'] = equal_time(jobs, extra)
        with open(osp.join(out, 'results.json'), 'w') as f:
            json.dump(summary, f, indent=1)
    print(write_reports(out, summary))
    return summary


if __name__ == '__main__':
    main()
