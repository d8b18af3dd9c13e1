"""Config adjustments shared by tools/train.py and tools/test.py."""
import logging
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import print_log


def replace_syncbn(node) -> int:
    """SyncBN -> BN in a config tree (SyncBN needs CUDA); returns count."""
    n = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            n += 1
        for v in node.values():
            n += replace_syncbn(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            n += replace_syncbn(v)
    return n


def prepare_cfg(cfg: Config, args) -> Config:
    """Apply the CLI (work dir, cfg-options, AMP, launcher) and make the
    config run on the available device: on a machine without CUDA, SyncBN
    becomes BN and multi-process runs use the gloo backend on CPU."""
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if getattr(args, 'amp', False):
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA GPU (mixed precision is not '
                             'supported on CPU here); drop --amp on this '
                             'machine.')
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('dtype', 'bfloat16')
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if not torch.cuda.is_available():
        if replace_syncbn(cfg.get('model', {})):
            print_log('No CUDA device: SyncBN layers are built as BN.',
                      logger='current')
        if args.launcher != 'none':
            cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
            cfg.env_cfg.dist_cfg['backend'] = 'gloo'
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None)
            init_cpu_process_group()
    return cfg


def init_cpu_process_group() -> None:
    """torchrun + no GPU: start the gloo process group here, because
    MMEngine's ``init_dist`` calls ``torch.cuda.set_device``."""
    import torch.distributed as dist
    if not dist.is_initialized():
        if 'RANK' not in os.environ:
            raise SystemExit('--launcher pytorch needs torchrun (see '
                             'tools/dist_train.sh).')
        dist.init_process_group(backend='gloo')


def finish_distributed() -> None:
    """End a multi-process run cleanly: wait for every rank, then destroy
    the process group. Leaving it to interpreter exit can abort a gloo rank
    ("terminate called without an active exception", SIGABRT) while its
    background threads are torn down, failing a run that trained fine."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
