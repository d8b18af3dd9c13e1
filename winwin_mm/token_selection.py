"""Which tokens of the patch grid a model keeps: one object for every task.

:class:`TokenSelection` is built once per step on the host, from the window
boxes (or the kept token indices) that the data pipeline put in the
metainfo, with plain integer arithmetic: no device tensor is read back, so
the training step has no host-device synchronisation. The model then only
does tensor work with it (gather, reshape, scatter) and takes every size
from its Python ints, so ``torch.compile`` traces the window path without a
graph break. This plays the role of timm Eva's ``apply_keep_indices_nlc``
and DINOv2's ``prepare_tokens_with_masks``; the segmentor, the depth
estimator and the flow model all use it through ``RoPEViT``.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from winwin_mm.windows import boxes_to_token_index, grow_boxes_index

ArrayLike = Union[np.ndarray, Tensor, Sequence]


def _host_array(value: ArrayLike, name: str) -> np.ndarray:
    """Boxes/indices from the metainfo as an int64 numpy array (they live on
    the host; a device tensor is copied back once, outside training)."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in 'iu':
        raise TypeError(f'{name} must hold integers, got dtype {arr.dtype}.')
    return arr.astype(np.int64)


def tokens_to_grid(feat: Tensor, grid_hw: Tuple[int, int]) -> Tensor:
    """(B, h*w, C) tokens in row-major grid order -> (B, C, h, w)."""
    B, _, C = feat.shape
    return feat.transpose(1, 2).reshape(B, C, grid_hw[0], grid_hw[1])


