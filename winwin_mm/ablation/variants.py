"""The masking-configuration variants of the paper's main table, derived
from one Win-Win segmentation config (same model, seed and schedule)."""
import copy
import math
from typing import Dict, List, Tuple

from mmengine.config import Config

VARIANTS = ('fullres', 'win2', 'win1', 'win4', 'random', 'lowres')
WINDOW_TYPES = ('winwin_mm.RandomWindows', 'RandomWindows')


def _strip_windows(pipeline: List[dict]) -> Tuple[List[dict], dict]:
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


def budget(grid_hw: Tuple[int, int], win_cfg: dict) -> Dict[str, int]:
    """Window sides of every variant for the same token budget as the
    config's Win-Win windows (2 windows of ``side2``)."""
    from winwin_mm.windows import window_side_from_fraction
    n = win_cfg.get('num_windows', 2)
    side = win_cfg.get('window_size') or window_side_from_fraction(
        grid_hw, n, win_cfg['token_fraction'])
    tokens = n * side * side
    return dict(tokens=tokens, win2=int(math.sqrt(tokens / 2)),
                win1=int(math.sqrt(tokens)), win4=int(math.sqrt(tokens / 4)))


def make_variant(cfg: Config, name: str, grid_hw: Tuple[int, int]) -> Tuple[
        Config, dict]:
    """Config of one variant and its description (tokens, eval modes)."""
    if name not in VARIANTS:
        raise ValueError(f'Unknown variant {name!r}; choose from {VARIANTS}.')
    cfg = copy.deepcopy(cfg)
    ds = cfg.train_dataloader.dataset
    base, win = _strip_windows(ds.pipeline)
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
        n, mode = dict(win2=(2, 'windows'), win1=(1, 'windows'),
                       win4=(4, 'windows'), random=(2, 'random'))[name]
        side = b['win2'] if name == 'random' else b[name]
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
    ds.pipeline = pipeline
    # fullres / lowres train on every token, explicitly (see
    # winwin_mm.models.window_meta)
    cfg.model['train_windows'] = name not in ('fullres', 'lowres')
    return cfg, desc
