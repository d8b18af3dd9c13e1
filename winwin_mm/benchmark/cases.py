"""Benchmark cases: what is timed, on which model, with which inputs.

One process benchmarks one task (``seg`` or ``flow``) at one image size with
six cases (see :data:`CASE_DOC`). Each task is a small *bench* object made by
a builder of :data:`TASK_BUILDERS`; a bench knows the geometry (patch grid,
window side, crop side, tile placement), plans every case (tokens, tiles,
analytic FLOPs) and builds a ready-to-time ``step()`` closure per case.

Measurement (:func:`run_benchmark`): for each case a fresh model is built,
``warmup`` steps run, then ``steps`` timed steps (``torch.cuda.synchronize``
around each step on CUDA). Peak memory is CUDA's max-allocated bytes on GPU
(everything alive: weights, optimizer state, activations); on CPU it is the
growth of the resident set size over its value before the model was built,
sampled by a background thread from ``/proc/self/statm`` and cross-checked
with ``getrusage`` (whose ``ru_maxrss`` is monotonic, so it only counts when
it grew during the case). Because freed memory is often kept by the C
allocator, on CPU every case runs by default in a fresh ``spawn`` subprocess
(``isolate='auto'``).
"""
import gc
import math
import multiprocessing as mp
import os
import resource
import statistics
import threading
import time
import traceback
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from winwin_mm.windows import (WindowSizeError, check_fits, sample_windows,
                               window_side_from_fraction)
from .flops import TRAIN_FLOPS_FACTOR, count_flops, vit_encoder_flops

#: Encoder sizes behind ``--arch`` (``winwin_mm.RoPEViT`` arch keys).
ARCHS: Dict[str, str] = {
    'vit-ti': 'ti', 'vit-s': 's', 'vit-b': 'b', 'vit-l': 'l'}

CASE_DOC: Dict[str, str] = {
    'fullres_train': 'one training step (forward, backward, AdamW step) on '
                     'every token of the full-resolution image',
    'winwin_train': 'the same step keeping only the tokens of N random '
                    'non-overlapping square windows (Win-Win)',
    'crop_train': 'the same step on one square crop with the Win-Win token '
                  'budget (side floor(sqrt(N) * window side))',
    'whole_infer': 'one full-resolution inference pass, no grad',
    'tiled_infer': 'tiled inference with tiles of the crop size (stride = '
                   'tile * (1 - overlap), last tile flush with the border, '
                   'tiles batched in chunks), outputs averaged (flow: '
                   'weighted by the predicted confidence)',
}
TRAIN_CASES = ('fullres_train', 'winwin_train', 'crop_train')
DTYPES = ('fp32', 'bf16', 'fp16')
SDPA_CHOICES = ('auto', 'flash', 'efficient', 'cudnn', 'math', 'default')


class BenchmarkSetupError(ValueError):
    """A benchmark request that cannot run; the message says how to fix it."""


@dataclass
class BenchSettings:
    """Everything that defines a benchmark run (the CLI fills it)."""
    task: str = 'seg'
    arch: str = 'vit-b'
    size: Optional[Tuple[int, int]] = None  # (H, W); None = task default
    device: str = 'cpu'
    dtype: str = 'fp32'
    compile: bool = False
    steps: int = 5
    warmup: int = 2
    batch_size: int = 2  # training images per step
    infer_batch_size: int = 1  # images per inference pass
    head_channels: Optional[int] = None  # None = task default
    num_classes: int = 19
    patch_size: int = 16
    num_windows: int = 2
    token_fraction: float = 0.27
    window_side: Optional[int] = None  # overrides token_fraction
    overlaps: Tuple[float, ...] = (0.7, 0.9)
    tile_batch: int = 8
    cases: Optional[Tuple[str, ...]] = None  # None = all
    sdpa: str = 'auto'
    isolate: str = 'auto'  # 'auto' | 'always' | 'never'
    seed: int = 0
    threads: Optional[int] = None


@dataclass
class CasePlan:
    """What a case processes, known before running it (per image)."""
    name: str
    mode: str  # 'train' | 'infer'
    tokens: int  # tokens the encoder processes per image and pass
    gflops: float  # analytic GFLOPs per image (train = 3 x forward)
    tiles: Optional[int] = None  # tiles per image (tiled cases)
    info: dict = field(default_factory=dict)


# ----------------------------------------------------------------- geometry
def parse_size(text: str) -> Tuple[int, int]:
    """``'720x1280'`` -> ``(720, 1280)`` (height x width, pixels)."""
    parts = str(text).lower().replace('*', 'x').split('x')
    try:
        h, w = (int(p) for p in parts)
        if h <= 0 or w <= 0:
            raise ValueError
    except ValueError:
        raise BenchmarkSetupError(
            f'--size must be HEIGHTxWIDTH in pixels with positive integers, '
            f'e.g. --size 720x1280; got {text!r}.') from None
    return h, w


def tiled_case_name(overlap: float, first: bool) -> str:
    """``tiled_infer`` for the first overlap, ``tiled_infer_<o>`` after."""
    return 'tiled_infer' if first else f'tiled_infer_{overlap:g}'


