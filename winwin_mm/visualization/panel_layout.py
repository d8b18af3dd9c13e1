"""Titled tiles on a grid: the layout of winwin_mm's result panels.

Every tile of a panel is an (H, W, 3) image of the same size. Each becomes a
cell: a title band above it, the tile, and a footer band below it (a caption
or a drawing such as a colour bar); cells are separated by white gaps. Text
is sized from the tile width, so a 1024-pixel-wide Sintel frame gets titles
about 20 pixels high, readable when the panel is shown at screen size.
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
# height of FONT's capitals at fontScale 1, in pixels
_CAP_HEIGHT = 22
# a footer is a caption or a function drawing into the (h, w, 3) band
Footer = Union[str, Callable[[np.ndarray], None], None]


@dataclass(frozen=True)
class PanelLayout:
    """Geometry of a panel whose tiles are ``tile_hw`` (H, W).

    ``title`` and ``footer`` are the band heights, ``gap`` the white space
    between cells, all in pixels.
    """
    tile_hw: Tuple[int, int]
    title: int
    footer: int
    gap: int

    @classmethod
    def for_tile(cls, tile_hw: Tuple[int, int]) -> 'PanelLayout':
        band = max(16, int(round(tile_hw[1] / 30)))
        return cls(tuple(tile_hw), band, 2 * band, max(2, band // 4))

    @property
    def cell_hw(self) -> Tuple[int, int]:
        return (self.title + self.tile_hw[0] + self.footer, self.tile_hw[1])

    def tile_origin(self, row: int, col: int) -> Tuple[int, int]:
        """(y, x) of the top-left pixel of tile (row, col) in the panel."""
        ch, cw = self.cell_hw
        return (row * (ch + self.gap) + self.title, col * (cw + self.gap))


def put_text(img: np.ndarray, text: str, height: int,
             center: Optional[Tuple[int, int]] = None,
             color: Tuple[int, int, int] = (0, 0, 0)) -> None:
    """Draw ``text`` in place with capitals about ``height`` pixels high,
    centred on ``center`` (x, y) (default: the middle of ``img``), shrunk to
    fit the width of ``img``."""
    scale = height / _CAP_HEIGHT
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    if tw > img.shape[1] - 4:
        scale *= (img.shape[1] - 4) / tw
    thick = max(1, int(round(scale * 1.4)))
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, thick)
    cx, cy = center or (img.shape[1] // 2, img.shape[0] // 2)
    org = (int(cx - tw / 2), int(cy + th / 2))
    cv2.putText(img, text, org, FONT, scale, color, thick, cv2.LINE_AA)


def _cell(tile: np.ndarray, title: str, footer: Footer,
          layout: PanelLayout) -> np.ndarray:
    """(title + H + footer, W, 3): the tile between its two bands."""
    h, w = layout.tile_hw
    if tile.shape[:2] != (h, w):
        raise ValueError(f'tile {tile.shape[:2]} differs from the panel '
                         f'tiles {(h, w)}')
    top = np.full((layout.title, w, 3), 255, np.uint8)
    put_text(top, title, int(layout.title * 0.6))
    bottom = np.full((layout.footer, w, 3), 255, np.uint8)
    if isinstance(footer, str):
        put_text(bottom, footer, int(layout.title * 0.5))
    elif footer is not None:
        footer(bottom)
    return np.concatenate([top, np.asarray(tile, np.uint8), bottom])


def tile_grid(tiles: Sequence[np.ndarray],
              titles: Sequence[str],
              footers: Optional[Sequence[Footer]] = None,
              cols: int = 2) -> np.ndarray:
    """Tiles with their titles and footers, ``cols`` cells per row, row by
    row (``PanelLayout.for_tile`` gives the geometry).

    Args:
        tiles: (H, W, 3) uint8 RGB images of one size.
        titles: one title per tile.
        footers: per tile a caption, a function drawing into the
            (footer, W, 3) band, or None.
        cols: cells per row.

    Returns:
        np.ndarray: (rows * cell_h + (rows - 1) * gap,
        cols * W + (cols - 1) * gap, 3) uint8 RGB on white.
    """
    if len(titles) != len(tiles):
        raise ValueError(f'{len(tiles)} tiles but {len(titles)} titles')
    footers = list(footers) if footers is not None else [None] * len(tiles)
    layout = PanelLayout.for_tile(tiles[0].shape[:2])
    cells: List[np.ndarray] = [
        _cell(t, title, f, layout)
        for t, title, f in zip(tiles, titles, footers)]
    rows = -(-len(cells) // cols)
    ch, cw = layout.cell_hw
    g = layout.gap
    out = np.full((rows * ch + (rows - 1) * g, min(cols, len(cells)) * cw
                   + (min(cols, len(cells)) - 1) * g, 3), 255, np.uint8)
    for i, cell in enumerate(cells):
        y, x = (i // cols) * (ch + g), (i % cols) * (cw + g)
        out[y:y + ch, x:x + cw] = cell
    return out
