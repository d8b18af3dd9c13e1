"""2-D rotary position embedding (RoPE) on integer patch coordinates.

Win-Win gives every kept token its *true* (y, x) position on the full-resolution
patch grid, so the attention logit between two tokens depends only on their
relative offset (see ``tests/test_rope.py``). Written from the math of
RoFormer / CroCo v2 ("RoPE100"); no code is taken from either.

Layouts of the ``head_dim`` channels of q and k:

* ``'croco'`` (default): the first half of the channels is rotated by y, the
  second half by x. Inside a half of size ``D = head_dim // 2`` channel ``k`` is
  paired with channel ``k + D // 2`` ("rotate half") and turns with frequency
  ``base ** (-2k / D)``.
* ``'interleaved'``: timm's ``RotaryEmbeddingCat`` with ``'xy'`` grid indexing
  (its RoPE ViTs), channel pairs ``(2i, 2i + 1)``, the x frequencies first,
  then the y ones. Converting weights between the two layouts is a fixed
  permutation of q/k rows (:func:`layout_permutation`).

``mixed=True`` gives learnable frequencies mixing both axes, per block and
per head (Heo et al. 2024, "RoPE-Mixed"): in block ``l`` the angle of pair
``i`` of head ``h`` is ``y * fy[l, h, i] + x * fx[l, h, i]``. timm's
``RotaryEmbeddingMixed`` weights load into it (``tests/test_rope_vit.py``).
"""
from typing import Tuple

import torch
import torch.nn as nn

LAYOUTS = ('croco', 'interleaved')


def _axis_freqs(dim: int, base: float) -> torch.Tensor:
    """Frequencies of one axis for ``dim`` channels: shape (dim // 2,)."""
    return 1.0 / (base**(torch.arange(0, dim, 2, dtype=torch.float64) / dim))


