"""Decoder of the binocular (flow) model: self-attention over frame-1
tokens, then cross-attention from frame-1 tokens to frame-2 tokens.

Both frames live in the same patch-grid coordinate frame: queries are
rotated with the frame-1 positions, keys with the frame-2 positions, so a
cross-attention logit depends only on the offset between a frame-1 token
and a frame-2 token (``tests/test_flow_model.py``). This is what lets the
decoder, trained on a few windows, run on the whole image at test time.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from winwin_mm.registry import MODELS

from ..backbones.vit_layers import (LayerScale, Mlp, RoPEAttention,
                                    RopeTables, drop_path, init_vit_weights)
from ..rope import RoPE2D


# frequencies (radians per patch) of the offset readout: 1/4 resolves small
# offsets, 1/32 keeps offsets up to ~50 patches on the monotonic side
READOUT_FREQS = (1 / 4, 1 / 32)


def _angles(pos: torch.Tensor) -> torch.Tensor:
    """(..., 2) positions -> (..., 2 * K) angles, K = len(READOUT_FREQS)."""
    w = pos.new_tensor(READOUT_FREQS, dtype=torch.float32)
    return (pos.float()[..., None] * w).flatten(-2)


def readout_rotations(pos: torch.Tensor) -> torch.Tensor:
    """Key positions as unit rotations: (..., 2) -> (..., 4K) float32,
    ``[cos(a), sin(a)]`` of the angles ``a = p * w`` of both axes."""
    a = _angles(pos)
    return torch.cat((a.cos(), a.sin()), dim=-1)


def derotate(z: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Turn attention-averaged rotations ``z`` (..., 4K) back by the query
    positions ``pos`` (..., 2): ``sum_j a_j e^{i a(p_j)} e^{-i a(p)}`` as
    ``[cos part, sin part / w]`` (float32; the sine part in patches, ~ the
    mean offset for small ``w d``)."""
    a = _angles(pos)
    c, s = a.cos(), a.sin()
    re, im = z.chunk(2, dim=-1)
    w = z.new_tensor(READOUT_FREQS).repeat(2)  # (2K,): y freqs, x freqs
    return torch.cat((re * c + im * s, (im * c - re * s) / w), dim=-1)


class RoPECrossAttention(RoPEAttention):
    """Multi-head cross-attention with 2-D RoPE on q (query positions) and
    on k (key positions).

    Same parameters as :class:`RoPEAttention` (one fused ``qkv`` projection):
    its q rows project the queries ``x``, its k and v rows the memory ``y``.

    With ``offset_readout=True`` each head also returns where it looked, as
    rotations: for each axis and each frequency ``w`` of ``READOUT_FREQS``
    (radians per patch), ``sum_j a_ij exp(i w (p_j - p_i))`` (the cosine,
    and the sine divided by ``w``; ``4 * len(READOUT_FREQS)`` numbers per
    head), projected to the width and added to the output. For small
    ``w d`` the scaled sine is the mean attended offset in patches: GMFlow's
    soft-argmax readout (Xu et al., CVPR 2022) inside the attention; the
    cosine tells how spread the attention is. It depends only on offsets,
    like RoPE, so window training still transfers to whole images, and the
    rotations are bounded, so bf16 keeps them to ~0.004 (raw coordinates of
    order 100 would round to half a patch). The value heads carry the
    rotations of the key positions (de-rotated by the query position after
    the attention); q and k are zero-padded to the same width, which leaves
    the logits unchanged and SDPA's flash kernel usable. It is not in
    CroCo-Flow: a from-scratch model learns correspondence with it, without
    it only after pretraining (``tests/test_flow_training.py``).
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.,
                 rope_layout: str = 'croco',
                 offset_readout: bool = False) -> None:
        super().__init__(dim, num_heads, qkv_bias, attn_drop, proj_drop,
                         rope_layout)
        self.offset_readout = offset_readout
        if offset_readout:
            self.offset_proj = nn.Linear(
                num_heads * 4 * len(READOUT_FREQS), dim)

    def cross_logits(self, x: torch.Tensor, y: torch.Tensor,
                     rope_x: Optional[RopeTables],
                     rope_y: Optional[RopeTables]) -> torch.Tensor:
        """Attention logits before the softmax, (B, heads, Nx, Ny) (for tests
        and inspection)."""
        q, k, _ = self._qkv(x, y, rope_x, rope_y)
        return q @ k.transpose(-2, -1) * self.head_dim**-0.5

    def _qkv(self, x, y, rope_x, rope_y):
        C = x.shape[-1]
        w, b = self.qkv.weight, self.qkv.bias
        q = F.linear(x, w[:C], None if b is None else b[:C])
        kv = F.linear(y, w[C:], None if b is None else b[C:])
        B, Nx, Ny = x.shape[0], x.shape[1], y.shape[1]
        q = q.reshape(B, Nx, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = kv.reshape(B, Ny, 2, self.num_heads,
                          self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return self._rotate(q, rope_x, 0), self._rotate(k, rope_y, 0), v

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                rope_x: Optional[RopeTables] = None,
                rope_y: Optional[RopeTables] = None,
                attn_mask: Optional[torch.Tensor] = None,
                pos_x: Optional[torch.Tensor] = None,
                pos_y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            x: (B, Nx, C) queries (frame 1).
            y: (B, Ny, C) keys/values (frame 2).
            rope_x, rope_y: RoPE tables of x and y positions.
            attn_mask: optional bool (B|1, 1, Nx|1, Ny), True = may attend
                (e.g. padding of a variable-length frame-2 sequence).
            pos_x, pos_y: (B, Nx, 2), (B, Ny, 2) grid positions, needed
                with ``offset_readout`` only.

        Returns:
            (B, Nx, C).
        """
        B, N, C = x.shape
        q, k, v = self._qkv(x, y, rope_x, rope_y)
        d = self.head_dim
        if self.offset_readout:
            if pos_x is None or pos_y is None:
                raise ValueError('offset_readout needs pos_x and pos_y')
            rot = readout_rotations(pos_y).to(v.dtype)  # (B, Ny, R)
            v = torch.cat((v, rot[:, None].expand(-1, self.num_heads, -1,
                                                  -1)), dim=-1)
            q = F.pad(q, (0, rot.shape[-1]))  # same width as v: logits
            k = F.pad(k, (0, rot.shape[-1]))  # unchanged, flash usable
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask,
            dropout_p=self.attn_drop if self.training else 0.,
            scale=d**-0.5)
        readout = None
        if self.offset_readout:
            out, where = out[..., :d], out[..., d:]
            readout = derotate(where.float(), pos_x[:, None]).to(out.dtype)
            readout = readout.transpose(1, 2).reshape(B, N, -1)
        out = self.proj(out.transpose(1, 2).reshape(B, N, C))
        if readout is not None:
            out = out + self.offset_proj(readout)
        return self.proj_drop(out)


