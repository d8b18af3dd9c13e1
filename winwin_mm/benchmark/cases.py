"""Benchmark cases built from the repository's configs.

A case is the model of one config (:data:`.settings.TASK_CONFIGS`) with the
size overrides of :class:`.settings.BenchSettings`, synthetic batches made
by the tail of that config's own pipeline (from ``RandomWindows`` on, so the
windows are sampled exactly as in training), and one step: the model's own
``train_step`` with the optimizer wrapper that ``build_optim_wrapper`` makes
from the config, or its own ``test_step`` with the config's ``test_cfg``
(whole / slide / tiled). Nothing of the model is re-implemented here.
"""
import math
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config

from winwin_mm.windows import (WindowSizeError, check_fits,
                               window_side_from_fraction)
from .batches import make_batches
from .batches import pipeline_patch_size as _patch_size
from .hardware import AMP_DTYPES
from .settings import (ARCHS, TASK_CONFIGS, TRAIN_CASES, BenchmarkSetupError,
                       BenchSettings)

#: task -> (transformer parts, neck/head parts): top-level attributes of the
#: model timed as 'encoder' and 'neck+head' (flow: the cross-attention
#: decoder counts with the encoder, the DPT head is the head).
COMPONENTS = {
    'seg': (('backbone', ), ('neck', 'decode_head', 'auxiliary_head')),
    'flow': (('encoder', 'decoder'), ('head', )),
}


@dataclass
class Geometry:
    """Win-Win geometry of a run at one image size (patch units)."""
    grid: Tuple[int, int]
    num_windows: int
    side: int  # Win-Win window side
    crop_side: int  # one window with the same token budget

    def as_dict(self, patch: int) -> dict:
        g = self.grid[0] * self.grid[1]
        return dict(grid=list(self.grid), patch_size=patch,
                    num_windows=self.num_windows, side=self.side,
                    tokens=self.num_windows * self.side ** 2,
                    token_fraction=self.num_windows * self.side ** 2 / g,
                    crop_side=self.crop_side, crop_tokens=self.crop_side ** 2,
                    crop_px=self.crop_side * patch)


@dataclass
class Case:
    """One ready-to-time case: call :attr:`step` once per measured step."""
    name: str
    mode: str  # 'train' | 'infer'
    config: str
    model: torch.nn.Module
    step: Callable[[], object]
    images: int  # images (pairs) per step
    tokens: int  # encoder tokens per image and pass (per tile: see tiles)
    groups: Dict[str, List[str]]  # component -> model attribute names
    info: dict = field(default_factory=dict)
    optim_wrapper: object = None  # training cases


def _cfg_value(pipeline: list, type_suffix: str) -> Optional[dict]:
    for t in pipeline:
        if str(t['type']).endswith(type_suffix):
            return t
    return None


