"""Colour images of flow fields and of their errors."""
from typing import List, Optional, Tuple

import cv2
import numpy as np

# Middlebury colour wheel (Baker et al., "A Database and Evaluation
# Methodology for Optical Flow", IJCV 2011): number of hues between the six
# primary/secondary colours, chosen for perceptual uniformity.
WHEEL_SEGMENTS = (('RY', 15), ('YG', 6), ('GC', 4), ('CB', 11), ('BM', 13),
                  ('MR', 6))
_CHANNEL = dict(R=0, G=1, B=2, Y=(0, 1), C=(1, 2), M=(0, 2))


def make_color_wheel() -> np.ndarray:
    """The 55-colour wheel, (55, 3) float in [0, 1], RGB.

    Each segment ``XY`` of ``n`` colours goes from colour X to colour Y:
    the channel that Y adds ramps up ``0, 1/n, ...``, or the channel that
    Y drops ramps down ``1, 1 - 1/n, ...``; the others stay as they are.
    """
    colors = []
    for (start, end), n in ((tuple(s), n) for s, n in WHEEL_SEGMENTS):
        ramp = np.arange(n) / n
        base = np.zeros((n, 3))
        base[:, np.atleast_1d(_CHANNEL[start])] = 1
        on_end = set(np.atleast_1d(_CHANNEL[end]))
        on_start = set(np.atleast_1d(_CHANNEL[start]))
        for c in on_end - on_start:  # channel switched on
            base[:, c] = ramp
        for c in on_start - on_end:  # channel switched off
            base[:, c] = 1 - ramp
        colors.append(base)
    return np.concatenate(colors)


COLOR_WHEEL = make_color_wheel()


def flow_to_color(flow: np.ndarray,
                  max_flow: Optional[float] = None) -> np.ndarray:
    """Colour-code a flow field with the Middlebury wheel.

    Hue encodes the direction (right = red... as in the Middlebury
    ``flowcode`` images), saturation the magnitude relative to ``max_flow``;
    magnitudes above ``max_flow`` are darkened. Non-finite vectors are black.

    Args:
        flow: (H, W, 2) ``(u, v)`` flow.
        max_flow: magnitude shown fully saturated; default: the largest
            finite magnitude of ``flow``.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    flow = np.asarray(flow, np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f'flow must be (H, W, 2), got {flow.shape}')
    finite = np.isfinite(flow).all(axis=2)
    u = np.where(finite, flow[..., 0], 0)
    v = np.where(finite, flow[..., 1], 0)
    rad = np.hypot(u, v)
    if max_flow is None:
        max_flow = rad.max() if rad.size else 0
    rad = rad / max(float(max_flow), np.finfo(np.float64).eps)
    ncols = len(COLOR_WHEEL)
    # angle in [-1, 1]; -u/-v puts 0 degrees (rightward motion) on red.
    pos = (np.arctan2(-v, -u) / np.pi + 1) / 2 * (ncols - 1)
    k0 = np.floor(pos).astype(np.int64)
    k1 = (k0 + 1) % ncols
    frac = (pos - k0)[..., None]
    col = (1 - frac) * COLOR_WHEEL[k0] + frac * COLOR_WHEEL[k1]
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    col[~finite] = 0
    return np.floor(255 * np.clip(col, 0, 1)).astype(np.uint8)


def flow_error_map(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: Optional[np.ndarray] = None,
    log2_range: Tuple[float, float] = (-5., 5.)
) -> np.ndarray:
    """Colour image of the end-point error, on a log scale.

    ``log2(EPE)`` clipped to ``log2_range`` is mapped through OpenCV's
    TURBO colour map (dark blue: tiny errors, dark red: large ones).
    Invalid pixels (mask 0 or non-finite ground truth) are black.

    Args:
        pred: (H, W, 2) predicted flow.
        gt: (H, W, 2) ground truth.
        valid: (H, W) mask, optional.
        log2_range: error range shown, in log2 pixels (default 1/32 to 32).

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f'pred {pred.shape} and gt {gt.shape} must both be '
                         '(H, W, 2)')
    mask = np.isfinite(gt).all(axis=2)
    if valid is not None:
        mask &= np.asarray(valid) > 0.5
    epe = np.linalg.norm(np.where(mask[..., None], pred - gt, 0), axis=2)
    rgb = error_colors(epe, log2_range)
    rgb[~mask] = 0
    return rgb


def error_colors(epe: np.ndarray,
                 log2_range: Tuple[float, float] = (-5., 5.)) -> np.ndarray:
    """The colours of :func:`flow_error_map` for end-point errors ``epe``
    (any shape S, in pixels): ``log2(epe)`` clipped to ``log2_range``
    through OpenCV's TURBO map. Returns (*S, 3) uint8 RGB."""
    lo, hi = log2_range
    epe = np.asarray(epe, np.float64)
    level = (np.log2(np.maximum(epe, 2.0**lo)) - lo) / (hi - lo)
    level = np.clip(np.nan_to_num(level, nan=1.0), 0, 1)
    index = np.rint(level * 255).astype(np.uint8).reshape(-1, 1)
    bgr = cv2.applyColorMap(index, cv2.COLORMAP_TURBO)
    return bgr[:, 0, ::-1].reshape(epe.shape + (3,)).copy()


def error_colorbar_ticks(
        width: int, log2_range: Tuple[float, float] = (-5., 5.)
) -> List[Tuple[int, float]]:
    """(x, error in px) of the colour bar's ticks, one per 4x in error
    from the bottom of ``log2_range``, for a bar ``width`` pixels wide."""
    lo, hi = log2_range
    exps = np.arange(np.ceil(lo), np.floor(hi) + 1e-9, 2)
    return [(int(round((e - lo) / (hi - lo) * (width - 1))), 2.0**e)
            for e in exps]


def draw_error_colorbar(band: np.ndarray,
                        log2_range: Tuple[float, float] = (-5., 5.)
                        ) -> None:
    """Draw, in place into an (h, w, 3) RGB band, the scale of
    :func:`flow_error_map`: a TURBO bar over the middle 80 % of the width
    (left: 2**lo px, right: 2**hi px, log spaced) with tick labels below."""
    from .panel_layout import put_text  # the layout imports no flow code
    h, w = band.shape[:2]
    x0 = w // 10
    bar_w, bar_h, y0 = w - 2 * x0, max(4, h * 2 // 5), h // 10
    lo, hi = log2_range
    band[y0:y0 + bar_h, x0:x0 + bar_w] = error_colors(
        2.0**np.linspace(lo, hi, bar_w), log2_range)
    ticks = error_colorbar_ticks(bar_w, log2_range)
    half = bar_w // 12
    for i, (x, value) in enumerate(ticks):
        text = f'{value:g}' if value >= 1 else f'1/{1 / value:g}'
        text += ' px' if i == len(ticks) - 1 else ''
        cx = x0 + x
        cv2.line(band, (cx, y0), (cx, y0 + bar_h + 2), (0, 0, 0), 1)
        start = cx - half
        put_text(band[:, start:cx + half], text, max(6, h // 4),
                 center=(cx - start, h * 3 // 4))
