"""Train a segmentor (or flow model) with winwin_mm components.

Same command line as MMSegmentation's tools/train.py:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|FILE]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import winwin_mm  # noqa: E402,F401  registers components, checkpoint compat
from winwin_mm.engine.resume import plan_resume  # noqa: E402
from winwin_mm.datasets.checks import DatasetCheckError  # noqa: E402
from winwin_mm.utils.launch import (  # noqa: E402
    finish_distributed, log_progress_often, prepare_cfg)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', const='yes', default=None,
        metavar='auto|CHECKPOINT',
        help='resume from the newest complete checkpoint of the work dir '
        '(an error when there is none); "--resume auto": resume if there is '
        'one, else start from scratch; "--resume FILE": from that file. '
        'Without it the config\'s resume (True / "auto") decides')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training (GPU)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = prepare_cfg(Config.fromfile(args.config), args)
    plan_resume(cfg, args.resume)
    log_progress_often(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    try:
        runner.train()
    except DatasetCheckError as e:  # found before the first iteration
        raise SystemExit(str(e)) from None
    finish_distributed()


if __name__ == '__main__':
    main()
