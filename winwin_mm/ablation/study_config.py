"""The config every variant of the masking study shares, built from a
Win-Win segmentation config and the study's options."""
import copy
import re
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from ..utils.launch import set_max_iters

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def split_path(path: str, split: str) -> str:
    """``val`` as a path component or ``val.txt`` -> ``split``."""
    return re.sub(r'(^|/)val(/|\.txt$|$)',
                  lambda m: m.group(1) + split + m.group(2), path)


def prepare_base(config: str,
                 data_root: Optional[str] = None,
                 eval_split: str = 'val',
                 iters: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 num_workers: Optional[int] = None,
                 cfg_options: Optional[dict] = None,
                 checkpoints: int = 1) -> Config:
    """The shared config: data root, evaluated split, iterations (the lr
    schedule rescaled to them), no validation inside training, and
    ``checkpoints`` evenly spaced checkpoints (the last one included).

    Data-loader workers: the config's number, capped at 2 on a machine
    without a GPU (shared CPUs), unless ``num_workers`` is given.
    """
    import winwin_mm  # noqa: F401  (registers the config's types)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    for name in LOADERS:
        loader = cfg[name]
        if data_root:
            loader.dataset.data_root = data_root
        if num_workers is not None:
            loader.num_workers = num_workers
        elif not torch.cuda.is_available():
            loader.num_workers = min(loader.get('num_workers', 2), 2)
        if loader.num_workers == 0:
            loader.persistent_workers = False
    for name in LOADERS[1:]:
        ds = cfg[name].dataset
        if eval_split != 'val':
            if ds.get('ann_file'):
                ds.ann_file = split_path(ds.ann_file, eval_split)
            for k, v in dict(ds.get('data_prefix', {})).items():
                ds.data_prefix[k] = split_path(v, eval_split)
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    if iters:
        set_max_iters(cfg, iters)
    n = cfg.train_cfg.max_iters
    # no validation inside train(): each variant is evaluated after it
    cfg.train_cfg.val_interval = n + 1
    cfg.train_cfg.val_begin = n + 1
    interval = max(1, n // max(1, checkpoints))
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=interval,
        save_last=True, max_keep_ckpts=checkpoints)
    # per-class and border / centre detail on top of mIoU
    ev = dict(cfg.val_evaluator)
    if ev.get('type') not in ('IoUMetric', 'mmseg.IoUMetric'):
        raise ValueError(f'The study needs an IoUMetric val_evaluator, got '
                         f'{ev.get("type")!r} in {config}.')
    ev['type'] = 'winwin_mm.StudyIoUMetric'
    cfg.val_evaluator = ev
    cfg.test_evaluator = ev
    return cfg


def image_grid(cfg: Config) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """Patch grid ``(h, w)`` and pixel size ``(H, W)`` of the first training
    image after the geometric transforms (what RandomWindows sees)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from .variants import WINDOW_TYPES, strip_windows
    init_default_scope('mmseg')
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline, win = strip_windows(ds_cfg.pipeline)
    ds_cfg.pipeline = [t for t in pipeline if 'Pack' not in str(t['type'])
                       and t['type'] not in WINDOW_TYPES]
    sample = DATASETS.build(ds_cfg)[0]
    h, w = sample['img_shape'][:2]
    p = win.get('patch_size', 16)
    return (h // p, w // p), (h, w)


def eval_every(cfg: Config, every: int) -> int:
    """Evaluate on every ``every``-th image of the eval split only (evenly
    spread over it, not its first frames); returns how many are kept."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    if every < 1:
        raise ValueError(f'eval_every must be >= 1, got {every}.')
    init_default_scope('mmseg')
    ds_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    ds_cfg.pipeline = []
    ds_cfg.pop('indices', None)
    n = len(DATASETS.build(ds_cfg))
    keep = list(range(0, n, every))
    for name in LOADERS[1:]:
        cfg[name].dataset.indices = keep
    return len(keep)


def seeded(cfg: Config, seed: int, work_dir: str,
           extra_hooks: Sequence[dict] = ()) -> Config:
    """A variant's config for one seed and work dir."""
    cfg = copy.deepcopy(cfg)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + list(extra_hooks)
    return cfg
