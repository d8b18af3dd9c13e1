"""RoPE ViT backbone that runs on the full token grid or on kept windows."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from winwin_mm.registry import MODELS
from winwin_mm.token_selection import (ArrayLike, TokenSelection,
                                       tokens_to_grid)
from winwin_mm.windows import grid_positions, grid_size, pad_to_multiple
from ..rope import RoPE2D
from .vit_layers import RoPEBlock, init_vit_weights

ARCH_SETTINGS: Dict[str, dict] = {
    'ti': dict(embed_dims=192, num_layers=12, num_heads=3),
    's': dict(embed_dims=384, num_layers=12, num_heads=6),
    'b': dict(embed_dims=768, num_layers=12, num_heads=12),
    'l': dict(embed_dims=1024, num_layers=24, num_heads=16),
}


@MODELS.register_module()
class RoPEViT(BaseModule):
    """Plain ViT with 2-D RoPE and no absolute position embedding.

    ``forward(x)`` runs on every token of the (padded) image; with a
    :class:`~winwin_mm.token_selection.TokenSelection` (built by
    :meth:`select_tokens` from window boxes or kept token indices) it keeps
    only those tokens, with their true grid positions, so the sequence is
    short (Win-Win training; the random-token ablation). The selection is
    built on the host once per step; the forward on it has no host-device
    sync and no graph break under ``torch.compile``. ``forward(x,
    windows=...)`` / ``forward(x, token_index=...)`` build it in place.

    Args:
        arch (str | dict): ``'ti'``, ``'s'``, ``'b'``, ``'l'`` or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``. Default: ``'b'``.
        patch_size (int): Default: 16.
        in_channels (int): Default: 3.
        out_indices (Sequence[int]): blocks whose outputs are returned.
        mlp_ratio (float): Default: 4.
        qkv_bias (bool): Default: True.
        drop_rate, attn_drop_rate, drop_path_rate (float): regularisation.
        layer_scale_init_value (float, optional): enables LayerScale.
        with_cls_token (bool): prepend a class token (no RoPE on it), for
            checkpoints that have one. Default: False.
        final_norm (bool): LayerNorm on the last block's output. Default: True.
        rope_base (float): Default: 100 (CroCo v2).
        rope_layout (str): ``'croco'`` or ``'interleaved'`` (timm).
        rope_mixed (bool): learnable mixed-axis frequencies, per block and
            head (RoPE-Mixed; its paper and timm use ``rope_base=10``).
        with_cp (bool): gradient checkpointing of blocks.
        pretrained_format (str): key mapping for ``init_cfg`` checkpoints:
            ``'auto'``, ``'native'``, ``'croco'``, ``'timm'``, ``'mmpretrain'``.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='croco_v2_vitb.pth')``.

    Shapes:
        x: (B, C_in, H, W), any H, W (padded right/bottom to the patch size).
        windows: (B, N, 4) patch-unit boxes ``(y0, x0, y1, x1)``, one square
            size for the batch (host array or tensor).
        returns: tuple of (B*N, C, s, s) with windows; (B, C, ceil(H/p),
            ceil(W/p)) otherwise (token_index mode scatters kept tokens back
            onto that full grid, zeros elsewhere).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 patch_size: int = 16,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, 5, 8, 11),
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 with_cls_token: bool = False,
                 final_norm: bool = True,
                 rope_base: float = 100.,
                 rope_layout: str = 'croco',
                 rope_mixed: bool = False,
                 with_cp: bool = False,
                 pretrained_format: str = 'auto',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in ARCH_SETTINGS:
                raise ValueError(f'Unknown RoPEViT arch {arch!r}; choose one '
                                 f'of {sorted(ARCH_SETTINGS)} or pass a dict.')
            arch = ARCH_SETTINGS[arch.lower()]
        self.embed_dims = arch['embed_dims']
        self.num_layers = arch['num_layers']
        self.num_heads = arch['num_heads']
        self.patch_size = patch_size
        self.out_indices = tuple(i if i >= 0 else self.num_layers + i
                                 for i in out_indices)
        if any(not 0 <= i < self.num_layers for i in self.out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} out of range '
                             f'for {self.num_layers} layers.')
        self.pretrained_format = pretrained_format
        self.with_cp = with_cp
        dim = self.embed_dims
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(
            in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.num_prefix = 1 if with_cls_token else 0
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) \
            if with_cls_token else None
        self.pos_drop = nn.Dropout(drop_rate)
        self.rope = RoPE2D(dim // self.num_heads, rope_base, rope_layout,
                           rope_mixed, self.num_heads,
                           depth=self.num_layers if rope_mixed else 1)
        dpr = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.blocks = nn.ModuleList([
            RoPEBlock(dim, self.num_heads, mlp_ratio, qkv_bias, drop_rate,
                      attn_drop_rate, dpr[i], layer_scale_init_value,
                      rope_layout) for i in range(self.num_layers)
        ])
        self.norm = nn.LayerNorm(dim, eps=1e-6) if final_norm else nn.Identity()

    # ------------------------------------------------------------------ init
    def init_weights(self) -> None:
        if self.init_cfg is not None and self.init_cfg.get(
                'type') == 'Pretrained':
            from .checkpoint_mapping import load_pretrained
            load_pretrained(self, self.init_cfg, self.pretrained_format)
            self._is_init = True
            return
        super().init_weights()
        if self.init_cfg is None:
            init_vit_weights(self)
            w = self.patch_embed.proj.weight
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
            if self.cls_token is not None:
                trunc_normal_(self.cls_token, std=.02)

    # --------------------------------------------------------------- forward
    def grid_size(self, img_hw: Tuple[int, int]) -> Tuple[int, int]:
        """Patch grid (h, w) of an (H, W) image padded to the patch size."""
        return grid_size(img_hw, self.patch_size)

    def select_tokens(self, img_hw: Tuple[int, int],
                      windows: Optional[ArrayLike] = None,
                      token_index: Optional[ArrayLike] = None,
                      device: Optional[torch.device] = None,
                      margin: int = 0) -> Optional[TokenSelection]:
        """The tokens an (H, W) image keeps: the (B, N, 4) patch boxes
        ``windows`` (grown by ``margin`` patches when > 0), or the (B, K)
        flat ``token_index``, or None (every token).

        Host-side: call it before the compiled part of a step with the boxes
        from the metainfo; the returned indices are on ``device``."""
        if windows is not None and token_index is not None:
            raise ValueError('Pass either windows or token_index, not both.')
        grid = self.grid_size(img_hw)
        if windows is not None:
            return TokenSelection.from_boxes(windows, grid, device, margin)
        if token_index is not None:
            return TokenSelection.from_index(token_index, grid, device)
        return None

    def embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Pad to a multiple of the patch size and embed.

        x: (B, C_in, H, W) -> tokens (B, h*w, C) and grid (h, w)."""
        x = self.patch_embed.proj(pad_to_multiple(x, self.patch_size))
        grid = (x.shape[-2], x.shape[-1])
        return x.flatten(2).transpose(1, 2), grid

    def forward_tokens(self, tokens: torch.Tensor, pos: torch.Tensor,
                       attn_mask: Optional[torch.Tensor] = None
                       ) -> List[torch.Tensor]:
        """Run the blocks on given tokens at given grid positions.

        Args:
            tokens: (B, K, C) patch tokens (no class token).
            pos: (B, K, 2) integer (y, x) grid positions.
            attn_mask: optional bool (B|1, 1, K', K') (K' includes the class
                token), True where attention is allowed.

        Returns:
            list of (B, K, C), one per ``out_indices`` (class token removed).
        """
        # axial RoPE: one table for all blocks; RoPE-Mixed: one per block
        rope = None if self.rope.mixed else self.rope(pos)
        x = tokens
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1)
        x = self.pos_drop(x)
        outs = []
        for i, blk in enumerate(self.blocks):
            if self.rope.mixed:
                rope = self.rope(pos, i)
            if self.with_cp and self.training and x.requires_grad:
                x = cp.checkpoint(blk, x, rope, self.num_prefix, attn_mask,
                                  use_reentrant=False)
            else:
                x = blk(x, rope, self.num_prefix, attn_mask)
            if i == self.num_layers - 1:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append(x[:, self.num_prefix:])
        return outs

    def forward_selected(self, x: torch.Tensor,
                         selection: Optional[TokenSelection] = None
                         ) -> List[torch.Tensor]:
        """Embed ``x`` and run the blocks on the selected tokens only (all
        tokens when ``selection`` is None), at their grid positions; padding
        entries of a padded selection are masked out as attention keys.

        x: (B, C_in, H, W) -> list of (B, K, C) per ``out_indices`` (K =
        h*w without a selection). No host-device sync, no data-dependent
        Python branch: ``torch.compile`` traces it without graph breaks.
        """
        tokens, grid = self.embed(x)
        if selection is None:
            pos = grid_positions(grid, tokens.device).expand(
                tokens.shape[0], -1, -1)
            return self.forward_tokens(tokens, pos)
        return self.forward_tokens(selection.gather(tokens),
                                   selection.positions,
                                   selection.attn_mask(self.num_prefix))

    def forward(self,
                x: torch.Tensor,
                windows: Optional[ArrayLike] = None,
                token_index: Optional[ArrayLike] = None,
                selection: Optional[TokenSelection] = None
                ) -> Tuple[torch.Tensor, ...]:
        """See the class docstring for shapes. ``windows`` / ``token_index``
        build the selection here (host side); pass a prebuilt ``selection``
        (:meth:`select_tokens`) to keep that work out of a compiled graph."""
        if selection is None:
            selection = self.select_tokens(x.shape[-2:], windows, token_index,
                                           x.device)
        elif windows is not None or token_index is not None:
            raise ValueError('Pass a selection or windows/token_index, not '
                             'both.')
        outs = self.forward_selected(x, selection)
        if selection is None:
            grid = self.grid_size(x.shape[-2:])
            return tuple(tokens_to_grid(o, grid) for o in outs)
        return tuple(selection.to_maps(o) for o in outs)

    # ----------------------------------------------------------- layer decay
    def group_matcher(self, coarse: bool = False) -> Dict[str, object]:
        """Parameter groups by depth, like timm's ``group_matcher``: regexes
        on parameter names relative to this module. ``stem`` (patch
        embedding, class token, RoPE-Mixed frequencies) is depth 0; block
        ``i`` is depth ``i + 1``; everything else (final norm) comes after
        the blocks."""
        return dict(stem=r'^(patch_embed|cls_token|rope\.)',
                    blocks=r'^blocks\.(\d+)\.')
