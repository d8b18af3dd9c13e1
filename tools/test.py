"""Evaluate a checkpoint (MMSegmentation's tools/test.py command line).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show] [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]

``--show-dir DIR`` draws every test image (under DIR/vis_data/vis_image;
``--cfg-options default_hooks.visualization.test_interval=N`` draws every
N-th batch). A checkpoint that does not fit the model stops the run with
the key report (``--cfg-options load_strict=False`` loads the matching keys
only).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import winwin_mm  # noqa: E402,F401  registers components, checkpoint compat
from winwin_mm.utils.torch_compat import directory_message  # noqa: E402
from winwin_mm.utils.launch import (  # noqa: E402
    finish_distributed, prepare_cfg)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='dir for the evaluation metrics')
    parser.add_argument('--out', type=str,
                        help='dir to save predictions (segmentation maps)')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results')
    parser.add_argument('--show-dir',
                        help='dir where painted predictions are saved')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise SystemExit('--show/--show-dir need a "visualization" entry in '
                         'default_hooks (e.g. SegVisualizationHook).')
    vis = hooks['visualization']
    if vis.get('type') in ('SegVisualizationHook',
                           'mmseg.SegVisualizationHook'):
        # mmseg's draws every 50th image only and reads runner.iter, which
        # builds the training dataloader; ours draws every test image
        vis['type'] = 'winwin_mm.SegVisualizationHook'
    vis['draw'] = True
    if args.show:
        vis['show'] = True
        vis['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def main():
    args = parse_args()
    if osp.isdir(args.checkpoint):
        raise SystemExit(directory_message(args.checkpoint))
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'Checkpoint {args.checkpoint} does not exist.')
    cfg = prepare_cfg(Config.fromfile(args.config), args)
    if args.work_dir is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    runner = Runner.from_cfg(cfg)
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
