"""Analytic FLOP counts for the speed benchmark.

Conventions (used in every ``gflops`` figure the benchmark writes):

* **1 multiply-add = 2 FLOPs.** Only matrix products and convolutions are
  counted; LayerNorm, softmax, GELU, RoPE rotations, BN, ReLU, resizes and
  the loss are left out (they are a few per cent of a ViT).
* **ViT encoder layer** on one sequence of ``N`` tokens of width ``C`` with MLP
  ratio ``r`` (4 for ViT-Ti/S/B/L)::

      multiply-adds = (4 + 2 r) N C^2      # qkv (3), out proj (1), MLP (2r)
                    + 2 N^2 C              # q k^T and attn v
      FLOPs         = 2 * multiply-adds
                    = 24 N C^2 + 4 N^2 C   (r = 4)

  ViT-B (C = 768) at 3600 tokens (1280x720, patch 16): 90.8 GFLOPs per layer;
  at 968 tokens (2 windows of 22x22): 16.6 GFLOPs (5.5x less).
  Attention is per sequence: Win-Win's windows form **one** sequence (global
  attention across windows), while every tile of tiled inference is its own
  sequence.
* **Patch embedding**: ``2 * N_embedded * C * C_in * p^2`` (a Win-Win step
  embeds the whole image and then gathers the kept tokens).
* **Heads / necks**: counted from the real modules' convolution and linear
  shapes by running them on the ``meta`` device under
  :class:`torch.utils.flop_counter.FlopCounterMode` (no arithmetic is done).
* **Training** = 3 x forward (backward ~ 2 x forward); the optimizer step is
  not counted.
"""
from typing import Callable, Iterable, Tuple

TRAIN_FLOPS_FACTOR = 3.0


def vit_layer_flops(num_tokens: int, dim: int, mlp_ratio: float = 4.) -> float:
    """FLOPs of one pre-norm transformer layer on one sequence.

    ``2 * ((4 + 2 * mlp_ratio) * N * C^2 + 2 * N^2 * C)``, i.e.
    ``24 N C^2 + 4 N^2 C`` for ``mlp_ratio = 4``.
    """
    n, c = float(num_tokens), float(dim)
    return 2. * ((4. + 2. * mlp_ratio) * n * c * c + 2. * n * n * c)


def patch_embed_flops(num_tokens: int, dim: int, patch_size: int,
                      in_channels: int = 3) -> float:
    """FLOPs of the patch-embedding convolution for ``num_tokens`` patches."""
    return 2. * num_tokens * dim * in_channels * patch_size * patch_size


def vit_encoder_flops(sequences: Iterable[Tuple[int, int]], dim: int,
                      depth: int, mlp_ratio: float = 4., patch_size: int = 16,
                      embedded_tokens: int = 0, in_channels: int = 3) -> float:
    """FLOPs of a ViT encoder forward pass.

    Args:
        sequences: ``(count, tokens)`` pairs: ``count`` independent sequences
            of ``tokens`` tokens each (e.g. ``[(1, 968)]`` for a Win-Win step,
            ``[(21, 961)]`` for 21 tiles).
        dim, depth, mlp_ratio: encoder width, number of layers, MLP ratio.
        patch_size, in_channels: of the patch embedding.
        embedded_tokens: patches that go through the patch embedding.
    """
    layers = sum(count * vit_layer_flops(tokens, dim, mlp_ratio)
                 for count, tokens in sequences)
    return depth * layers + patch_embed_flops(embedded_tokens, dim,
                                              patch_size, in_channels)


def count_flops(fn: Callable[[], object]) -> float:
    """FLOPs of ``fn()`` as counted by ``torch.utils.flop_counter`` (matrix
    products, convolutions and SDPA; 2 FLOPs per multiply-add). Run it on
    ``meta`` tensors and modules to count shapes without computing."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())
