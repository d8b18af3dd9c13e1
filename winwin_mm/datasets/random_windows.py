"""Multi-window token selection as a data transform."""
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import PackSegInputs

from winwin_mm.registry import TRANSFORMS
from winwin_mm.utils.validation import ConfigError, check_count
from winwin_mm.windows import (WindowSizeError, boxes_to_token_index,
                               sample_random_tokens,
                               sample_windows, window_side_from_fraction)

MODES = ('windows', 'random', 'scatter')
# what RandomWindows adds and the model reads: packed by PackWinWinInputs
# (segmentation, depth) and PackFlowInputs (flow) by default
WINDOW_META_KEYS = ('window_boxes', 'window_tokens', 'window_patch_size')


@TRANSFORMS.register_module()
class RandomWindows(BaseTransform):
    """Sample the tokens a Win-Win training step keeps.

    Place it after every geometric transform (resize, crop, flip) and before
    ``winwin_mm.PackWinWinInputs`` (or ``PackFlowInputs``), which pack its
    keys (:data:`WINDOW_META_KEYS`). The model checks that the windows
    arrive and that ``patch_size`` is its own. The windows lie inside the
    image region ``results['img_shape']`` on its patch grid (``H // p`` x
    ``W // p``).

    Modes (the paper's ablations):

    * ``'windows'``: ``num_windows`` square, non-overlapping windows, uniform
      over all valid placements. ``num_windows=1`` is crop training,
      ``2`` is Win-Win, ``4`` the four-window variant.
    * ``'random'``: the same token budget (``num_windows * side**2``) as
      randomly scattered tokens, stored as sorted flat indices.
    * ``'scatter'``: the windows of ``'windows'`` mode, stored as sorted
      flat token indices like ``'random'``: the model then runs exactly the
      ``'random'`` path (features scattered onto the full grid, full-grid
      neck and head), so head effects and token-pattern effects can be
      told apart (the study's ``win2_scatter``).

    Args:
        num_windows (int): N. Default: 2.
        window_size (int, optional): window side in patches.
        token_fraction (float, optional): alternatively, the fraction of the
            image's tokens all windows keep together; the side is rounded
            down to an even number (see ``window_side_from_fraction``).
        patch_size (int): the backbone's patch size. Default: 16.
        mode (str): ``'windows'`` or ``'random'``.

    Added keys:
        window_boxes (np.ndarray): (N, 4) int64 ``(y0, x0, y1, x1)`` in patch
            units, end-exclusive (``'windows'`` mode).
        window_tokens (np.ndarray): (K,) int64 sorted flat token indices on
            the ``h // p`` x ``w // p`` grid (``'random'``, ``'scatter'``).
        window_patch_size (int): ``patch_size``, so the model can refuse
            windows sampled on another patch grid than its own.
    """

    def __init__(self,
                 num_windows: int = 2,
                 window_size: Optional[int] = None,
                 token_fraction: Optional[float] = None,
                 patch_size: int = 16,
                 mode: str = 'windows') -> None:
        if (window_size is None) == (token_fraction is None):
            raise ValueError('RandomWindows needs exactly one of window_size '
                             '(patches) or token_fraction.')
        if mode not in MODES:
            raise ValueError(f'RandomWindows mode must be one of {MODES}, got '
                             f'{mode!r}.')
        if num_windows == 0:
            raise WindowSizeError(f'RandomWindows needs num_windows >= 1, got '
                                  f'{num_windows}. For full-resolution '
                                  'training remove RandomWindows and set '
                                  'model.train_windows=False.')
        try:
            check_count(num_windows, 'RandomWindows num_windows')
            check_count(patch_size, 'RandomWindows patch_size')
            if window_size is not None:
                check_count(window_size, 'RandomWindows window_size (the '
                            'window side in patches)')
        except ConfigError as e:
            raise WindowSizeError(str(e)) from None
        if token_fraction is not None and (
                isinstance(token_fraction, bool)
                or not isinstance(token_fraction, (int, float))
                or not 0 < token_fraction <= 1):
            raise WindowSizeError(
                'RandomWindows token_fraction (the share of the image\'s '
                f'tokens all windows keep) must be in (0, 1], got '
                f'{token_fraction!r}.')
        self.num_windows = num_windows
        self.window_size = window_size
        self.token_fraction = token_fraction
        self.patch_size = patch_size
        self.mode = mode

    def side_for(self, grid_hw) -> int:
        """Window side in patches for an image with patch grid ``grid_hw``."""
        if self.window_size is not None:
            return self.window_size
        return window_side_from_fraction(grid_hw, self.num_windows,
                                         self.token_fraction)

    def transform(self, results: dict) -> dict:
        h, w = results['img_shape'][:2]
        grid = (h // self.patch_size, w // self.patch_size)
        side = self.side_for(grid)
        try:
            if self.mode == 'windows':
                results['window_boxes'] = sample_windows(
                    grid, self.num_windows, side)
            elif self.mode == 'scatter':
                boxes = sample_windows(grid, self.num_windows, side)
                results['window_tokens'] = np.sort(boxes_to_token_index(
                    torch.from_numpy(boxes)[None], grid[1])[0].numpy())
            else:
                results['window_tokens'] = sample_random_tokens(
                    grid, self.num_windows * side * side)
        except WindowSizeError as e:
            raise WindowSizeError(
                f'RandomWindows on image {results.get("img_path", "")} of '
                f'{h}x{w} pixels (patch {self.patch_size}): {e}') from None
        results['window_patch_size'] = self.patch_size
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_windows={self.num_windows}, '
                f'window_size={self.window_size}, token_fraction='
                f'{self.token_fraction}, patch_size={self.patch_size}, '
                f'mode={self.mode!r})')


@TRANSFORMS.register_module()
class PackWinWinInputs(PackSegInputs):
    """``PackSegInputs`` that also packs the keys of :class:`RandomWindows`
    (:data:`WINDOW_META_KEYS`), so no config has to repeat them.

    Args:
        meta_keys (Sequence[str]): as ``PackSegInputs`` (its default: the
            segmentation keys); the window keys are always added.
    """

    def __init__(self,
                 meta_keys=('img_path', 'seg_map_path', 'ori_shape',
                            'img_shape', 'pad_shape', 'scale_factor', 'flip',
                            'flip_direction', 'reduce_zero_label')) -> None:
        meta_keys = tuple(meta_keys)
        super().__init__(meta_keys + tuple(
            k for k in WINDOW_META_KEYS if k not in meta_keys))