def load_config(s: BenchSettings, name: str, root: str) -> Config:
    """The config of case ``name`` with the benchmark's overrides."""
    import os.path as osp
    path = osp.join(root, TASK_CONFIGS[s.task][name])
    cfg = Config.fromfile(path)
    arch = ARCHS[s.arch]
    from winwin_mm.models.backbones.rope_vit import ARCH_SETTINGS
    a = ARCH_SETTINGS[arch]
    c, depth = a['embed_dims'], a['num_layers']
    m = cfg.model
    if s.task == 'seg':
        m.backbone.arch = arch
        m.backbone.out_indices = tuple(
            depth // 4 * (i + 1) - 1 for i in range(4))
        m.neck.in_channels = [c] * 4
        m.neck.out_channels = c
        heads = [m.decode_head] + ([m.auxiliary_head]
                                   if m.get('auxiliary_head') else [])
        for h in heads:
            h.in_channels = [c] * 4 if h is m.decode_head else c
            # one process, no process group: SyncBN -> BN (same arithmetic)
            h.norm_cfg = dict(h.norm_cfg, type='BN')
            if s.num_classes is not None:
                h.num_classes = s.num_classes
        if s.head_channels:
            m.decode_head.channels = s.head_channels
        if s.tile_size or s.overlap is not None:
            tile = s.tile_size or tuple(m.test_cfg.get('crop_size'))
            stride = (tuple(m.test_cfg.stride) if s.overlap is None else
                      tuple(max(1, round(t * (1 - s.overlap)))
                            for t in tile))
            m.test_cfg = dict(m.test_cfg, crop_size=tuple(tile),
                              stride=stride)
    else:
        m.encoder.arch = arch
        m.encoder.out_indices = (depth - 1, )
        m.decoder.embed_dims = c
        m.decoder.num_layers = depth
        m.decoder.num_heads = a['num_heads']
        m.decoder.out_indices = tuple(
            depth // 4 * (i + 2) - 1 for i in range(3))
        if s.head_channels:
            m.head.features = s.head_channels
        if m.test_cfg.get('mode') == 'tiled':
            if s.tile_size:
                m.test_cfg.crop_size = tuple(s.tile_size)
            if s.overlap is not None:
                m.test_cfg.overlap = s.overlap
            if s.tile_batch:
                m.test_cfg.tile_batch = s.tile_batch
    if 'paramwise_cfg' in cfg.optim_wrapper and \
            'num_layers' in cfg.optim_wrapper.paramwise_cfg:
        cfg.optim_wrapper.paramwise_cfg.num_layers = depth
    return cfg


def geometry(s: BenchSettings, cfg: Config) -> Geometry:
    """Window and crop sides at the run's image size."""
    p = _patch_size(cfg)
    h, w = s.image_size
    grid = (h // p, w // p)
    windows = _cfg_value(cfg.train_pipeline, 'RandomWindows') or {}
    n = s.num_windows or windows.get('num_windows', 2)
    try:
        side = s.window_side or window_side_from_fraction(
            grid, n, s.token_fraction)
        check_fits(grid, n, side)
    except (WindowSizeError, ValueError) as e:
        raise BenchmarkSetupError(
            f'Cannot place the Win-Win windows at --size {h}x{w}: {e}. Use a '
            'larger --size or a smaller --window-side.') from None
    crop = min(math.isqrt(n * side * side), *grid)
    if s.task == 'seg' and min(side, crop) < 2:
        raise BenchmarkSetupError(
            f'--size {h}x{w} is too small: the windows / crop would be '
            f'{min(side, crop)} patch wide and MultiLevelNeck\'s 0.5x level '
            'needs at least 2 patches. Use a larger --size (e.g. 64x128) or '
            '--window-side 2.')
    return Geometry(grid, n, side, crop)


def _registries(task: str):
    import winwin_mm  # noqa: F401  (registers the components)
    if task == 'seg':
        import mmseg.datasets  # noqa: F401
        import mmseg.models  # noqa: F401
        from mmseg.registry import MODELS, TRANSFORMS
        return 'mmseg', MODELS, TRANSFORMS
    from winwin_mm.registry import MODELS, TRANSFORMS
    return 'winwin_mm', MODELS, TRANSFORMS


def _optim_cfg(cfg: Config, s: BenchSettings, device: torch.device) -> dict:
    """The config's optimizer wrapper with ``--dtype`` applied: AMP through
    ``AmpOptimWrapper`` on CUDA; on CPU (where mmengine's AMP wrapper does
    not run) a plain ``OptimWrapper`` inside ``torch.autocast``."""
    ow = dict(cfg.optim_wrapper.to_dict() if hasattr(
        cfg.optim_wrapper, 'to_dict') else cfg.optim_wrapper)
    amp = s.dtype in AMP_DTYPES and device.type == 'cuda'
    if amp:
        ow.update(type='AmpOptimWrapper',
                  dtype={'bf16': 'bfloat16', 'fp16': 'float16'}[s.dtype])
        if s.dtype == 'bf16':
            ow.setdefault('loss_scale', 1.)  # no scaling needed for bf16
    else:
        ow['type'] = 'OptimWrapper'
        ow.pop('dtype', None)
        ow.pop('loss_scale', None)
    return ow


def describe_optimizer(ow) -> dict:
    opt = ow.optimizer
    d = opt.defaults
    return dict(wrapper=type(ow).__name__, optimizer=type(opt).__name__,
                lr=d.get('lr'), weight_decay=d.get('weight_decay'),
                fused=d.get('fused'), foreach=d.get('foreach'),
                param_groups=len(opt.param_groups),
                amp_dtype=str(getattr(ow, 'cast_dtype', None) or '') or None,
                clip_grad=getattr(ow, 'clip_grad_kwargs', None) or None)


def memory_format(model: torch.nn.Module) -> str:
    """'channels_last' when the 2-D convolutions hold channels-last
    weights, else 'contiguous' (NCHW)."""
    convs = [m.weight for m in model.modules()
             if isinstance(m, torch.nn.Conv2d) and m.weight.dim() == 4
             and m.weight.shape[1] > 1 and m.weight.shape[2:].numel() > 1]
    if convs and all(w.is_contiguous(memory_format=torch.channels_last)
                     and not w.is_contiguous() for w in convs):
        return 'channels_last'
    return 'contiguous'


def build_case(s: BenchSettings, name: str, device: torch.device,
               root: str) -> Case:
    """Model, batches and step of case ``name`` (weights: the models' own
    initialisation, which does not change the cost)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    cfg = load_config(s, name, root)
    geo = geometry(s, cfg)
    scope, models, transforms = _registries(s.task)
    torch.manual_seed(s.seed)
    with warnings.catch_warnings(), \
            DefaultScope.overwrite_default_scope(scope):
        warnings.simplefilter('ignore')  # mmseg deprecation chatter
        model = models.build(cfg.model).to(device)
        batches, tail = make_batches(s, cfg, name, geo, transforms)
    p = _patch_size(cfg)
    enc, head = COMPONENTS[s.task]
    groups = {'encoder': [n for n in enc if getattr(model, n, None)],
              'neck+head': [n for n in head if getattr(model, n, None)]}
    grid_tokens = geo.grid[0] * geo.grid[1]
    info = dict(config=TASK_CONFIGS[s.task][name],
                pipeline_tail=[t['type'] for t in tail],
                memory_format=memory_format(model))
    it = iter(range(1 << 62))
    amp = AMP_DTYPES.get(s.dtype)
    if name in TRAIN_CASES:
        model.train()
        ow = build_optim_wrapper(model, _optim_cfg(cfg, s, device))
        info['optimizer'] = describe_optimizer(ow)
        ctx = (torch.autocast('cpu', amp) if amp is not None and
               device.type == 'cpu' else nullcontext())

        def step():
            with ctx:
                return model.train_step(batches[next(it) % len(batches)], ow)
        tokens = {'fullres_train': grid_tokens,
                  'winwin_train': geo.num_windows * geo.side ** 2,
                  'crop_train': geo.crop_side ** 2}[name]
        info['windows'] = (dict(num_windows=1, side=geo.crop_side)
                           if name == 'crop_train' else
                           dict(num_windows=geo.num_windows, side=geo.side)
                           if name == 'winwin_train' else None)
        return Case(name, 'train', info['config'], model, step,
                    s.batch_size, tokens, groups, info, ow)
    model.eval()
    ctx = (torch.autocast(device.type, amp) if amp is not None
           else nullcontext())
    test_cfg = dict(cfg.model.test_cfg)
    info['test_cfg'] = {k: list(v) if isinstance(v, tuple) else v
                        for k, v in test_cfg.items()}
    tokens = grid_tokens
    if test_cfg.get('mode', 'whole') != 'whole':
        th, tw = (min(c, i) for c, i in zip(test_cfg['crop_size'],
                                            s.image_size))
        tokens = -(-th // p) * -(-tw // p)  # per tile

    def step():
        with torch.no_grad(), ctx:
            return model.test_step(batches[next(it) % len(batches)])
    return Case(name, 'infer', info['config'], model, step,
                s.infer_batch_size, tokens, groups, info)


def compile_model(model: torch.nn.Module, groups: Dict[str, List[str]],
                  backend: str = 'inductor') -> List[str]:
    """``torch.compile`` the forward of the timed parts (backbone / encoder,
    decoder, neck, heads); the data preprocessor, the loss computation
    outside the heads' forward and the optimizer stay eager. Returns the
    compiled attribute names. ``backend='eager'`` runs dynamo's graph
    capture only (the same graph breaks, without inductor's code
    generation, which is slow on CPU)."""
    names = [n for g in groups.values() for n in g]
    for n in names:
        m = getattr(model, n)
        m.forward = torch.compile(m.forward, backend=backend)
    return names