def rotate_pairs(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The 90-degree partner of every channel: ``rot(x)`` with
    ``rope(x) = x * cos + rot(x) * sin``.

    Args:
        x: (..., head_dim).
        layout: ``'croco'`` (rotate half inside each axis half) or
            ``'interleaved'`` (pairs of neighbouring channels).
    """
    if layout == 'interleaved':
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((-x2, x1), dim=-1).flatten(-2)
    # croco: two axis halves, each split in two quarters (a, b) -> (-b, a)
    q = x.shape[-1] // 4
    a, b, c, d = x.split(q, dim=-1)
    return torch.cat((-b, a, -d, c), dim=-1)


def swap_pairs(x: torch.Tensor, layout: str) -> torch.Tensor:
    """Every channel's pair partner, unsigned (one ``flip`` kernel):
    ``rotate_pairs(x) == swap_pairs(x) * pair_signs(...)``.

    Args:
        x: (..., head_dim).
    """
    if layout == 'interleaved':  # (2i, 2i + 1) -> (2i + 1, 2i)
        return x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
    # croco: quarters (a, b, c, d) -> (b, a, d, c)
    return x.unflatten(-1, (2, 2, -1)).flip(-2).flatten(-3)


def pair_signs(head_dim: int, layout: str) -> torch.Tensor:
    """(head_dim,) float32 signs with ``rotate_pairs(x, layout) ==
    swap_pairs(x, layout) * pair_signs(head_dim, layout)``: -1 on the first
    member of each pair, +1 on the second."""
    if layout == 'interleaved':
        return torch.tensor([-1., 1.]).repeat(head_dim // 2)
    q = head_dim // 4
    return torch.cat((-torch.ones(q), torch.ones(q))).repeat(2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               layout: str) -> torch.Tensor:
    """Rotate q or k (or both stacked in a leading dimension): three kernels,
    ``x * cos + swap_pairs(x) * sin`` as flip, mul and addcmul.

    Args:
        x: (..., B, heads, N, head_dim), e.g. q and k together as a
            (2, B, heads, N, head_dim) view of the qkv projection.
        cos, sin: tables of :class:`RoPE2D` (``sin`` sign-folded, see
            :meth:`RoPE2D.forward`), broadcastable to x, e.g.
            (B, 1 or heads, N, head_dim). In x's dtype for a result in x's
            dtype (RoPE2D makes them in the autocast dtype under autocast).

    Returns:
        rotated x, (..., B, heads, N, head_dim).
    """
    return torch.addcmul(x * cos, swap_pairs(x, layout), sin)


def channel_roles(head_dim: int, layout: str) -> list:
    """(axis, frequency index, member of pair) of every channel of a head.

    axis 0 = y, 1 = x; member 0 is the channel multiplied by ``-sin`` in its
    partner's rotation, member 1 the other.
    """
    nf = head_dim // 4  # frequencies per axis
    roles = [None] * head_dim
    for axis in range(2):
        for k in range(nf):
            for m in range(2):
                if layout == 'croco':  # y half first, rotate-half pairing
                    c = axis * 2 * nf + m * nf + k
                else:  # timm interleaved: x pairs first, then y pairs
                    c = 2 * ((1 - axis) * nf + k) + m
                roles[c] = (axis, k, m)
    return roles


def layout_permutation(head_dim: int, src: str, dst: str) -> torch.Tensor:
    """Index ``p`` with ``x_dst = x_src[..., p]`` for the same rotation.

    Apply it to the q and k rows of each head of a ``qkv`` projection to move
    weights between layouts (e.g. a timm checkpoint into the CroCo layout).
    """
    where = {r: c for c, r in enumerate(channel_roles(head_dim, src))}
    return torch.tensor([where[r] for r in channel_roles(head_dim, dst)])


class RoPE2D(nn.Module):
    """Cos/sin tables for 2-D RoPE from integer (y, x) positions.

    Args:
        head_dim (int): channels per attention head, a multiple of 4.
        base (float): frequency base (CroCo v2 uses 100). Default: 100.
        layout (str): ``'croco'`` or ``'interleaved'``. Default: ``'croco'``.
        mixed (bool): learnable mixed-axis frequencies (RoPE-Mixed).
        num_heads (int): heads, needed only when ``mixed``.
        depth (int): blocks with their own frequencies, only when
            ``mixed`` (``forward(pos, layer)`` picks one). Default: 1.
    """

    def __init__(self, head_dim: int, base: float = 100., layout: str = 'croco',
                 mixed: bool = False, num_heads: int = 1,
                 depth: int = 1) -> None:
        super().__init__()
        if head_dim % 4:
            raise ValueError(f'2-D RoPE needs head_dim divisible by 4, got '
                             f'{head_dim}: choose embed_dims / num_heads = 4k.')
        if layout not in LAYOUTS:
            raise ValueError(f'Unknown RoPE layout {layout!r}; use one of '
                             f'{LAYOUTS}.')
        self.head_dim, self.base, self.layout = head_dim, base, layout
        self.mixed = mixed
        freqs = _axis_freqs(head_dim // 2, base).float()  # (head_dim // 4,)
        self.register_buffer('signs', pair_signs(head_dim, layout),
                             persistent=False)
        if mixed:
            # RoPE-Mixed initialisation: per block and head a random
            # direction theta; the first half of the pairs points along
            # theta, the second half along theta + pi/2, with the axial
            # magnitudes.
            mag = torch.cat((freqs, freqs))  # (head_dim // 2,)
            theta = torch.rand(depth, num_heads, 1) * 2 * torch.pi
            quarter = torch.full((freqs.numel(), ), torch.pi / 2)
            ang = theta + torch.cat((torch.zeros_like(quarter), quarter))
            # (depth, heads, npair)
            self.freqs_y = nn.Parameter(mag * torch.sin(ang))
            self.freqs_x = nn.Parameter(mag * torch.cos(ang))
        else:
            self.register_buffer('freqs', freqs, persistent=False)

    @property
    def depth(self) -> int:
        """Blocks with their own frequencies (1 unless ``mixed``)."""
        return self.freqs_y.shape[0] if self.mixed else 1

    def _angles(self, pos: torch.Tensor, layer: int = 0) -> torch.Tensor:
        """(B, N, 2) positions -> angles (B, 1|heads, N, head_dim // 2), in
        pair order: y pairs first, then x pairs."""
        pos = pos.float()
        y, x = pos[..., 0], pos[..., 1]  # (B, N)
        if self.mixed:
            fy, fx = self.freqs_y[layer], self.freqs_x[layer]  # (heads, P)
            return (y[:, None, :, None] * fy[None, :, None] +
                    x[:, None, :, None] * fx[None, :, None])
        ay = y[..., None] * self.freqs  # (B, N, head_dim // 4)
        ax = x[..., None] * self.freqs
        return torch.cat((ay, ax), dim=-1)[:, None]

    def forward(self, pos: torch.Tensor,
                layer: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
        """Tables for :func:`apply_rope`.

        Args:
            pos: (B, N, 2) integer (y, x) positions on the patch grid.
            layer: the block whose frequencies to use (``mixed`` only;
                axial tables are the same for every block).

        Returns:
            cos, sin: (B, 1 or heads, N, head_dim). ``sin`` is sign-folded:
            ``sin(angle) * pair_signs(head_dim, layout)``, so that
            ``rope(x) = x * cos + swap_pairs(x) * sin``. Computed in the
            frequencies' dtype (float32 by default), then cast to the
            autocast dtype when autocast is on for ``pos``'s device (so that
            bf16 q/k are rotated in bf16 and not promoted to float32).
        """
        if self.mixed and not 0 <= layer < self.depth:
            raise IndexError(f'RoPE layer {layer} out of range: this RoPE2D '
                             f'has frequencies for {self.depth} block(s).')
        ang = self._angles(pos, layer)  # (B, h, N, P), P = head_dim // 2
        if self.layout == 'interleaved':
            q = ang.shape[-1] // 2
            ang = torch.cat((ang[..., q:], ang[..., :q]), dim=-1)  # x first
            ang = ang.repeat_interleave(2, dim=-1)
        else:
            # pair j of an axis covers channels (j, j + P/2) of that half
            q = ang.shape[-1] // 2
            ay, ax = ang[..., :q], ang[..., q:]
            ang = torch.cat((ay, ay, ax, ax), dim=-1)
        cos, sin = ang.cos(), ang.sin() * self.signs.to(ang.dtype)
        dev = pos.device.type
        if torch.is_autocast_enabled(dev):
            dtype = torch.get_autocast_dtype(dev)
            cos, sin = cos.to(dtype), sin.to(dtype)
        return cos, sin

    def extra_repr(self) -> str:
        return (f'head_dim={self.head_dim}, base={self.base}, '
                f'layout={self.layout!r}, mixed={self.mixed}, '
                f'depth={self.depth}')