class CrossBlock(nn.Module):
    """Pre-norm decoder block (CroCo-style):

    ``x = x + self_attn(norm1(x))``;
    ``x = x + cross_attn(norm2(x), norm_y(y))``;
    ``x = x + mlp(norm3(x))``. The memory ``y`` is not updated.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.,
                 qkv_bias: bool = True, drop: float = 0.,
                 attn_drop: float = 0., drop_path: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 rope_layout: str = 'croco', norm_eps: float = 1e-6,
                 offset_readout: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = RoPEAttention(dim, num_heads, qkv_bias, attn_drop, drop,
                                  rope_layout)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm_y = nn.LayerNorm(dim, eps=norm_eps)
        self.cross_attn = RoPECrossAttention(dim, num_heads, qkv_bias,
                                             attn_drop, drop, rope_layout,
                                             offset_readout)
        self.norm3 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        ls = layer_scale_init_value
        self.ls1 = LayerScale(dim, ls) if ls else nn.Identity()
        self.ls2 = LayerScale(dim, ls) if ls else nn.Identity()
        self.ls3 = LayerScale(dim, ls) if ls else nn.Identity()
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                rope_x: Optional[RopeTables] = None,
                rope_y: Optional[RopeTables] = None,
                cross_mask: Optional[torch.Tensor] = None,
                pos_x: Optional[torch.Tensor] = None,
                pos_y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (B, Nx, C) frame-1 tokens; y: (B, Ny, C) frame-2 tokens;
        cross_mask: optional bool (B, 1, 1, Ny); pos_x, pos_y: grid
        positions (B, Nx|Ny, 2) for the offset readout. Returns (B, Nx, C)."""
        dp = self.drop_path
        t = self.ls1(self.attn(self.norm1(x), rope_x))
        x = x + drop_path(t, dp, self.training)
        t = self.ls2(
            self.cross_attn(self.norm2(x), self.norm_y(y), rope_x, rope_y,
                            cross_mask, pos_x, pos_y))
        x = x + drop_path(t, dp, self.training)
        t = self.ls3(self.mlp(self.norm3(x)))
        return x + drop_path(t, dp, self.training)


