"""Transformer layers of the RoPE ViT (timm-style parameter names).

Attention runs through ``torch.nn.functional.scaled_dot_product_attention``,
so flash / memory-efficient kernels are used on GPU when shapes and dtype allow.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..rope import apply_rope

RopeTables = Tuple[torch.Tensor, torch.Tensor]


def init_vit_weights(module: nn.Module) -> None:
    """ViT/MAE default init of every submodule: Linear weights
    trunc-normal(std 0.02) with zero bias, LayerNorm to identity."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample: (B, ...) -> (B, ...)."""
    if p == 0. or not training:
        return x
    keep = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class LayerScale(nn.Module):
    """Per-channel learnable scale ``gamma * x``."""

    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, ), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class RoPEAttention(nn.Module):
    """Multi-head attention with 2-D RoPE on q and k.

    ``num_prefix`` leading tokens (class token) get no rotation. ``kv`` lets the
    same module do cross-attention (keys/values from another sequence with its
    own RoPE tables), as the flow decoder does.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.,
                 rope_layout: str = 'croco') -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dims {dim} is not divisible by num_heads '
                             f'{num_heads}.')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.rope_layout = rope_layout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _rotate(self, t: torch.Tensor, rope: Optional[RopeTables],
                num_prefix: int) -> torch.Tensor:
        """t: (..., B, heads, N, head_dim), e.g. q alone or q and k stacked;
        the first ``num_prefix`` tokens are not rotated."""
        if rope is None:
            return t
        cos, sin = rope
        if num_prefix == 0:
            return apply_rope(t, cos, sin, self.rope_layout)
        rot = apply_rope(t[..., num_prefix:, :], cos, sin, self.rope_layout)
        return torch.cat((t[..., :num_prefix, :], rot), dim=-2)

    def forward(self, x: torch.Tensor, rope: Optional[RopeTables] = None,
                num_prefix: int = 0,
                attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (B, N, C); rope tables (B, 1|heads, N - num_prefix, head_dim);
        attn_mask: bool (B|1, 1, N, N), True = may attend. Returns (B, N, C)."""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads,
                                  self.head_dim).permute(2, 0, 3, 1, 4)
        # q and k rotated together: one set of kernels for both
        q, k = self._rotate(qkv[:2], rope, num_prefix).unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, qkv[2], attn_mask=attn_mask,
            dropout_p=self.attn_drop if self.training else 0.)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class RoPEBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)); x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.,
                 qkv_bias: bool = True, drop: float = 0.,
                 attn_drop: float = 0., drop_path: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 rope_layout: str = 'croco', norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = RoPEAttention(dim, num_heads, qkv_bias, attn_drop, drop,
                                  rope_layout)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        ls = layer_scale_init_value
        self.ls1 = LayerScale(dim, ls) if ls else nn.Identity()
        self.ls2 = LayerScale(dim, ls) if ls else nn.Identity()
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor, rope: Optional[RopeTables] = None,
                num_prefix: int = 0,
                attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (B, N, C) -> (B, N, C)."""
        y = self.ls1(self.attn(self.norm1(x), rope, num_prefix, attn_mask))
        x = x + drop_path(y, self.drop_path, self.training)
        y = self.ls2(self.mlp(self.norm2(x)))
        return x + drop_path(y, self.drop_path, self.training)
