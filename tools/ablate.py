"""The paper's masking-configuration study on any mmseg dataset config.

Trains and evaluates, from the same initialisation and seed, the variants
fullres / win2 / win1 / win4 / random / lowres (see winwin_mm/ablation),
each tested at full resolution (win1 also with sliding windows), and writes
DIR/results.json, DIR/results.md, DIR/results.png plus each variant's logs
and checkpoint under DIR/<variant>/.

    python tools/ablate.py configs/winwin_vits_camvid.py \
        --data-root ../shared/data/seg/camvid --iters 300 --out work_dirs/ablate
"""
import argparse
import copy
import json
import os
import os.path as osp
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Win-Win masking study')
    p.add_argument('config', help='a Win-Win segmentation config (with '
                   'RandomWindows in its train pipeline)')
    p.add_argument('--variants', nargs='+',
                   default=['fullres', 'win2', 'win1', 'win4', 'random',
                            'lowres'])
    p.add_argument('--iters', type=int, default=None,
                   help='training iterations per variant (config default)')
    p.add_argument('--time-budget', type=float, default=None,
                   help='also stop each variant after this many seconds of '
                   'training (equal-time comparison); the lr schedule is '
                   'the one of --iters')
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--eval-split', default='val',
                   help='split evaluated (val, test, ...): replaces "val" '
                   'in the eval dataset\'s ann_file / data_prefix')
    p.add_argument('--data-root', default=None,
                   help='dataset root for training and evaluation')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='extra key=value overrides (passed to every variant)')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _split_path(path: str, split: str) -> str:
    return re.sub(r'(^|/)val(/|\.txt$|$)', lambda m: m.group(1) + split +
                  m.group(2), path)


def prepare_base(args):
    """The config all variants share: data root, split, iterations, seed."""
    from mmengine.config import Config, DictAction  # noqa: F401
    import winwin_mm  # noqa: F401
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        opts = {}
        for kv in args.cfg_options:
            k, v = kv.split('=', 1)
            opts[k] = eval(v, {}, {}) if re.match(r'^[\d\[\(\.\-]', v) or \
                v in ('True', 'False', 'None') else v
        cfg.merge_from_dict(opts)
    loaders = ['train_dataloader', 'val_dataloader', 'test_dataloader']
    for name in loaders:
        ds = cfg[name].dataset
        if args.data_root:
            ds.data_root = osp.abspath(args.data_root)
        cfg[name].num_workers = min(cfg[name].get('num_workers', 2), 2)
    for name in loaders[1:]:
        ds = cfg[name].dataset
        if args.eval_split != 'val':
            if ds.get('ann_file'):
                ds.ann_file = _split_path(ds.ann_file, args.eval_split)
            for k, v in dict(ds.get('data_prefix', {})).items():
                ds.data_prefix[k] = _split_path(v, args.eval_split)
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size
    if args.iters:
        # the schedule (warm-up, decay) is rescaled to the new length
        f = args.iters / cfg.train_cfg.max_iters
        cfg.train_cfg.max_iters = args.iters
        for s in cfg.get('param_scheduler', []):
            s.begin = int(s.get('begin', 0) * f)
            s.end = max(s.begin + 1, int(round(s.get('end', args.iters / f)
                                               * f)))
    # no validation inside train(): each variant is evaluated once after it
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False,
        interval=cfg.train_cfg.max_iters, save_last=True, max_keep_ckpts=1)
    cfg.randomness = dict(seed=args.seed)
    return cfg


