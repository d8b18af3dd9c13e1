"""What a benchmark run measures: settings, cases, the configs behind them.

Every case is built from a configuration file of the repository
(:data:`TASK_CONFIGS`), with the overrides of :class:`BenchSettings` (encoder
size, image size, window geometry, head width) applied on top.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

#: ``--arch`` -> ``winwin_mm.RoPEViT`` arch key.
ARCHS: Dict[str, str] = {
    'vit-ti': 'ti', 'vit-s': 's', 'vit-b': 'b', 'vit-l': 'l'}

TRAIN_CASES = ('fullres_train', 'winwin_train', 'crop_train')
INFER_CASES = ('whole_infer', 'tiled_infer')
CASES = TRAIN_CASES + INFER_CASES

CASE_DOC: Dict[str, str] = {
    'fullres_train': "the model's train_step (data preprocessor, forward, "
                     'loss, backward, the config\'s optimizer wrapper) on '
                     'every token of the full-resolution image',
    'winwin_train': 'the same train_step keeping only the tokens of N random '
                    'non-overlapping square windows (Win-Win)',
    'crop_train': 'the same train_step on one window with the Win-Win token '
                  'budget (side floor(sqrt(N) * window side)), i.e. a random '
                  'crop, as configs/crop_vitb_bdd100k.py trains',
    'whole_infer': "the model's test_step with test_cfg mode='whole' (one "
                   'full-resolution pass, no grad)',
    'tiled_infer': "the model's test_step with its tiled test_cfg (seg: "
                   "MMSegmentation's mode='slide'; flow: mode='tiled', "
                   'confidence-weighted blending)',
}

#: task -> case -> repository config the case is built from.
TASK_CONFIGS: Dict[str, Dict[str, str]] = {
    'seg': {
        'fullres_train': 'configs/fullres_vitb_bdd100k.py',
        'winwin_train': 'configs/winwin_vitb_bdd100k.py',
        'crop_train': 'configs/crop_vitb_bdd100k.py',
        'whole_infer': 'configs/fullres_vitb_bdd100k.py',
        'tiled_infer': 'configs/crop_vitb_bdd100k_slide.py',
    },
    'flow': {
        'fullres_train': 'configs/fullres_vitb_sintel.py',
        'winwin_train': 'configs/winwin_vitb_sintel.py',
        # one window of the crop side: a random crop (as for seg)
        'crop_train': 'configs/winwin_vitb_sintel.py',
        'whole_infer': 'configs/winwin_vitb_spring.py',
        'tiled_infer': 'configs/winwin_vitb_spring_tiled.py',
    },
}
DEFAULT_SIZES = {'seg': (720, 1280), 'flow': (1080, 1920)}
DTYPES = ('fp32', 'bf16', 'fp16')


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
    compile_backend: str = 'inductor'  # 'eager': dynamo only (graph breaks)
    steps: int = 30
    warmup: int = 2
    batch_size: int = 2  # training images (pairs) per step
    infer_batch_size: int = 1  # images per inference step
    head_channels: Optional[int] = None  # None = the config's
    num_classes: Optional[int] = None  # None = the config's (seg)
    num_windows: Optional[int] = None  # None = the config's
    token_fraction: float = 0.27
    window_side: Optional[int] = None  # overrides token_fraction
    tile_size: Optional[Tuple[int, int]] = None  # None = the config's
    overlap: Optional[float] = None  # None = the config's tiling
    tile_batch: Optional[int] = None  # flow tiles per pass; None = config's
    cases: Optional[Tuple[str, ...]] = None  # None = all
    sdpa: str = 'auto'
    isolate: str = 'auto'  # 'auto' | 'always' | 'never'
    seed: int = 0
    threads: Optional[int] = None
    shuffle: bool = True  # randomise the case order (seeded)

    def check(self) -> 'BenchSettings':
        """Raise :class:`BenchmarkSetupError` naming the bad option."""
        if self.task not in TASK_CONFIGS:
            raise BenchmarkSetupError(
                f'Unknown --task {self.task!r}; choose one of '
                f'{sorted(TASK_CONFIGS)}.')
        if self.arch not in ARCHS:
            raise BenchmarkSetupError(f'Unknown --arch {self.arch!r}; choose '
                                      f'one of {sorted(ARCHS)}.')
        if self.dtype not in DTYPES:
            raise BenchmarkSetupError(
                f'Unsupported --dtype {self.dtype!r}; choose fp32, bf16 '
                '(autocast) or fp16 (autocast, CUDA only).')
        if self.steps < 1 or self.warmup < 0:
            raise BenchmarkSetupError('--steps must be >= 1 and --warmup '
                                      '>= 0.')
        if self.overlap is not None and not 0 <= self.overlap < 1:
            raise BenchmarkSetupError(f'--overlap must be in [0, 1), got '
                                      f'{self.overlap}.')
        if self.cases:
            unknown = sorted(set(self.cases) - set(CASES))
            if unknown:
                raise BenchmarkSetupError(
                    f'Unknown case(s) {unknown}; available: {list(CASES)}.')
        if self.isolate not in ('auto', 'always', 'never'):
            raise BenchmarkSetupError(f'Unknown --isolate {self.isolate!r}; '
                                      'choose auto, always or never.')
        if self.task == 'seg' and self.batch_size < 2 and any(
                c in TRAIN_CASES for c in self.case_names):
            raise BenchmarkSetupError(
                f'--batch-size {self.batch_size} cannot train seg: the BN '
                "layers of UPerHead's 1x1 pooling branch need at least 2 "
                'samples per batch in training. Use --batch-size 2 (the '
                "MMSegmentation recipe's images per GPU).")
        return self

    @property
    def image_size(self) -> Tuple[int, int]:
        return tuple(self.size or DEFAULT_SIZES[self.task])

    @property
    def case_names(self) -> Tuple[str, ...]:
        return tuple(c for c in CASES if not self.cases or c in self.cases)


def parse_size(text: str, option: str = '--size') -> Tuple[int, int]:
    """``'720x1280'`` -> ``(720, 1280)`` (height x width, pixels)."""
    parts = str(text).lower().replace('*', 'x').split('x')
    try:
        h, w = (int(p) for p in parts)
        if h <= 0 or w <= 0:
            raise ValueError
    except ValueError:
        raise BenchmarkSetupError(
            f'{option} must be HEIGHTxWIDTH in pixels with positive '
            f'integers, e.g. {option} 720x1280; got {text!r}.') from None
    return h, w
