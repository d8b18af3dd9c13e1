"""The masking-configuration variants of the paper's main table, derived
from one Win-Win segmentation config (same model, seed and schedule)."""
import copy
import math
from typing import Dict, List, Tuple

from mmengine.config import Config

VARIANTS = ('fullres', 'win2', 'win1', 'win4', 'random', 'win2_scatter',
            'lowres')
WINDOW_TYPES = ('winwin_mm.RandomWindows', 'RandomWindows')


def strip_windows(pipeline: List[dict]) -> Tuple[List[dict], dict]:
    """Pipeline without RandomWindows, and that transform's config."""
    found = [t for t in pipeline if t.get('type') in WINDOW_TYPES]
    if len(found) != 1:
        raise ValueError('The config must have exactly one RandomWindows in '
                         f'its train pipeline, found {len(found)}.')
    return [t for t in pipeline if t is not found[0]], found[0]


def _pack_index(pipeline: List[dict]) -> int:
    for i, t in enumerate(pipeline):
        if 'Pack' in str(t.get('type')):
            return i
    return len(pipeline)


def nearest_even(x: float) -> int:
    """The even integer nearest ``x`` (ties up), at least 2."""
    return max(2, 2 * int(math.floor(x / 2 + 0.5)))


def budget(grid_hw: Tuple[int, int], win_cfg: dict) -> Dict[str, int]:
    """Window sides of every variant for the token budget of the config's
    Win-Win windows.

    Rounding rule: the config's side is kept as given (``window_size``) or
    derived from ``token_fraction`` (rounded down to an even side, see
    ``window_side_from_fraction``); it fixes the budget ``tokens = n *
    side**2``. ``win2`` uses ``sqrt(tokens / 2)`` (the config's side when it
    has 2 windows), ``win1`` / ``win4`` the even side nearest ``sqrt(tokens
    / N)``, so their budgets differ from ``tokens`` by at most a few %.
    """
    from winwin_mm.windows import window_side_from_fraction
    n = win_cfg.get('num_windows', 2)
    side = win_cfg.get('window_size') or window_side_from_fraction(
        grid_hw, n, win_cfg['token_fraction'])
    tokens = n * side * side
    win2 = side if n == 2 else nearest_even(math.sqrt(tokens / 2))
    return dict(tokens=tokens, win2=win2,
                win1=nearest_even(math.sqrt(tokens)),
                win4=nearest_even(math.sqrt(tokens / 4)))


def make_variant(cfg: Config, name: str, grid_hw: Tuple[int, int]) -> Tuple[
        Config, dict]:
    """Config of one variant and its description (tokens, eval modes)."""
    if name not in VARIANTS:
        raise ValueError(f'Unknown variant {name!r}; choose from {VARIANTS}.')
    cfg = copy.deepcopy(cfg)
    ds = cfg.train_dataloader.dataset
    base, win = strip_windows(ds.pipeline)
    b = budget(grid_hw, win)
    p = win.get('patch_size', 16)
    at = _pack_index(base)
    desc = dict(eval_modes=['whole'])
    if name == 'fullres':
        pipeline = base
        desc['tokens_per_image'] = grid_hw[0] * grid_hw[1]
    elif name == 'lowres':
        f = math.sqrt(b['tokens'] / (grid_hw[0] * grid_hw[1]))
        pipeline = base[:at] + [
            dict(type='Resize', scale_factor=f, keep_ratio=True)] + base[at:]
        desc['tokens_per_image'] = (int(grid_hw[0] * f) * int(grid_hw[1] * f))
        desc['scale_factor'] = round(f, 4)
    else:
        # random / win2_scatter: the win2 budget as flat tokens, scattered
        # back onto the full grid for the neck and head (the same path)
        n, mode = dict(win2=(2, 'windows'), win1=(1, 'windows'),
                       win4=(4, 'windows'), random=(2, 'random'),
                       win2_scatter=(2, 'scatter'))[name]
        side = b[name] if name in ('win1', 'win4') else b['win2']
        pipeline = base[:at] + [
            dict(type='winwin_mm.RandomWindows', num_windows=n,
                 window_size=side, patch_size=p, mode=mode)] + base[at:]
        desc['tokens_per_image'] = n * side * side
        desc['window_side'] = side
        if name == 'win1':
            crop = side * p
            desc['eval_modes'] = ['whole', 'slide']
            desc['slide'] = dict(mode='slide', crop_size=(crop, crop),
                                 stride=(crop * 2 // 3, crop * 2 // 3))
    if name in ('random', 'win2_scatter'):
        _add_meta_key(pipeline, 'window_tokens')
    ds.pipeline = pipeline
    # fullres / lowres train on every token, explicitly (see
    # winwin_mm.models.window_meta)
    cfg.model['train_windows'] = name not in ('fullres', 'lowres')
    return cfg, desc


def _add_meta_key(pipeline: List[dict], key: str) -> None:
    """Make the packing transform keep ``key`` (when it lists meta_keys)."""
    for t in pipeline:
        if 'Pack' in str(t.get('type')) and 'meta_keys' in t and \
                key not in t['meta_keys']:
            t['meta_keys'] = tuple(t['meta_keys']) + (key, )