def image_grid(cfg):
    """Patch grid of the first training image after the geometric
    transforms (what RandomWindows would see)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    from winwin_mm.ablation.variants import WINDOW_TYPES, _strip_windows
    init_default_scope('mmseg')
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline, win = _strip_windows(ds_cfg.pipeline)
    ds_cfg.pipeline = [t for t in pipeline if 'Pack' not in str(t['type'])
                       and t['type'] not in WINDOW_TYPES]
    sample = DATASETS.build(ds_cfg)[0]
    h, w = sample['img_shape'][:2]
    p = win.get('patch_size', 16)
    return (h // p, w // p), (h, w)


def run_variant(cfg_path: str, desc_path: str, out_json: str,
                time_budget=None):
    """Worker: train one variant, evaluate it, write its metrics."""
    import torch
    from mmengine.config import Config, ConfigDict
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    import winwin_mm  # noqa: F401

    class TimeBudgetHook(Hook):
        def __init__(self, seconds):
            self.seconds, self.t0 = seconds, None

        def before_train(self, runner):
            self.t0 = time.time()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if self.seconds and time.time() - self.t0 > self.seconds:
                runner.train_loop._max_iters = runner.iter + 1
                runner.logger.info(f'time budget {self.seconds:.0f} s '
                                   f'reached at iteration {runner.iter + 1}')

    class IterTimeHook(Hook):
        """Wall time of every training iteration: their median is a cost
        figure that other jobs on a shared machine disturb less than the
        total."""
        def __init__(self):
            self.times, self.t0 = [], None

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self.t0 = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            self.times.append(time.perf_counter() - self.t0)

    cfg = Config.fromfile(cfg_path)
    with open(desc_path) as f:
        desc = json.load(f)
    if not torch.cuda.is_available():
        from winwin_mm.utils.launch import _replace_syncbn
        _replace_syncbn(cfg.model)
    runner = Runner.from_cfg(cfg)
    if time_budget:
        runner.register_hook(TimeBudgetHook(time_budget), priority='LOW')
    iter_times = IterTimeHook()
    runner.register_hook(iter_times, priority='LOWEST')
    t0 = time.time()
    runner.train()
    train_s = time.time() - t0
    iters_done = runner.iter
    result = dict(train_s=round(train_s, 1), iters=iters_done,
                  tokens_per_image=desc['tokens_per_image'],
                  iter_s_median=round(statistics.median(iter_times.times),
                                      4) if iter_times.times else None)
    if torch.cuda.is_available():
        result['peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
    else:
        result['peak_mb'] = resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024
    evals = {}
    for mode in desc['eval_modes']:
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        model.test_cfg = ConfigDict(desc.get(mode, dict(mode='whole')))
        t0 = time.time()
        metrics = runner.val_loop.run()
        evals[mode] = dict(mIoU=float(metrics['mIoU']),
                           aAcc=float(metrics['aAcc']),
                           eval_s=round(time.time() - t0, 1))
    result['evals'] = evals
    with open(out_json, 'w') as f:
        json.dump(result, f, indent=1)


def run_worker(cmd, log_path: str, name: str) -> int:
    """Run one variant's worker; its whole output goes to ``log_path`` and
    mmengine's iteration lines (with their ``eta``) also to the console."""
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                bufsize=1)
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if 'Iter(train)' in line or 'Iter(val)' in line:
                print(f'  {name}: {line.split(" - INFO - ")[-1].rstrip()}',
                      flush=True)
        return proc.wait()


