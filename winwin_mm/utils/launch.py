"""Config adjustments shared by tools/train.py and tools/test.py."""
import logging
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from winwin_mm.utils.config_check import check_top_level, validate_config
from winwin_mm.utils.validation import ConfigError


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


def use_safe_checkpoints(cfg: Config) -> None:
    """Configs written for plain MMSegmentation get winwin_mm's checkpoint
    safety too: MMEngine's ``CheckpointHook`` becomes
    ``winwin_mm.AtomicCheckpointHook`` (same arguments) and
    ``winwin_mm.CheckpointMatchHook`` is added, as is
    ``winwin_mm.DatasetCheckHook`` (files and labels checked before
    training)."""
    ckpt = cfg.get('default_hooks', {}).get('checkpoint')
    if ckpt is not None and ckpt.get('type') in ('CheckpointHook',
                                                 'mmengine.CheckpointHook'):
        ckpt['type'] = 'winwin_mm.AtomicCheckpointHook'
    hooks = list(cfg.get('custom_hooks', []))
    if not any('CheckpointMatchHook' in str(h.get('type')) for h in hooks):
        hooks = hooks + [dict(type='winwin_mm.CheckpointMatchHook')]
    if not any('DatasetCheckHook' in str(h.get('type')) for h in hooks):
        # the split's files and labels, checked before the first iteration
        hooks = hooks + [dict(type='winwin_mm.DatasetCheckHook')]
    cfg.custom_hooks = hooks


def log_progress_often(cfg: Config) -> None:
    """A short training run logs at least 10 times (a 20-iteration run
    under the configs' ``interval=50`` printed no training line)."""
    iters = cfg.get('train_cfg', {}).get('max_iters')
    if not iters:
        return
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = {}
    if 'logger' not in cfg.default_hooks:
        # without an entry the Runner adds LoggerHook(interval=10)
        cfg.default_hooks['logger'] = dict(type='LoggerHook', interval=10)
    logger = cfg.default_hooks['logger']
    if logger is None:  # logging switched off on purpose
        return
    interval = logger.get('interval', 10)
    if interval > max(1, iters // 10):
        logger['interval'] = max(1, iters // 10)
        print_log(f'{iters} training iterations: logging every '
                  f'{logger["interval"]} (was {interval}).', logger='current')


def prepare_cfg(cfg: Config, args) -> Config:
    """Validate the config as given (file and ``--cfg-options``:
    :func:`~winwin_mm.utils.config_check.validate_config`), apply the CLI
    (work dir, cfg-options, AMP, launcher), make the
    config run on the available device (on a machine without CUDA, SyncBN
    becomes BN and multi-process runs use the gloo backend on CPU) and use
    winwin_mm's checkpoint safety (:func:`use_safe_checkpoints`)."""
    cfg.launcher = args.launcher
    source = getattr(args, 'config', None) or cfg.filename or 'the config'
    options = args.cfg_options or {}
    try:
        check_top_level(cfg, source, options)
        cfg.merge_from_dict(options)
        validate_config(cfg, source + (' with --cfg-options' if options
                                       else ''), top_level=False)
    except ConfigError as e:
        raise SystemExit(str(e)) from None
    use_safe_checkpoints(cfg)
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
        run_without_cuda(cfg)
        if args.launcher != 'none':
            cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
            cfg.env_cfg.dist_cfg['backend'] = 'gloo'
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None)
            init_cpu_process_group()
    return cfg


def run_without_cuda(cfg: Config) -> None:
    """Make a GPU config build on a machine without CUDA, in place, and say
    what changed: ``AmpOptimWrapper`` becomes a float32 ``OptimWrapper``
    and SyncBN becomes BN. Every path that builds a Runner from a config
    on CPU calls it (``prepare_cfg``, the ablation worker)."""
    if optim_wrapper_without_cuda(cfg.get('optim_wrapper', {})):
        print_log('No CUDA device: AmpOptimWrapper (mixed precision) '
                  'runs as a float32 OptimWrapper.', logger='current')
    if replace_syncbn(cfg.get('model', {})):
        print_log('No CUDA device: SyncBN layers are built as BN.',
                  logger='current')


def set_max_iters(cfg: Config, iters: int) -> None:
    """Train ``iters`` iterations instead of ``train_cfg.max_iters``, in
    place, with the whole schedule (warm-up, decay: every
    ``param_scheduler``'s begin / end) rescaled to the new length, so a
    short run still warms up and decays; each scheduler keeps at least one
    iteration."""
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}.')
    f = iters / cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = iters
    for s in cfg.get('param_scheduler', []):
        s.begin = int(s.get('begin', 0) * f)
        s.end = max(s.begin + 1, int(round(s.get('end', iters / f) * f)))


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
