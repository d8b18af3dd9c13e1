"""Window geometry on the patch grid: the one source of truth.

A *box* is ``(y0, x0, y1, x1)`` in patch units, end-exclusive, on the patch
grid of the full-resolution image (token ``(y, x)`` covers pixels
``[y*p, (y+1)*p) x [x*p, (x+1)*p)`` for patch size ``p``). Win-Win keeps the
tokens of ``N`` square, non-overlapping boxes. This module samples boxes and
converts them to token indices and pixel boxes; it imports only numpy and torch.
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch


class WindowSizeError(ValueError):
    """Windows of the requested size/count cannot fit the image."""


def window_side_from_fraction(grid_hw: Tuple[int, int], num_windows: int,
                              token_fraction: float,
                              even: bool = True) -> int:
    """Side (in patches) of ``num_windows`` square windows that together keep
    about ``token_fraction`` of the ``grid_hw`` tokens.

    Rounding rule: ``sqrt(token_fraction * h * w / num_windows)`` rounded
    down, then (``even=True``, the default) down to an even number; a side
    below 2 stays 1. Even sides keep a window aligned with the 0.5x / 2x levels of the
    neck (an odd side 19 becomes 9 and is stretched back, about a token off
    at the border). An explicit ``window_size`` is never rounded.

    Example: BDD100K 720x1280 at patch 16 is 45x80 = 3600 tokens; 2 windows at
    0.27 give side 22 (968 tokens), the paper's budget.
    """
    if not 0 < token_fraction <= 1:
        raise ValueError(f'token_fraction must be in (0, 1], got '
                         f'{token_fraction}.')
    h, w = grid_hw
    side = int(math.floor(math.sqrt(token_fraction * h * w / num_windows) +
                          1e-6))
    if even and side >= 2:
        return side - side % 2
    return max(1, side)


def check_fits(grid_hw: Tuple[int, int], num_windows: int, side: int) -> None:
    """Raise :class:`WindowSizeError` unless ``num_windows`` disjoint
    ``side x side`` windows fit a ``grid_hw`` patch grid.

    For axis-aligned squares on an integer grid the most that fit is
    ``(h // side) * (w // side)``.
    """
    h, w = grid_hw
    if side < 1 or num_windows < 1:
        raise WindowSizeError(
            f'Window side ({side}) and count ({num_windows}) must be >= 1.')
    capacity = (h // side) * (w // side)
    if capacity < num_windows:
        raise WindowSizeError(
            f'{num_windows} non-overlapping windows of {side}x{side} patches '
            f'do not fit a {h}x{w} patch grid (at most {capacity} fit). Use '
            f'smaller or fewer windows, or a larger image.')


def _disjoint(tops: np.ndarray, lefts: np.ndarray, side: int) -> np.ndarray:
    """(T, N) candidate corners -> (T,) True where no two windows overlap."""
    dy = np.abs(tops[:, :, None] - tops[:, None, :]) < side
    dx = np.abs(lefts[:, :, None] - lefts[:, None, :]) < side
    clash = dy & dx
    n = tops.shape[1]
    clash[:, np.arange(n), np.arange(n)] = False
    return ~clash.any(axis=(1, 2))


def sample_windows(grid_hw: Tuple[int, int], num_windows: int, side: int,
                   rng: Optional[np.random.Generator] = None,
                   max_rounds: int = 64, batch: int = 256) -> np.ndarray:
    """Sample ``num_windows`` square non-overlapping windows uniformly over
    all valid joint placements inside a ``grid_hw`` patch grid.

    Rejection sampling of independent uniform corners is exactly uniform over
    the valid joint placements. When windows are so large that almost every
    draw clashes (``max_rounds * batch`` rejections), windows are placed one
    after the other on the positions left free (slightly non-uniform), which
    always succeeds because :func:`check_fits` passed.

    Args:
        grid_hw: (h, w) patch grid of the image region windows may cover.
        num_windows: N.
        side: window side in patches.
        rng: numpy Generator; default the global numpy state (seeded by
            MMEngine's runner and its dataloader workers).

    Returns:
        (N, 4) int64 boxes ``(y0, x0, y1, x1)``, end-exclusive.
    """
    check_fits(grid_hw, num_windows, side)
    h, w = grid_hw
    integers = (rng.integers if rng is not None else
                lambda lo, hi, size: np.random.randint(lo, hi, size=size))
    ny, nx = h - side + 1, w - side + 1
    for _ in range(max_rounds):
        tops = integers(0, ny, (batch, num_windows))
        lefts = integers(0, nx, (batch, num_windows))
        ok = np.flatnonzero(_disjoint(tops, lefts, side))
        if ok.size:
            t, l = tops[ok[0]], lefts[ok[0]]
            return _to_boxes(t, l, side)
    return _sequential(grid_hw, num_windows, side, integers)


def _sequential(grid_hw, num_windows, side, integers) -> np.ndarray:
    """Place windows one by one on free corners; restart on dead ends."""
    h, w = grid_hw
    ny, nx = h - side + 1, w - side + 1
    for _ in range(1000):
        free = np.ones((ny, nx), bool)
        tops, lefts = [], []
        for _ in range(num_windows):
            cand = np.flatnonzero(free)
            if not cand.size:
                break
            c = cand[integers(0, cand.size, 1)[0]]
            t, l = divmod(int(c), nx)
            tops.append(t)
            lefts.append(l)
            free[max(0, t - side + 1):t + side, max(0, l - side + 1):l + side] = False
        if len(tops) == num_windows:
            return _to_boxes(np.array(tops), np.array(lefts), side)
    # a grid-aligned packing always exists after check_fits
    cols = w // side
    idx = np.arange(num_windows)
    return _to_boxes((idx // cols) * side, (idx % cols) * side, side)


def _to_boxes(tops: np.ndarray, lefts: np.ndarray, side: int) -> np.ndarray:
    tops, lefts = np.asarray(tops, np.int64), np.asarray(lefts, np.int64)
    return np.stack([tops, lefts, tops + side, lefts + side], axis=-1)


def sample_random_tokens(grid_hw: Tuple[int, int], num_tokens: int,
                         rng: Optional[np.random.Generator] = None
                         ) -> np.ndarray:
    """``num_tokens`` distinct flat token indices, uniformly, sorted: (K,)."""
    h, w = grid_hw
    if not 0 < num_tokens <= h * w:
        raise WindowSizeError(f'Cannot keep {num_tokens} tokens of a {h}x{w} '
                              f'patch grid.')
    perm = (rng.permutation(h * w) if rng is not None else
            np.random.permutation(h * w))
    return np.sort(perm[:num_tokens]).astype(np.int64)


def boxes_to_token_index(boxes, grid_w: int) -> torch.Tensor:
    """Flat token indices of square windows, window by window, row-major.

    Host-side integer arithmetic (the boxes come from the data pipeline).

    Args:
        boxes: (B, N, 4) ``(y0, x0, y1, x1)`` array or tensor; every box of
            the batch has the same side ``s``.
        grid_w: width of the patch grid.

    Returns:
        (B, N * s * s) long CPU tensor of indices into the flat (h * w) grid.
    """
    b = np.asarray(boxes.cpu() if isinstance(boxes, torch.Tensor) else boxes,
                   dtype=np.int64)
    sides = b[..., 2:] - b[..., :2]
    s = int(sides.reshape(-1)[0])
    if s < 1 or (sides != s).any():
        raise WindowSizeError(
            'All windows of a batch must be squares of one size, got sides '
            f'{sides[..., 0].flatten().tolist()} x '
            f'{sides[..., 1].flatten().tolist()}; use one window size per '
            'iteration.')
    ar = np.arange(s)
    ys = b[..., 0, None, None] + ar[:, None]  # (B, N, s, 1)
    xs = b[..., 1, None, None] + ar[None, :]  # (B, N, 1, s)
    return torch.from_numpy((ys * grid_w + xs).reshape(b.shape[0], -1))


def grow_boxes_index(boxes: np.ndarray, grid_hw: Tuple[int, int],
                     margin: int) -> Tuple[np.ndarray, np.ndarray]:
    """Tokens of boxes grown by ``margin`` patches on every side (clipped to
    the grid, overlaps merged), row-major.

    Args:
        boxes: (B, N, 4) int boxes.

    Returns:
        (B, K) int64 indices padded with 0 and a (B, K) bool mask of real
        tokens (the union differs in size across images when boxes touch the
        border or each other).
    """
    h, w = grid_hw
    B = boxes.shape[0]
    keep = np.zeros((B, h, w), bool)
    for b, sample in enumerate(np.asarray(boxes).tolist()):
        for y0, x0, y1, x1 in sample:
            keep[b, max(0, y0 - margin):min(h, y1 + margin),
                 max(0, x0 - margin):min(w, x1 + margin)] = True
    keep = keep.reshape(B, -1)
    counts = keep.sum(1)
    k = int(counts.max())
    index = np.zeros((B, k), np.int64)
    for b in range(B):
        index[b, :counts[b]] = np.flatnonzero(keep[b])
    return index, np.arange(k)[None] < counts[:, None]


def token_positions(index: torch.Tensor, grid_w: int) -> torch.Tensor:
    """Flat indices (B, K) -> integer (y, x) positions (B, K, 2)."""
    return torch.stack((index // grid_w, index % grid_w), dim=-1)


def grid_positions(grid_hw: Tuple[int, int],
                   device: Optional[torch.device] = None) -> torch.Tensor:
    """All (y, x) positions of a grid, row-major: (h * w, 2)."""
    h, w = grid_hw
    idx = torch.arange(h * w, device=device)
    return token_positions(idx, w)


def grid_size(img_hw: Tuple[int, int], patch_size: int) -> Tuple[int, int]:
    """Patch grid (ceil(H / p), ceil(W / p)) of an image padded right/bottom
    to the patch size."""
    return -(-int(img_hw[0]) // patch_size), -(-int(img_hw[1]) // patch_size)


def pad_to_multiple(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(..., H, W) -> (..., ceil(H/p)*p, ceil(W/p)*p), zero padding on the
    right/bottom: the one place images are padded to the patch grid."""
    H, W = x.shape[-2:]
    ph, pw = (-H) % patch_size, (-W) % patch_size
    if not (ph or pw):
        return x
    return torch.nn.functional.pad(x, (0, pw, 0, ph))


def crop_windows(maps: Sequence[torch.Tensor], boxes,
                 patch_size: int) -> List[torch.Tensor]:
    """Pixel crops of patch-unit windows.

    Args:
        maps: B pixel maps (..., H, W) (a (B, ..., H, W) tensor works too).
        boxes: (B, N, 4) patch boxes ``(y0, x0, y1, x1)`` (host array or
            tensor).
        patch_size: p.

    Returns:
        B*N crops (..., (y1-y0)*p, (x1-x0)*p), window ``n`` of image ``b``
        at ``b * N + n`` (the order of the backbone's window grids).
    """
    p = patch_size
    rows = boxes.tolist() if hasattr(boxes, 'tolist') else list(boxes)
    if len(rows) != len(maps):
        raise ValueError(f'{len(maps)} maps but boxes for {len(rows)} '
                         'images.')
    return [
        m[..., y0 * p:y1 * p, x0 * p:x1 * p]
        for m, sample in zip(maps, rows) for y0, x0, y1, x1 in sample
    ]


def stack_meta(samples, key: str) -> Optional[torch.Tensor]:
    """Stack ``metainfo[key]`` of all samples to a (B, ...) long tensor, or
    None when no sample has it. Mixed presence is an error."""
    have = [key in s.metainfo for s in samples]
    if not any(have):
        return None
    if not all(have):
        raise ValueError(f'Only some samples of the batch carry {key!r}; put '
                         'RandomWindows in every training pipeline branch.')
    arrays = [np.asarray(s.metainfo[key]) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            f'{key!r} differs in shape across the batch ({sorted(shapes)}): '
            'every image of a batch must keep the same number and size of '
            'windows. Use window_size (not token_fraction) when image sizes '
            'differ.')
    return torch.from_numpy(np.stack(arrays)).long()