def tile_starts(length: int, tile: int, stride: int) -> List[int]:
    """Start offsets of tiles along one axis, MMSegmentation ``slide`` /
    CroCo style: every ``stride`` pixels, the last tile flush with the border
    (``ceil((length - tile) / stride) + 1`` tiles)."""
    if tile >= length:
        return [0]
    n = -(-(length - tile) // stride) + 1
    return [min(i * stride, length - tile) for i in range(n)]


def tile_grid(hw: Tuple[int, int], tile: Tuple[int, int],
              overlap: float) -> Tuple[List[Tuple[int, int]], Tuple[int, int]]:
    """All tile corners ``(y, x)`` of an image and the (sy, sx) stride."""
    if not 0 <= overlap < 1:
        raise BenchmarkSetupError(f'Tile overlap must be in [0, 1), got '
                                  f'{overlap}.')
    stride = tuple(max(1, int(t * (1. - overlap) + 1e-9)) for t in tile)
    ys = tile_starts(hw[0], tile[0], stride[0])
    xs = tile_starts(hw[1], tile[1], stride[1])
    return [(y, x) for y in ys for x in xs], stride


# ------------------------------------------------------------------ benches
class ViTTaskBench:
    """Shared geometry and case plumbing of a ViT task at one image size.

    Subclasses provide the model (:meth:`build_model`), training batches
    (:meth:`train_batch`), a full-image prediction (:meth:`infer`), a dense
    per-tile prediction for tiling (:meth:`infer_tiles`) and the FLOPs of
    everything after the encoder (:meth:`head_flops`).
    """
    task = 'base'
    default_size = (720, 1280)
    in_channels = 3  # channels of one frame (patch embedding input)
    frames = 1  # frames per sample, packed on channels (2 for flow)

    def __init__(self, s: BenchSettings) -> None:
        self.s = s
        if s.arch not in ARCHS:
            raise BenchmarkSetupError(
                f'Unknown --arch {s.arch!r}; choose one of {sorted(ARCHS)}.')
        from winwin_mm.models.backbones.rope_vit import ARCH_SETTINGS
        self.arch = ARCH_SETTINGS[ARCHS[s.arch]]
        self.size = tuple(s.size or self.default_size)
        p = s.patch_size
        self.grid = (-(-self.size[0] // p), -(-self.size[1] // p))
        self.padded = (self.grid[0] * p, self.grid[1] * p)
        try:
            self.side = s.window_side or window_side_from_fraction(
                self.grid, s.num_windows, s.token_fraction)
            check_fits(self.grid, s.num_windows, self.side)
        except (WindowSizeError, ValueError) as e:
            raise BenchmarkSetupError(
                f'Cannot place the Win-Win windows at --size '
                f'{self.size[0]}x{self.size[1]}: {e}') from None
        self.crop_side = min(math.isqrt(s.num_windows * self.side ** 2),
                             *self.grid)
        self.tile = (min(self.crop_side * p, self.size[0]),
                     min(self.crop_side * p, self.size[1]))
        self.tiling = {}
        for i, o in enumerate(s.overlaps):
            corners, stride = tile_grid(self.size, self.tile, o)
            self.tiling[tiled_case_name(o, i == 0)] = dict(
                overlap=o, corners=corners, stride=stride)
        names = list(TRAIN_CASES) + ['whole_infer'] + list(self.tiling)
        if s.cases:
            unknown = sorted(set(s.cases) - set(names))
            if unknown:
                raise BenchmarkSetupError(
                    f'Unknown case(s) {unknown}; available: {names}.')
            names = [n for n in names if n in s.cases]
        self.case_names = names

    # ---------------------------------------------------------- planning
    @property
    def grid_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    def window_info(self) -> dict:
        return dict(num_windows=self.s.num_windows, side=self.side,
                    tokens=self.s.num_windows * self.side ** 2,
                    token_fraction=self.s.num_windows * self.side ** 2 /
                    self.grid_tokens, crop_side=self.crop_side,
                    crop_tokens=self.crop_side ** 2,
                    crop_px=self.crop_side * self.s.patch_size,
                    grid=list(self.grid), patch_size=self.s.patch_size)

    def encoder_flops(self, sequences, embedded: int) -> float:
        a = self.arch
        return self.frames * vit_encoder_flops(
            sequences, a['embed_dims'], a['num_layers'], 4.,
            self.s.patch_size, embedded, self.in_channels)

    @property
    def tile_grid_hw(self) -> Tuple[int, int]:
        p = self.s.patch_size
        return (-(-self.tile[0] // p), -(-self.tile[1] // p))

    def plan(self, name: str) -> CasePlan:
        """Tokens, tiles and analytic GFLOPs of a case (per image)."""
        n, side, cs = self.s.num_windows, self.side, self.crop_side
        if name in ('fullres_train', 'whole_infer'):
            plan = CasePlan(name, 'infer', self.grid_tokens, 0.)
        elif name == 'winwin_train':
            plan = CasePlan(name, 'train', n * side * side, 0.,
                            info=dict(num_windows=n, window_side=side))
        elif name == 'crop_train':
            plan = CasePlan(name, 'train', cs * cs, 0.,
                            info=dict(crop_px=cs * self.s.patch_size))
        elif name in self.tiling:
            t = self.tiling[name]
            tg = self.tile_grid_hw
            nt = len(t['corners'])
            plan = CasePlan(name, 'infer', nt * tg[0] * tg[1], 0., tiles=nt,
                            info=dict(overlap=t['overlap'],
                                      tile_px=list(self.tile),
                                      stride_px=list(t['stride']),
                                      tile_batch=self.s.tile_batch))
        else:
            raise BenchmarkSetupError(f'Unknown case {name!r}.')
        fl = self.forward_flops(name)
        if name in TRAIN_CASES:
            plan.mode = 'train'
            fl *= TRAIN_FLOPS_FACTOR
        plan.gflops = fl / 1e9
        return plan

    def forward_flops(self, name: str) -> float:
        """Forward FLOPs of one image of case ``name``: the analytic encoder
        (:mod:`.flops`) plus :meth:`head_flops` of its feature grids."""
        n, side, cs = self.s.num_windows, self.side, self.crop_side
        G = self.grid_tokens
        if name in ('fullres_train', 'whole_infer'):
            return self.encoder_flops([(1, G)], G) + self.head_flops(
                [self.grid])
        if name == 'winwin_train':
            return (self.encoder_flops([(1, n * side * side)], G) +
                    self.head_flops([(side, side)] * n))
        if name == 'crop_train':
            return (self.encoder_flops([(1, cs * cs)], cs * cs) +
                    self.head_flops([(cs, cs)]))
        tg = self.tile_grid_hw
        nt = len(self.tiling[name]['corners'])
        tt = tg[0] * tg[1]
        return nt * (self.encoder_flops([(1, tt)], tt) +
                     self.head_flops([tg]))

    def attention_shape(self) -> Tuple[int, int]:
        """(heads, head_dim) of the encoder, for the SDPA backend probe."""
        a = self.arch
        return a['num_heads'], a['embed_dims'] // a['num_heads']

    # ------------------------------------------------------ task hooks
    def head_flops(self, grids: Sequence[Tuple[int, int]]) -> float:
        """FLOPs after the encoder for one image whose encoder output is the
        given feature grids (one per window / crop / tile)."""
        raise NotImplementedError

    def build_model(self, device: torch.device) -> torch.nn.Module:
        raise NotImplementedError

    def train_batch(self, name: str, device: torch.device,
                    rng: np.random.Generator) -> Callable[[], tuple]:
        """-> ``make() -> (inputs, data_samples)`` for ``model.loss``."""
        raise NotImplementedError

    def infer(self, model, inputs: torch.Tensor) -> torch.Tensor:
        """Full-image prediction of a (B, C_in, H, W) batch."""
        raise NotImplementedError

    def infer_tiles(self, model, tiles: torch.Tensor) -> tuple:
        """(T, C_in, th, tw) tiles -> dense (T, K, th, tw) outputs and
        (T, 1, th, tw) blending weights (None: plain average)."""
        raise NotImplementedError

    def merge_tiles(self, acc: torch.Tensor, wsum: torch.Tensor):
        """Weighted sum and sum of weights -> the final prediction."""
        return acc / wsum

    # ---------------------------------------------------------- steps
    def build_step(self, name: str, rt: 'Runtime') -> Callable[[], None]:
        """A fresh model and a closure running one step of case ``name``."""
        torch.manual_seed(self.s.seed)
        rng = np.random.default_rng(self.s.seed)
        model = self.build_model(rt.device)
        if self.s.compile:
            compile_model(model)
        if name in TRAIN_CASES:
            model.train()
            # fullres / crop steps train on every token of their input
            model.train_windows = name == 'winwin_train'
            make = self.train_batch(name, rt.device, rng)
            opt = torch.optim.AdamW(model.parameters(), lr=6e-5,
                                    weight_decay=0.01)
            prime_optimizer(model, opt)
            scaler = (torch.amp.GradScaler(rt.device.type)
                      if self.s.dtype == 'fp16' else None)

            def step() -> None:
                inputs, samples = make()
                with rt.autocast():
                    losses = model.loss(inputs, samples)
                loss, _ = model.parse_losses(losses)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                opt.zero_grad(set_to_none=True)
            return step
        model.eval()
        b = self.s.infer_batch_size
        gen = torch.Generator(device='cpu').manual_seed(self.s.seed)
        inputs = torch.randn(b, self.in_channels * self.frames, *self.size,
                             generator=gen).to(rt.device)
        if name == 'whole_infer':
            def step() -> None:
                with torch.no_grad(), rt.autocast():
                    self.infer(model, inputs)
            return step
        corners = self.tiling[name]['corners']
        th, tw = self.tile
        crops = [(i, y, x) for i in range(b) for y, x in corners]
        chunk = max(1, self.s.tile_batch)

        def step() -> None:
            with torch.no_grad(), rt.autocast():
                acc = wsum = None
                for c0 in range(0, len(crops), chunk):
                    part = crops[c0:c0 + chunk]
                    tiles = torch.stack([inputs[i, :, y:y + th, x:x + tw]
                                         for i, y, x in part])
                    out, weight = self.infer_tiles(model, tiles)
                    out = out.float()
                    if acc is None:
                        acc = out.new_zeros(b, out.shape[1], *self.size)
                        wsum = out.new_zeros(b, 1, *self.size)
                    if weight is None:
                        weight = out.new_ones(len(part), 1, 1, 1)
                    for (i, y, x), o, w in zip(part, out, weight.float()):
                        acc[i, :, y:y + th, x:x + tw] += o * w
                        wsum[i, :, y:y + th, x:x + tw] += w
                self.merge_tiles(acc, wsum)
        return step


def prime_optimizer(model: torch.nn.Module,
                    opt: torch.optim.Optimizer) -> None:
    """Create the optimizer state (AdamW: 2 tensors per parameter) before
    measuring. PyTorch creates it lazily in the first ``step()``, after the
    activations are freed, so without this a run with ``--warmup 0 --steps
    1`` would report a peak without the steady-state optimizer memory."""
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=True)


class SegBench(ViTTaskBench):
    """Semantic segmentation: ``winwin_mm.RoPEViT`` + ``MultiLevelNeck`` +
    ``UPerHead`` (BN, no auxiliary head) in ``winwin_mm.WinWinEncoderDecoder``,
    built from MMSegmentation's registry. Loss: ``WindowLoss`` around
    cross-entropy, as in ``configs/_base_/models/winwin_vit-b16_upernet.py``.
    """
    task = 'seg'
    default_size = (720, 1280)

    def __init__(self, s: BenchSettings) -> None:
        super().__init__(s)
        bad = [n for n in self.case_names
               if n in ('fullres_train', 'crop_train')]
        if bad and s.batch_size < 2:
            raise BenchmarkSetupError(
                f'--batch-size {s.batch_size} cannot train {bad}: the BN '
                "layers of UPerHead's 1x1 pooling branch need at least 2 "
                'samples per batch in training. Use --batch-size 2 (the '
                "MMSegmentation recipe's images per GPU).")
        smallest = min(self.side, self.crop_side)
        if smallest < 2:
            raise BenchmarkSetupError(
                f'--size {self.size[0]}x{self.size[1]} is too small: the '
                f'windows / crop would be {smallest} patch wide and '
                "MultiLevelNeck's 0.5x level needs at least 2 patches. Use a "
                'larger --size (e.g. 64x128) or --window-side 2.')
        self._head_flops_cache: Dict[tuple, float] = {}
        self._meta_head = None

    def model_cfg(self) -> dict:
        a = self.arch
        c, depth = a['embed_dims'], a['num_layers']
        norm_cfg = dict(type='BN', requires_grad=True)
        return dict(
            type='winwin_mm.WinWinEncoderDecoder',
            backbone=dict(
                type='winwin_mm.RoPEViT', arch=ARCHS[self.s.arch],
                patch_size=self.s.patch_size,
                out_indices=tuple(depth // 4 * (i + 1) - 1 for i in range(4)),
                drop_path_rate=0.1),
            neck=dict(type='MultiLevelNeck', in_channels=[c] * 4,
                      out_channels=c, scales=[4, 2, 1, 0.5]),
            decode_head=dict(
                type='UPerHead', in_channels=[c] * 4, in_index=[0, 1, 2, 3],
                pool_scales=(1, 2, 3, 6),
                channels=self.s.head_channels or 512,
                dropout_ratio=0.1, num_classes=self.s.num_classes,
                norm_cfg=norm_cfg, align_corners=False,
                loss_decode=dict(
                    type='winwin_mm.WindowLoss',
                    loss=dict(type='CrossEntropyLoss', use_sigmoid=False,
                              loss_weight=1.0))),
            train_cfg=dict(), test_cfg=dict(mode='whole'))

    @staticmethod
    def _build(cfg: dict):
        import winwin_mm  # noqa: F401  (registers the components)
        from mmengine.registry import DefaultScope
        from mmseg.registry import MODELS
        with warnings.catch_warnings(), \
                DefaultScope.overwrite_default_scope('mmseg'):
            warnings.simplefilter('ignore')  # mmseg deprecation chatter
            return MODELS.build(cfg)

    def build_model(self, device: torch.device) -> torch.nn.Module:
        # PyTorch's default initialisation: weights do not change the cost.
        return self._build(self.model_cfg()).to(device)

    def head_flops(self, grids) -> float:
        """Neck + UPerHead convolutions, counted on the meta device."""
        if self._meta_head is None:
            cfg = self.model_cfg()
            neck = self._build(cfg['neck']).to('meta').eval()
            head = self._build(cfg['decode_head']).to('meta').eval()
            self._meta_head = (neck, head)
        neck, head = self._meta_head
        total = 0.
        for g in grids:
            key = tuple(g)
            if key not in self._head_flops_cache:
                feats = [torch.empty(1, self.arch['embed_dims'], *g,
                                     device='meta')] * 4
                self._head_flops_cache[key] = count_flops(
                    lambda: head(neck(feats)))
            total += self._head_flops_cache[key]
        return total

    def train_batch(self, name, device, rng):
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        b, p = self.s.batch_size, self.s.patch_size
        hw = self.padded if name != 'crop_train' else (
            self.crop_side * p, ) * 2
        gen = torch.Generator(device='cpu').manual_seed(self.s.seed)
        inputs = torch.randn(b, 3, *hw, generator=gen).to(device)
        labels = torch.randint(0, self.s.num_classes, (b, 1, *hw),
                               generator=gen).to(device)
        meta = dict(img_shape=hw, pad_shape=hw, ori_shape=hw)

        def make():
            samples = []
            for i in range(b):
                m = dict(meta)
                if name == 'winwin_train':
                    m['window_boxes'] = sample_windows(
                        self.grid, self.s.num_windows, self.side, rng)
                ds = SegDataSample(metainfo=m)
                ds.gt_sem_seg = PixelData(data=labels[i])
                samples.append(ds)
            return inputs, samples
        return make

    def _metas(self, n: int, hw) -> List[dict]:
        return [dict(img_shape=tuple(hw), pad_shape=tuple(hw),
                     ori_shape=tuple(hw))] * n

    def infer(self, model, inputs):
        logits = model.encode_decode(inputs,
                                     self._metas(len(inputs), self.size))
        return logits.argmax(1)

    def infer_tiles(self, model, tiles):
        return model.encode_decode(
            tiles, self._metas(len(tiles), tiles.shape[-2:])), None

    def merge_tiles(self, acc, wsum):
        return (acc / wsum).argmax(1)


def build_seg_case(settings: BenchSettings) -> SegBench:
    """Builder of the ``seg`` task."""
    return SegBench(settings)


def build_flow_case(settings: BenchSettings) -> ViTTaskBench:
    """Builder of the ``flow`` task: the binocular
    ``winwin_mm.models.flow.WinWinFlow``; raises :class:`BenchmarkSetupError`
    ("flow model not available yet") when that class does not exist."""
    try:
        from winwin_mm.models import flow as flow_models
    except ImportError as e:  # pragma: no cover - depends on others' work
        raise BenchmarkSetupError(
            f'flow model not available yet (winwin_mm.models.flow cannot '
            f'be imported: {e}).') from None
    if getattr(flow_models, 'WinWinFlow', None) is None:
        raise BenchmarkSetupError(
            'flow model not available yet: winwin_mm.models.flow does not '
            'expose WinWinFlow. Use --task seg for now.')
    return FlowBench(settings)


class FlowBench(ViTTaskBench):
    """Optical flow: ``WinWinFlow`` with a shared RoPE ViT encoder on both
    frames (inputs (B, 6, H, W)), a cross-attention decoder of the encoder's
    width and depth (CroCo-Flow with a ViT-B decoder, DESIGN.md 1) and the
    DPT head (``--head-channels`` = its ``features``, default 256).

    ``gflops`` here is the whole forward counted on the meta device by
    ``torch.utils.flop_counter`` (its encoder part equals the analytic
    formula, see ``tests/test_benchmark.py``), because the decoder attends
    over both windows together. Tiled inference blends tiles with the
    model's confidence weights, like CroCo-Flow.
    """
    task = 'flow'
    default_size = (1080, 1920)
    in_channels = 3
    frames = 2

    def __init__(self, s: BenchSettings) -> None:
        super().__init__(s)
        self._flops_model = None

    def model_cfg(self) -> dict:
        a = self.arch
        depth = a['num_layers']
        head = dict(features=self.s.head_channels or 256)
        return dict(
            type='winwin_mm.WinWinFlow',
            encoder=dict(type='winwin_mm.RoPEViT', arch=ARCHS[self.s.arch],
                         patch_size=self.s.patch_size,
                         out_indices=(depth - 1, )),
            decoder=dict(embed_dims=a['embed_dims'], num_layers=depth,
                         num_heads=a['num_heads']),
            head=head)

    def build_model(self, device):
        import winwin_mm  # noqa: F401
        from mmengine.registry import DefaultScope
        from winwin_mm.registry import MODELS
        # its own scope: WinWinFlow builds its parts by bare names, which a
        # default scope left at 'mmseg' would look up in mmseg's registry
        with warnings.catch_warnings(), \
                DefaultScope.overwrite_default_scope('winwin_mm'):
            warnings.simplefilter('ignore')
            model = MODELS.build(self.model_cfg())
        return model.to(device)

    def forward_flops(self, name: str) -> float:
        if self._flops_model is None:
            self._flops_model = self.build_model(torch.device('cpu')).to(
                'meta').eval()
        model, p = self._flops_model, self.s.patch_size

        def count(hw, windows=None) -> float:
            x = torch.empty(1, 6, *hw, device='meta')
            return count_flops(lambda: model.forward_flow(x, windows))
        if name in ('fullres_train', 'whole_infer'):
            return count(self.padded)
        if name == 'winwin_train':
            boxes = sample_windows(self.grid, self.s.num_windows, self.side,
                                   np.random.default_rng(self.s.seed))
            return count(self.padded, torch.from_numpy(boxes)[None])
        if name == 'crop_train':
            return count((self.crop_side * p, ) * 2)
        return len(self.tiling[name]['corners']) * count(self.tile)

    def train_batch(self, name, device, rng):
        from mmengine.structures import PixelData
        from winwin_mm.structures.flow_data_sample import FlowDataSample
        b, p = self.s.batch_size, self.s.patch_size
        hw = self.padded if name != 'crop_train' else (
            self.crop_side * p, ) * 2
        gen = torch.Generator(device='cpu').manual_seed(self.s.seed)
        inputs = torch.randn(b, 6, *hw, generator=gen).to(device)
        flow = torch.randn(b, 2, *hw, generator=gen).to(device)
        valid = torch.ones(b, 1, *hw, device=device)

        def make():
            samples = []
            for i in range(b):
                m = dict(img_shape=hw, pad_shape=hw, ori_shape=hw)
                if name == 'winwin_train':
                    m['window_boxes'] = sample_windows(
                        self.grid, self.s.num_windows, self.side, rng)
                ds = FlowDataSample(metainfo=m)
                ds.gt_flow_fw = PixelData(data=flow[i])
                ds.gt_valid_fw = PixelData(data=valid[i])
                samples.append(ds)
            return inputs, samples
        return make

    def infer(self, model, inputs):
        return model.forward_flow(inputs)[:, :2]

    def infer_tiles(self, model, tiles):
        out = model.forward_flow(tiles)
        return out[:, :2], model.confidence_weight(out[:, 2:3].float())


#: task name -> builder(settings) -> bench. Add a task by adding a builder.
TASK_BUILDERS: Dict[str, Callable[[BenchSettings], ViTTaskBench]] = {
    'seg': build_seg_case,
    'flow': build_flow_case,
}


def build_bench(settings: BenchSettings) -> ViTTaskBench:
    if settings.task not in TASK_BUILDERS:
        raise BenchmarkSetupError(f'Unknown --task {settings.task!r}; '
                                  f'choose one of {sorted(TASK_BUILDERS)}.')
    return TASK_BUILDERS[settings.task](settings)


# ------------------------------------------------------------------ runtime
def compile_model(model: torch.nn.Module) -> None:
    """``torch.compile`` the forward of every top-level part that has one
    (backbone, neck, heads; for MMSegmentation segmentors the loss, resize
    and optimizer stay eager). Works for methods called directly
    (``decode_head.forward``) as well as through ``__call__``."""
    parts = [m for n, m in model.named_children()
             if n not in ('data_preprocessor', )]
    for m in parts or [model]:
        m.forward = torch.compile(m.forward)


def check_device_dtype(device: str, dtype: str) -> torch.device:
    """Validate ``--device`` / ``--dtype``; raise with the fix."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise BenchmarkSetupError(
            f'Unknown --device {device!r}; use cpu or cuda[:N].') from None
    if dev.type not in ('cpu', 'cuda'):
        raise BenchmarkSetupError(
            f'--device {device!r} is not supported; use cpu or cuda[:N].')
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            build = (f'CUDA {torch.version.cuda} build'
                     if torch.version.cuda else 'CPU-only build')
            raise BenchmarkSetupError(
                f'--device cuda was requested but torch.cuda.is_available() '
                f'is False (torch {torch.__version__}, {build}). Run on a '
                f'machine with an NVIDIA GPU and a CUDA build of torch, or '
                f'pass --device cpu.')
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BenchmarkSetupError(
                f'--device {device}: only {torch.cuda.device_count()} CUDA '
                f'device(s) visible.')
    if dtype not in DTYPES:
        raise BenchmarkSetupError(
            f'Unsupported --dtype {dtype!r}; choose fp32, bf16 (autocast) or '
            f'fp16 (autocast, CUDA only).')
    if dtype == 'fp16' and dev.type == 'cpu':
        raise BenchmarkSetupError(
            '--dtype fp16 is not supported on CPU (no fp16 autocast fast '
            'path there); use --dtype bf16 or fp32 on CPU, or fp16 with '
            '--device cuda.')
    if dtype == 'bf16' and dev.type == 'cuda' and \
            not torch.cuda.is_bf16_supported():
        raise BenchmarkSetupError(
            f'--dtype bf16: {torch.cuda.get_device_name(dev)} has no bf16 '
            f'support; use --dtype fp16 or fp32.')
    return dev


_SDPA_NAMES = {'flash': 'FLASH_ATTENTION', 'efficient': 'EFFICIENT_ATTENTION',
               'cudnn': 'CUDNN_ATTENTION', 'math': 'MATH'}


def _sdpa_context(name: str):
    if name == 'default':
        return nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel([getattr(SDPBackend, _SDPA_NAMES[name])])


def _amp_dtype(dtype: str):
    return {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(dtype)


def select_sdpa_backend(requested: str, device: torch.device, dtype: str,
                        heads: int, head_dim: int) -> str:
    """The SDPA backend the benchmark will force.

    ``auto`` probes flash, memory-efficient, cuDNN and math attention in that
    order with a forward + backward on a small (1, heads, 64, head_dim) input
    in the compute dtype and returns the first that runs; a named backend is
    checked the same way; ``default`` leaves PyTorch's own dispatch.
    """
    if requested not in SDPA_CHOICES:
        raise BenchmarkSetupError(f'Unknown --sdpa {requested!r}; choose one '
                                  f'of {SDPA_CHOICES}.')
    if requested == 'default':
        return 'default'
    order = (['flash', 'efficient', 'cudnn', 'math']
             if requested == 'auto' else [requested])
    t = _amp_dtype(dtype) or torch.float32
    errors = []
    for name in order:
        q = torch.randn(1, heads, 64, head_dim, device=device, dtype=t,
                        requires_grad=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                with _sdpa_context(name):
                    out = torch.nn.functional.scaled_dot_product_attention(
                        q, q, q)
                    out.sum().backward()
            return name
        except RuntimeError as e:
            errors.append(f'{name}: {str(e).splitlines()[0]}')
    raise BenchmarkSetupError(
        f'No requested SDPA backend runs on {device} in {dtype}: '
        + '; '.join(errors))


class Runtime:
    """Device, autocast and attention backend of a run."""

    def __init__(self, s: BenchSettings, sdpa: str) -> None:
        self.device = check_device_dtype(s.device, s.dtype)
        self.dtype = s.dtype
        self.sdpa = sdpa

    def autocast(self):
        t = _amp_dtype(self.dtype)
        if t is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=t)

    def sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)


def current_rss() -> int:
    """Resident set size of this process in bytes (0 if unknown)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return 0


def _ru_maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSS:
    """Peak RSS growth over the value at ``__enter__``, from a sampler thread
    (``/proc/self/statm`` every ``interval`` s) and ``ru_maxrss`` (counted
    only if it grew inside the block, since it is a whole-process maximum)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak_bytes = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, current_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> 'PeakRSS':
        self.baseline = current_rss()
        self._ru0 = _ru_maxrss()
        self._max = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        peak = max(self._max, current_rss())
        ru1 = _ru_maxrss()
        if ru1 > self._ru0:
            peak = max(peak, ru1)
        self.peak_bytes = max(0, peak - self.baseline)


@contextmanager
def _peak_memory(rt: Runtime):
    """Yield a dict that holds ``peak_mb`` after the block."""
    out = {}
    if rt.device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(rt.device)
        yield out
        out['peak_mb'] = torch.cuda.max_memory_allocated(rt.device) / 2**20
    else:
        with PeakRSS() as peak:
            yield out
        out['peak_mb'] = peak.peak_bytes / 2**20


def measure_case(bench: ViTTaskBench, name: str, rt: Runtime,
                 log: Callable[[str], None] = print) -> dict:
    """Build case ``name``, warm up, time ``steps`` steps; one results row
    (``ms_*``, ``peak_mb``) without the planned fields."""
    s = bench.s
    if s.compile:
        torch._dynamo.reset()  # fresh compile caches for the fresh model
    times = []
    with _sdpa_context(rt.sdpa), _peak_memory(rt) as mem:
        step = bench.build_step(name, rt)
        for i in range(s.warmup):
            t0 = time.perf_counter()
            step()
            rt.sync()
            log(f'  {name}: warm-up {i + 1}/{s.warmup} '
                f'{(time.perf_counter() - t0) * 1e3:.0f} ms')
        for i in range(s.steps):
            rt.sync()
            t0 = time.perf_counter()
            step()
            rt.sync()
            times.append((time.perf_counter() - t0) * 1e3)
            log(f'  {name}: step {i + 1}/{s.steps} {times[-1]:.0f} ms')
        del step
        gc.collect()
    if rt.device.type == 'cuda':
        torch.cuda.empty_cache()
    return dict(ms_median=float(statistics.median(times)),
                ms_min=float(min(times)), ms_max=float(max(times)),
                peak_mb=float(mem['peak_mb']))


def _log(msg: str) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current')


def _child_entry(settings: dict, name: str, sdpa: str, conn) -> None:
    """Body of an isolated case: fresh process, fresh allocator."""
    try:
        s = BenchSettings(**settings)
        if s.threads:
            torch.set_num_threads(s.threads)
        bench = build_bench(s)
        conn.send(('ok', measure_case(bench, name, Runtime(s, sdpa), _log)))
    except BaseException:  # report everything to the parent
        conn.send(('error', traceback.format_exc()))
    finally:
        conn.close()


def _run_isolated(s: BenchSettings, name: str, sdpa: str) -> dict:
    ctx = mp.get_context('spawn')
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_entry,
                       args=(asdict(s), name, sdpa, send), daemon=False)
    proc.start()
    send.close()
    try:
        while not recv.poll(1.0):
            if not proc.is_alive():
                proc.join()
                raise RuntimeError(
                    f'case {name} died with exit code {proc.exitcode}'
                    + (' (killed: likely out of memory)'
                       if proc.exitcode in (-9, 137) else ''))
        status, payload = recv.recv()
    finally:
        proc.join()
    if status != 'ok':
        raise RuntimeError(f'case {name} failed in its subprocess:\n'
                           f'{payload}')
    return payload


def isolate_cases(s: BenchSettings, device: torch.device) -> bool:
    if s.isolate not in ('auto', 'always', 'never'):
        raise BenchmarkSetupError(f'Unknown --isolate {s.isolate!r}; choose '
                                  'auto, always or never.')
    if s.isolate == 'auto':
        return device.type == 'cpu'
    return s.isolate == 'always'


def device_description(device: torch.device) -> str:
    if device.type == 'cuda':
        return f'{device} ({torch.cuda.get_device_name(device)})'
    name = 'CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    name = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'cpu ({name}, {torch.get_num_threads()} threads)'


def _loadavg() -> Optional[List[float]]:
    """1/5/15-minute load averages: other processes on the machine skew
    CPU timings (OpenMP threads stall when a core is taken)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_benchmark(s: BenchSettings,
                  on_case: Optional[Callable[[dict], None]] = None) -> dict:
    """Run every case of ``s`` and return the report dict (JSON layout of
    :mod:`winwin_mm.benchmark.report`). ``on_case(partial_report)`` is called
    after each case (e.g. to save partial results)."""
    from winwin_mm.utils.progress import estimate_remaining, progress_line
    from .report import FIELD_DOC, add_ratios
    if s.steps < 1 or s.warmup < 0:
        raise BenchmarkSetupError('--steps must be >= 1 and --warmup >= 0.')
    dev = check_device_dtype(s.device, s.dtype)
    bench = build_bench(s)
    if s.size is None:
        s = replace(s, size=bench.size)
    if s.threads:
        torch.set_num_threads(s.threads)
    else:
        s = replace(s, threads=torch.get_num_threads())
    if s.compile and s.warmup == 0:
        _log('WARNING: --compile with --warmup 0: the first timed step '
             'includes compilation.')
    sdpa = select_sdpa_backend(s.sdpa, dev, s.dtype, *bench.attention_shape())
    isolated = isolate_cases(s, dev)
    report = dict(
        device=dev.type, torch=torch.__version__, task=s.task, arch=s.arch,
        size=list(bench.size), dtype=s.dtype, results={},
        device_name=device_description(dev),
        attention_backend=(sdpa if sdpa == 'default' else
                           f'{sdpa} ({_SDPA_NAMES[sdpa]}, forced with '
                           'torch.nn.attention.sdpa_kernel)'),
        windows=bench.window_info(),
        batch_size=dict(train=s.batch_size, infer=s.infer_batch_size),
        steps=s.steps, warmup=s.warmup, compile=s.compile,
        threads=s.threads, load_average_start=_loadavg(),
        isolated_processes=isolated, case_info={}, cases_doc={},
        errors={}, field_doc=FIELD_DOC)
    start = time.perf_counter()
    plans = {name: bench.plan(name) for name in bench.case_names}
    done_cost, done_s = [], []
    for k, name in enumerate(bench.case_names, 1):
        plan = plans[name]
        _log(f'[{k}/{len(bench.case_names)}] {name}: {plan.tokens} tokens/'
             f'image, {plan.gflops:.1f} GFLOPs/image'
             + (f', {plan.tiles} tiles' if plan.tiles else ''))
        t0 = time.perf_counter()
        try:
            if isolated:
                row = _run_isolated(s, name, sdpa)
            else:
                row = measure_case(bench, name, Runtime(s, sdpa), _log)
        except Exception as e:  # keep the other cases' results
            report['errors'][name] = str(e)
            _log(f'[{k}/{len(bench.case_names)}] {name} FAILED: {e}')
            continue
        row.update(tokens=int(plan.tokens), gflops=float(plan.gflops),
                   tiles=None if plan.tiles is None else int(plan.tiles))
        report['results'][name] = row
        report['case_info'][name] = dict(plan.info, mode=plan.mode,
                                         wall_s=time.perf_counter() - t0)
        base = name if not name.startswith('tiled_infer') else 'tiled_infer'
        report['cases_doc'][name] = CASE_DOC[base]
        _log(f'[{k}/{len(bench.case_names)}] {name}: median '
             f'{row["ms_median"]:.1f} ms, peak {row["peak_mb"]:.0f} MB')
        # time left: the remaining cases' FLOPs at the rate measured so far
        done_cost.append(plan.gflops)
        done_s.append(time.perf_counter() - t0)
        left = [plans[n].gflops for n in bench.case_names[k:]]
        _log(progress_line(k, len(bench.case_names), name,
                           time.perf_counter() - start,
                           estimate_remaining(done_cost, done_s, left)))
        report['elapsed_s'] = time.perf_counter() - start
        add_ratios(report)
        if on_case is not None:
            on_case(report)
    report['elapsed_s'] = time.perf_counter() - start
    report['load_average_end'] = _loadavg()
    add_ratios(report)
    return report