@dataclass(eq=False)
class TokenSelection:
    """Kept tokens of a batch of ``grid_hw`` patch grids.

    Attributes:
        index: (B, K) long flat indices into the ``h * w`` grid, on the
            inputs' device. For windows: window by window, row-major inside
            a window (the order :meth:`to_windows` undoes).
        positions: (B, K, 2) long ``(y, x)`` grid positions of ``index``.
        grid_hw: (h, w) patch grid of the (padded) image.
        num_windows: N windows per image (0: an arbitrary token subset).
        side: window side s in patches (0: an arbitrary token subset).
        key_mask: optional (B, K) bool, False on padding entries (rows of
            different lengths padded to one K); None when every entry is a
            real token.
    """
    index: Tensor
    positions: Tensor
    grid_hw: Tuple[int, int]
    num_windows: int = 0
    side: int = 0
    key_mask: Optional[Tensor] = None

    # ------------------------------------------------------------ building
    @classmethod
    def from_boxes(cls, boxes: ArrayLike, grid_hw: Tuple[int, int],
                   device: Optional[torch.device] = None,
                   margin: int = 0) -> 'TokenSelection':
        """Tokens of (B, N, 4) patch boxes ``(y0, x0, y1, x1)``.

        All boxes of the batch must be squares of one side and lie inside
        ``grid_hw``. ``margin > 0`` keeps every box grown by ``margin``
        patches on each side instead (clipped, overlaps merged: a padded
        selection with ``key_mask``, used for the flow model's frame 2).
        """
        b = _host_array(boxes, 'windows')
        h, w = int(grid_hw[0]), int(grid_hw[1])
        if b.ndim != 3 or b.shape[-1] != 4 or b.shape[1] < 1:
            raise ValueError(f'windows must be (B, N, 4) boxes, got shape '
                             f'{b.shape}.')
        if ((b[..., :2] < 0) | (b[..., 2:3] > h) | (b[..., 3:4] > w)).any():
            raise ValueError(f'Window boxes {b.tolist()} fall outside the '
                             f'{h}x{w} patch grid of the input.')
        index = boxes_to_token_index(b, w).numpy()  # checks the sides
        if margin:
            index, mask = grow_boxes_index(b, (h, w), margin)
            return cls._build(index, (h, w), device, key_mask=mask)
        s = int(b[0, 0, 2] - b[0, 0, 0])
        return cls._build(index, (h, w), device, b.shape[1], s)

    @classmethod
    def from_index(cls, token_index: ArrayLike, grid_hw: Tuple[int, int],
                   device: Optional[torch.device] = None) -> 'TokenSelection':
        """An arbitrary kept-token subset, (B, K) flat indices."""
        index = _host_array(token_index, 'token_index')
        h, w = int(grid_hw[0]), int(grid_hw[1])
        if index.ndim != 2:
            raise ValueError(f'token_index must be (B, K), got shape '
                             f'{index.shape}.')
        if index.size and (index.min() < 0 or index.max() >= h * w):
            raise ValueError(f'token_index values must be in [0, {h * w}) '
                             f'for a {h}x{w} patch grid.')
        return cls._build(index, (h, w), device)

    @classmethod
    def _build(cls, index: np.ndarray, grid_hw, device, num_windows=0,
               side=0, key_mask: Optional[np.ndarray] = None):
        w = grid_hw[1]
        pos = np.stack((index // w, index % w), axis=-1)

        def put(a):  # one host->device copy, no synchronisation
            return torch.from_numpy(np.ascontiguousarray(a)).to(
                device, non_blocking=True) if device is not None else \
                torch.from_numpy(np.ascontiguousarray(a))

        return cls(put(index), put(pos), (int(grid_hw[0]), int(grid_hw[1])),
                   int(num_windows), int(side),
                   None if key_mask is None else put(key_mask))

    @staticmethod
    def pad_cat(selections: Sequence['TokenSelection']) -> 'TokenSelection':
        """Concatenate selections along the batch, padding rows to the
        longest K (index 0, ``key_mask`` False on padding). Row ``j`` of
        selection ``i`` keeps its first ``selections[i].num_tokens`` entries,
        so its outputs are ``out[rows, :num_tokens]``."""
        grid = selections[0].grid_hw
        if any(s.grid_hw != grid for s in selections):
            raise ValueError('pad_cat needs selections of one grid, got '
                             f'{[s.grid_hw for s in selections]}.')
        L = max(s.num_tokens for s in selections)
        idx, pos, masks = [], [], []
        for s in selections:
            pad = L - s.num_tokens
            idx.append(torch.nn.functional.pad(s.index, (0, pad)))
            pos.append(torch.nn.functional.pad(s.positions, (0, 0, 0, pad)))
            mask = s.key_mask if s.key_mask is not None else \
                torch.ones_like(s.index, dtype=torch.bool)
            masks.append(torch.nn.functional.pad(mask, (0, pad), value=False))
        needs_mask = any(s.key_mask is not None for s in selections) or any(
            s.num_tokens != L for s in selections)
        return TokenSelection(torch.cat(idx), torch.cat(pos), grid,
                              key_mask=torch.cat(masks) if needs_mask else None)

    # ------------------------------------------------------------- queries
    @property
    def num_tokens(self) -> int:
        """K, the (padded) number of kept tokens per image."""
        return self.index.shape[1]

    @property
    def is_windows(self) -> bool:
        return self.num_windows > 0

    def attn_mask(self, num_prefix: int = 0) -> Optional[Tensor]:
        """(B, 1, 1, num_prefix + K) bool attention mask, True on real keys
        (prefix tokens always), or None when there is no padding."""
        if self.key_mask is None:
            return None
        keys = self.key_mask
        if num_prefix:
            keys = torch.nn.functional.pad(keys, (num_prefix, 0), value=True)
        return keys[:, None, None, :]

    # ---------------------------------------------------------- tensor work
    def gather(self, tokens: Tensor) -> Tensor:
        """(B, h*w, C) all tokens -> (B, K, C) kept tokens."""
        C = tokens.shape[-1]
        return torch.gather(tokens, 1, self.index[..., None].expand(-1, -1, C))

    def to_windows(self, feat: Tensor) -> Tensor:
        """(B, N*s*s, C) kept-token features -> (B*N, C, s, s) window grids,
        window ``n`` of image ``b`` at ``b * N + n``."""
        if not self.is_windows:
            raise ValueError('to_windows needs a selection made of windows '
                             '(TokenSelection.from_boxes without margin).')
        B, _, C = feat.shape
        n, s = self.num_windows, self.side
        return feat.reshape(B * n, s, s, C).permute(0, 3, 1, 2).contiguous()

    def to_grid(self, feat: Tensor) -> Tensor:
        """(B, K, C) kept-token features -> (B, C, h, w) full grid, zeros
        on dropped tokens (padding entries are dropped too)."""
        B, _, C = feat.shape
        h, w = self.grid_hw
        if self.key_mask is not None:
            feat = feat * self.key_mask[..., None].to(feat.dtype)
        out = feat.new_zeros(B, h * w, C)
        out = out.scatter_add(1, self.index[..., None].expand(-1, -1, C), feat)
        return tokens_to_grid(out, (h, w))

    def to_maps(self, feat: Tensor) -> Tensor:
        """Window grids (B*N, C, s, s) for windows, else the full grid
        (B, C, h, w) (see :meth:`to_windows`, :meth:`to_grid`)."""
        return self.to_windows(feat) if self.is_windows else self.to_grid(feat)
