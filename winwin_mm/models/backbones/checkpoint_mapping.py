"""Load CroCo v2, timm RoPE-ViT and mmpretrain/MAE ViT weights into RoPEViT.

Only key names are mapped (no code from those projects). Absolute position
embeddings are dropped: Win-Win uses RoPE only. timm's RoPE ViTs use the
interleaved RoPE layout; when the model uses the CroCo layout the q/k rows of
every head are permuted so the rotation is the same.
"""
import re
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader

from ..rope import layout_permutation

FORMATS = ('auto', 'native', 'croco', 'timm', 'mmpretrain')
# keys that exist in the source checkpoints but have no place in the backbone
_DROP = re.compile(
    r'^(pos_embed|enc_pos_embed|head\..*|fc_norm\..*|dec_.*|decoder_.*|'
    r'mask_token|prediction_head\..*|pre_norm\..*|rope\..*|'
    r'data_preprocessor\..*|neck\..*)$')

_RULES: Dict[str, List[Tuple[str, str]]] = {
    'croco': [(r'^enc_blocks\.', 'blocks.'), (r'^enc_norm\.', 'norm.')],
    'timm': [(r'\.gamma_1$', '.ls1.gamma'), (r'\.gamma_2$', '.ls2.gamma')],
    'mmpretrain': [
        (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
        (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
        (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
        (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
        (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
        (r'^layers\.(\d+)\.attn\.gamma1\.weight$', r'blocks.\1.ls1.gamma'),
        (r'^layers\.(\d+)\.ffn\.gamma2\.weight$', r'blocks.\1.ls2.gamma'),
        (r'^layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
        (r'^ln1\.', 'norm.'),
    ],
    'native': [],
}
# the RoPE layout each format's weights were trained with
_SOURCE_LAYOUT = {'croco': 'croco', 'timm': 'interleaved'}


def detect_format(keys) -> str:
    keys = list(keys)
    if any(k.startswith('enc_blocks.') for k in keys):
        return 'croco'
    if any(k.startswith('layers.') for k in keys):
        return 'mmpretrain'
    if any(k.endswith('gamma_1') or k.startswith('head.') for k in keys):
        return 'timm'
    return 'native'


def read_state_dict(path: str, owner: str) -> Dict[str, torch.Tensor]:
    """The tensors of the checkpoint at ``path`` (local file or URL) for
    ``owner``'s ``init_cfg``; a missing file names the fix."""
    try:
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f'{owner} init_cfg checkpoint {path!r} not found. Download it '
            '(e.g. CroCo v2 weights from https://github.com/naver/croco) to '
            'that path, or set the init_cfg to None to start from random '
            'init.') from e
    return unwrap_state_dict(ckpt)


def unwrap_state_dict(ckpt) -> Dict[str, torch.Tensor]:
    """The tensors of a loaded checkpoint (under ``state_dict``, ``model``
    or ``module`` when wrapped)."""
    for key in ('state_dict', 'model', 'module'):
        if isinstance(ckpt, dict) and key in ckpt and isinstance(
                ckpt[key], dict):
            ckpt = ckpt[key]
    return ckpt


def _rope_mixed_keys(state: Dict[str, torch.Tensor],
                     fmt: str) -> Dict[str, torch.Tensor]:
    """RoPE-Mixed frequencies of a checkpoint as ``rope.freqs_y`` /
    ``rope.freqs_x`` (depth, heads, pairs) in RoPE2D's pair order, or {}.

    timm's ``rope.freqs`` is (2 = (x, y), depth, heads, pairs) in channel-pair
    order, x-half first: RoPE2D's pair ``i`` is timm's pair ``(i + P/2) % P``
    (its ``'interleaved'`` layout swaps the halves). A native checkpoint of a
    model whose frequencies were shared by all blocks, (heads, pairs), is
    broadcast to one copy per block by :func:`load_pretrained`."""
    if fmt == 'timm' and 'rope.freqs' in state:
        f = state['rope.freqs']
        half = f.shape[-1] // 2
        return {'rope.freqs_x': f[0].roll(-half, -1),
                'rope.freqs_y': f[1].roll(-half, -1)}
    return {k: state[k] for k in ('rope.freqs_y', 'rope.freqs_x')
            if k in state}


def convert_state_dict(state: Dict[str, torch.Tensor], fmt: str,
                       num_heads: int, rope_layout: str,
                       prefix: str = '') -> Dict[str, torch.Tensor]:
    """Map a source state dict onto RoPEViT key names (and RoPE layout);
    RoPE-Mixed frequencies are kept (timm's converted), the other RoPE
    buffers dropped."""
    if fmt not in FORMATS:
        raise ValueError(f'Unknown pretrained_format {fmt!r}; use one of '
                         f'{FORMATS}.')
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    for strip in ('backbone.', 'encoder.', 'module.'):
        if state and all(k.startswith(strip) for k in state):
            state = {k[len(strip):]: v for k, v in state.items()}
    if fmt == 'auto':
        fmt = detect_format(state)
    out = OrderedDict(_rope_mixed_keys(state, fmt))
    for k, v in state.items():
        for pat, rep in _RULES[fmt]:
            k = re.sub(pat, rep, k)
        if not _DROP.match(k):
            out[k] = v
    permute_qk_layout(out, num_heads, _SOURCE_LAYOUT.get(fmt, rope_layout),
                      rope_layout)
    return out


def permute_qk_layout(state: Dict[str, torch.Tensor], num_heads: int,
                      src_layout: str, dst_layout: str) -> None:
    """In place: the q/k rows of every fused ``*attn.qkv`` weight and bias
    (self- and cross-attention) from ``src_layout`` to ``dst_layout``."""
    if src_layout == dst_layout:
        return
    for k in [k for k in state if k.endswith(('attn.qkv.weight',
                                              'attn.qkv.bias'))]:
        head_dim = state[k].shape[0] // 3 // num_heads
        state[k] = permute_qk(state[k], num_heads,
                              layout_permutation(head_dim, src_layout,
                                                 dst_layout))


def key_mismatch(own: Dict[str, torch.Tensor],
                 state: Dict[str, torch.Tensor],
                 may_miss: Sequence[str] = (),
                 limit: Optional[int] = None) -> str:
    """'' when ``state`` fits a model whose state dict is ``own`` (keys in
    ``may_miss`` may be absent), else the missing keys, unexpected keys and
    shape mismatches, one line each, for the loader's error (with
    ``limit``: their counts and the first ``limit`` of each)."""
    shape_err = [f'{k}: checkpoint {tuple(v.shape)} vs model '
                 f'{tuple(own[k].shape)}' for k, v in state.items()
                 if k in own and own[k].shape != v.shape]
    missing = sorted(set(own) - set(state) - set(may_miss))
    unexpected = sorted(set(state) - set(own))
    if not (missing or unexpected or shape_err):
        return ''
    if limit is not None:
        def cut(items):
            more = f' ... ({len(items) - limit} more)' \
                if len(items) > limit else ''
            return f'({len(items)}): {items[:limit]}{more}'
        return (f'  missing keys {cut(missing)}\n  unexpected keys '
                f'{cut(unexpected)}\n  shape mismatches {cut(shape_err)}\n')
    return (f'  missing keys: {missing}\n  unexpected keys: {unexpected}\n'
            f'  shape mismatches: {shape_err}\n')


def permute_qk(w: torch.Tensor, num_heads: int,
               perm: torch.Tensor) -> torch.Tensor:
    """Permute the channels of every q and k head of a fused qkv
    weight (3*C, C) or bias (3*C,); v is untouched."""
    dim = w.shape[0] // 3
    hd = dim // num_heads
    w = w.clone()
    for part in range(2):  # q, k
        blk = w[part * dim:(part + 1) * dim].reshape(num_heads, hd, *w.shape[1:])
        w[part * dim:(part + 1) * dim] = blk[:, perm].reshape(dim, *w.shape[1:])
    return w


def load_pretrained(model, init_cfg: dict, fmt: str = 'auto') -> None:
    """Load ``init_cfg['checkpoint']`` into ``model`` (a RoPEViT).

    Raises:
        RuntimeError: listing missing and unexpected keys after mapping, or
            shape mismatches, with the detected format.
    """
    logger = MMLogger.get_current_instance()
    path = init_cfg['checkpoint']
    state = read_state_dict(path, 'RoPEViT')
    fmt = init_cfg.get('format', fmt)
    used_fmt = detect_format(state) if fmt == 'auto' else fmt
    state = convert_state_dict(state, used_fmt, model.num_heads,
                               model.rope.layout, init_cfg.get('prefix', ''))
    own = model.state_dict()
    mixed_ckpt = 'rope.freqs_x' in state
    if mixed_ckpt != model.rope.mixed:
        raise RuntimeError(
            f'Checkpoint {path} was trained with '
            f'{"RoPE-Mixed" if mixed_ckpt else "axial RoPE"} but the model '
            f'uses {"RoPE-Mixed" if model.rope.mixed else "axial RoPE"}: set '
            f'rope_mixed={mixed_ckpt} in the backbone config.')
    for k in ('rope.freqs_y', 'rope.freqs_x'):
        if k in state and state[k].dim() == 2:  # shared by all blocks
            state[k] = state[k].expand_as(own[k]).clone()
    mismatch = key_mismatch(own, state, limit=8)
    # a whole segmentor / flow model: its backbone keys under a prefix
    found = Counter(k.split('.')[0] + '.' for k in state if k not in own
                    and k.split('.', 1)[-1] in own)
    if mismatch and found and not init_cfg.get('prefix'):
        pre = found.most_common(1)[0][0]
        raise RuntimeError(
            f'Checkpoint {path} holds a whole model (backbone keys under '
            f'{pre!r}), not a backbone.\n' + mismatch + 'Fix: add prefix='
            f'{pre!r} to the backbone init_cfg, e.g. init_cfg=dict('
            f"type='Pretrained', checkpoint={path!r}, prefix={pre!r}).")
    if mismatch:
        raise RuntimeError(
            f'Checkpoint {path} (read as {used_fmt!r} format) does not match '
            f'RoPEViT(embed_dims={model.embed_dims}, num_layers='
            f'{model.num_layers}, with_cls_token={model.cls_token is not None}'
            f', layer_scale={hasattr(model.blocks[0].ls1, "gamma")}).\n'
            + mismatch +
            'Fix: choose the arch / with_cls_token / layer_scale_init_value '
            'of the checkpoint, or set init_cfg format= one of '
            f'{FORMATS[1:]}.')
    model.load_state_dict(state, strict=True)
    logger.info(f'RoPEViT: loaded {len(state)} tensors from {path} '
                f'({used_fmt} format).')
