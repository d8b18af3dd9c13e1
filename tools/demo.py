"""The `make demo` job: generate the demo dataset (once), train a small RoPE
ViT with Win-Win on it, evaluate whole at full resolution, print the mIoU.

    python tools/demo.py [--work-dir work_dirs/winwin_demo] [--iters N]
"""
import argparse
import glob
import os
import os.path as osp
import sys
import time

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/winwin_demo')
    parser.add_argument('--data-root', default='data/winwin_demo')
    parser.add_argument('--iters', type=int, default=None,
                        help='training iterations (config default if unset)')
    args = parser.parse_args()

    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import winwin_mm  # noqa: F401
    from winwin_mm.datasets.synthetic_seg import generate
    from winwin_mm.benchmark.hardware import machine_load_note
    from winwin_mm.utils.launch import run_without_cuda, set_max_iters

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.time()
    print(f'[demo] generating the demo dataset under {args.data_root} '
          '(once) ...', flush=True)
    generate(args.data_root)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'winwin_demo.py'))
    cfg.work_dir = args.work_dir
    # a new run refuses a work dir with an earlier run's checkpoints; the
    # demo's are the demo's own, replaced by each demo run
    earlier = glob.glob(osp.join(args.work_dir, '*.pth'))
    if earlier:
        print(f'[demo] replacing the previous demo run\'s checkpoints in '
              f'{args.work_dir}', flush=True)
        for f in earlier + glob.glob(osp.join(args.work_dir,
                                              'last_checkpoint')):
            os.remove(f)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = args.data_root
    if args.iters:
        set_max_iters(cfg, args.iters)
    # evaluated once, below, after training
    cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    if not torch.cuda.is_available():
        run_without_cuda(cfg)
    busy = machine_load_note()
    if busy:
        print(f'[demo] {busy}', flush=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    ckpts = sorted(glob.glob(osp.join(args.work_dir, '*.pth')))
    print('\n[demo] ==================================================')
    print(f'[demo] Win-Win (2 windows of 12x12 patches, 25% of tokens) '
          f'trained {cfg.train_cfg.max_iters} iterations;')
    print(f'[demo] evaluated whole at full resolution (384x768, one pass): '
          f'mIoU = {metrics["mIoU"]:.2f}, aAcc = {metrics["aAcc"]:.2f}')
    print(f'[demo] logs:        {osp.join(args.work_dir, runner.timestamp)}')
    print(f'[demo] checkpoints: {", ".join(ckpts) or "(none)"}')
    print(f'[demo] total time:  {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