def write_reports(out: str, summary: dict) -> None:
    rows = ['| variant | eval | tokens/img | iters | train s | s/iter '
            '(median) | mIoU | aAcc | peak MB |',
            '|---|---|---|---|---|---|---|---|---|']
    for name, r in summary['variants'].items():
        med = r.get('iter_s_median')
        rows.append(f'| {name} | {r["eval_mode"]} | {r["tokens_per_image"]} '
                    f'| {r["iters"]} | {r["train_s"]:.0f} | '
                    f'{"-" if med is None else f"{med:.2f}"} | '
                    f'{r["mIoU"]:.2f} | {r["aAcc"]:.2f} | '
                    f'{r["peak_mb"]:.0f} |')
    text = (f'Config `{summary["config"]}`, {summary["iters"]} iterations, '
            f'evaluated on `{summary["eval_split"]}` at full resolution.\n\n'
            + '\n'.join(rows) + '\n')
    with open(osp.join(out, 'results.md'), 'w') as f:
        f.write(text)
    print(text)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    # a legend, not point labels: variants of equal cost (win1, win2,
    # win1 with slide test) sit on top of each other
    markers = 'osD^vP*Xh'
    for i, (name, r) in enumerate(summary['variants'].items()):
        ax.scatter(r['train_s'], r['mIoU'], marker=markers[i % len(markers)],
                   label=f'{name} ({r["mIoU"]:.1f})')
    ax.legend(loc='lower right', fontsize=8)
    ax.set_xlabel('training time (s)')
    ax.set_ylabel('mIoU at full resolution')
    ax.set_title(osp.basename(summary['config']))
    ax.grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(osp.join(out, 'results.png'), dpi=100)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        cfg_path, desc_path, out_json = args.worker.split(',')
        return run_variant(cfg_path, desc_path, out_json, args.time_budget)
    from mmengine.logging import print_log
    from winwin_mm.ablation import VARIANTS, make_variant
    from winwin_mm.utils.progress import estimate_remaining, progress_line
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        raise SystemExit(f'Unknown variants {bad}; choose from {VARIANTS}.')
    os.makedirs(args.out, exist_ok=True)
    base = prepare_base(args)
    grid, hw = image_grid(base)
    print_log(f'training images {hw[0]}x{hw[1]} -> {grid[0]}x{grid[1]} '
              'tokens', logger='current')
    summary = dict(variants={}, config=args.config,
                   iters=base.train_cfg.max_iters,
                   eval_split=args.eval_split, image_size=list(hw),
                   grid=list(grid), time_budget=args.time_budget)
    variants = {v: make_variant(base, v, grid) for v in args.variants}
    done, start = [], time.time()
    for i, name in enumerate(args.variants, 1):
        cfg, desc = variants[name]
        wd = osp.abspath(osp.join(args.out, name))
        os.makedirs(wd, exist_ok=True)
        cfg.work_dir = wd
        cfg_path = osp.join(wd, 'variant_config.py')
        cfg.dump(cfg_path)
        desc_path = osp.join(wd, 'variant.json')
        with open(desc_path, 'w') as f:
            json.dump(desc, f)
        res_path = osp.join(wd, 'metrics.json')
        print_log(f'[{i}/{len(args.variants)}] {name}: '
                  f'{desc["tokens_per_image"]} tokens per image', logger='current')
        cmd = [sys.executable, osp.abspath(__file__), args.config, '--out',
               args.out, '--worker', f'{cfg_path},{desc_path},{res_path}']
        if args.time_budget:
            cmd += ['--time-budget', str(args.time_budget)]
        t_variant = time.time()
        rc = run_worker(cmd, osp.join(wd, 'worker.log'), name)
        if rc != 0:
            raise SystemExit(f'variant {name} failed (exit {rc}); see '
                             f'{osp.join(wd, "worker.log")}')
        with open(res_path) as f:
            r = json.load(f)
        for mode, ev in r['evals'].items():
            key = name if mode == 'whole' else f'{name}_{mode}'
            summary['variants'][key] = dict(
                mIoU=ev['mIoU'], aAcc=ev['aAcc'], train_s=r['train_s'],
                peak_mb=round(r['peak_mb'], 1),
                tokens_per_image=r['tokens_per_image'], eval_mode=mode,
                iters=r['iters'], eval_s=ev['eval_s'],
                iter_s_median=r.get('iter_s_median'))
        with open(osp.join(args.out, 'results.json'), 'w') as f:
            json.dump(summary, f, indent=1)
        # time left: the remaining variants' tokens x iterations at the rate
        # measured so far, plus their evaluations at the mean so far
        done.append((desc['tokens_per_image'], r['train_s'],
                     sum(ev['eval_s'] for ev in r['evals'].values()),
                     len(r['evals'])))
        left = [variants[v][1] for v in args.variants[i:]]
        eval_rate = sum(d[2] for d in done) / sum(d[3] for d in done)
        eta = estimate_remaining([d[0] for d in done], [d[1] for d in done],
                                 [d['tokens_per_image'] for d in left])
        eta += eval_rate * sum(len(d['eval_modes']) for d in left)
        print_log(progress_line(i, len(args.variants), name,
                                time.time() - start, eta) +
                  f' ({name}: {time.time() - t_variant:.0f} s)',
                  logger='current')
    write_reports(args.out, summary)
    return summary


if __name__ == '__main__':
    main()