@MODELS.register_module()
class CrossDecoder(BaseModule):
    """Stack of :class:`CrossBlock` with its own RoPE tables.

    Encoder features of both frames are first projected to the decoder width
    (``decoder_embed``, shared by the frames).

    Args:
        in_dims (int): encoder width.
        embed_dims (int): decoder width. Default: 768.
        num_layers (int): Default: 12.
        num_heads (int): Default: 12.
        out_indices (sequence of int): blocks whose outputs are returned
            (the last one after the final LayerNorm); repeats allowed.
            Default: blocks at 1/2, 3/4 and the end of the stack,
            ``(n//2 - 1, 3n//4 - 1, n - 1)``, i.e. (5, 8, 11) for 12 layers.
        mlp_ratio, qkv_bias, drop_rate, attn_drop_rate, drop_path_rate,
        layer_scale_init_value: as in ``RoPEViT``.
        rope_base (float), rope_layout (str): RoPE of the decoder heads.
        offset_readout (bool): cross-attention heads also return the mean
            offset they attended to (see :class:`RoPECrossAttention`).
            Default: False (CroCo-Flow).
        match_init (bool): initialise each cross-attention's key projection
            as a copy of its query projection (std ``embed_dims ** -0.5``),
            so that a logit starts as a similarity of a frame-1 and a
            frame-2 token (a correlation, as in RAFT or GMFlow) instead of a
            random bilinear form. Default: False (CroCo-Flow's init; its
            weights come from pretraining).
        with_cp (bool): gradient checkpointing of blocks.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=...)`` loads CroCo v2 decoder weights (or a
            WinWinFlow checkpoint's decoder) through the key mapping of
            :mod:`.decoder_checkpoint`, as CroCo-Flow starts its decoder.

    A model trained from scratch needs both ``offset_readout`` and
    ``match_init``: with either alone, the flow stays at the constant
    (zero-flow) solution on generated data (``tests/test_flow_training.py``
    records the measurements).
    """

    def __init__(self, in_dims: int, embed_dims: int = 768,
                 num_layers: int = 12, num_heads: int = 12,
                 out_indices: Optional[Tuple[int, ...]] = None,
                 mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 rope_base: float = 100., rope_layout: str = 'croco',
                 offset_readout: bool = False, match_init: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if out_indices is None:
            out_indices = (max(0, num_layers // 2 - 1),
                           max(0, 3 * num_layers // 4 - 1), num_layers - 1)
        self.out_indices = tuple(i if i >= 0 else num_layers + i
                                 for i in out_indices)
        if any(not 0 <= i < num_layers for i in self.out_indices):
            raise ValueError(f'decoder out_indices {tuple(out_indices)} out '
                             f'of range for {num_layers} layers.')
        self.embed_dims, self.num_layers = embed_dims, num_layers
        self.num_heads = num_heads
        self.with_cp, self.match_init = with_cp, match_init
        self.decoder_embed = nn.Linear(in_dims, embed_dims)
        self.rope = RoPE2D(embed_dims // num_heads, rope_base, rope_layout)
        dpr = torch.linspace(0, drop_path_rate, num_layers).tolist()
        self.blocks = nn.ModuleList([
            CrossBlock(embed_dims, num_heads, mlp_ratio, qkv_bias, drop_rate,
                       attn_drop_rate, dpr[i], layer_scale_init_value,
                       rope_layout, offset_readout=offset_readout)
            for i in range(num_layers)
        ])
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)

    def init_weights(self) -> None:
        if self.init_cfg is not None and self.init_cfg.get(
                'type') == 'Pretrained':
            from .decoder_checkpoint import load_pretrained_decoder
            load_pretrained_decoder(self, self.init_cfg)
            self._is_init = True
            return
        super().init_weights()
        if self.init_cfg is None:
            init_vit_weights(self)
            if self.match_init:
                self.init_matching()

    @torch.no_grad()
    def init_matching(self) -> None:
        """Key projection := query projection in every cross-attention (see
        ``match_init``); the value projection keeps its init."""
        C = self.embed_dims
        for blk in self.blocks:
            w = blk.cross_attn.qkv.weight  # (3C, C): q, k, v rows
            trunc_normal_(w[:C], std=C**-0.5)
            w[C:2 * C].copy_(w[:C])

    def forward(self, feat1: torch.Tensor, feat2: torch.Tensor,
                pos1: torch.Tensor, pos2: torch.Tensor,
                mask2: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        """
        Args:
            feat1: (B, K1, C_enc) frame-1 encoder tokens.
            feat2: (B, K2, C_enc) frame-2 encoder tokens.
            pos1, pos2: (B, K1, 2), (B, K2, 2) integer grid positions.
            mask2: optional bool (B, K2), True for real frame-2 tokens
                (False = padding of a variable-length sequence).

        Returns:
            list of (B, K1, C_dec), one per ``out_indices``.
        """
        x = self.decoder_embed(feat1)
        y = self.decoder_embed(feat2)
        rope_x, rope_y = self.rope(pos1), self.rope(pos2)
        cross_mask = None if mask2 is None else mask2[:, None, None, :]
        outs = {}
        for i, blk in enumerate(self.blocks):
            if self.with_cp and self.training and x.requires_grad:
                import torch.utils.checkpoint as cp
                x = cp.checkpoint(blk, x, y, rope_x, rope_y, cross_mask,
                                  pos1, pos2, use_reentrant=False)
            else:
                x = blk(x, y, rope_x, rope_y, cross_mask, pos1, pos2)
            if i == self.num_layers - 1:
                x = self.norm(x)
            if i in self.out_indices:
                outs[i] = x
        return [outs[i] for i in self.out_indices]
