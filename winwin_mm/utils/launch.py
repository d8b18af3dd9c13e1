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
    compile_cfg = cfg.get('compile', None)
    if (isinstance(compile_cfg, dict)
            and compile_cfg.get('mode') == 'reduce-overhead'
            and not torch.cuda.is_available()):
        raise SystemExit('compile=dict(mode=\'reduce-overhead\') captures '
                         'the step in CUDA graphs and needs a CUDA GPU; on '
                         'this machine use compile=True or drop it.')
    if not torch.cuda.is_available():
        if optim_wrapper_without_cuda(cfg.get('optim_wrapper', {})):
            print_log('No CUDA device: AmpOptimWrapper (mixed precision) '
                      'runs as a float32 OptimWrapper.', logger='current')
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


def optim_wrapper_without_cuda(optim_wrapper: dict) -> bool:
    """Make a config's ``optim_wrapper`` buildable without CUDA, in place:
    MMEngine's ``AmpOptimWrapper`` refuses to build there, so it becomes a
    float32 ``OptimWrapper`` (its ``dtype`` / ``loss_scale`` / ``use_fsdp``
    dropped; the optimizer, clipping and constructor kept). Returns whether
    it changed anything. Used by ``prepare_cfg`` when there is no CUDA; call
    it before ``build_optim_wrapper`` in other CPU code paths."""
    if optim_wrapper.get('type') != 'AmpOptimWrapper':
        return False
    optim_wrapper['type'] = 'OptimWrapper'
    for key in ('dtype', 'loss_scale', 'use_fsdp'):
        optim_wrapper.pop(key, None)
    return True


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
