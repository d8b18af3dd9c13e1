"""Load pretrained decoder weights into :class:`CrossDecoder`.

CroCo-Flow (and the paper's flow model) start the encoder *and* the decoder
from CroCo v2 pretraining; the decoder is what turns two frames into
correspondence, and a randomly initialised one stays at the zero-flow
solution (see ``tests/test_flow_training.py``). The encoder half of a CroCo
checkpoint is read by ``RoPEViT``'s mapping (which ignores the decoder keys);
this module reads the decoder half. Only key names are mapped:

==========================================  ================================
CroCo v2 key                                CrossDecoder key
==========================================  ================================
``decoder_embed.*``                         ``decoder_embed.*``
``dec_blocks.i.{norm1,norm2,norm3,norm_y,   ``blocks.i.(same)``
attn.qkv,attn.proj,cross_attn.proj,
mlp.fc1,mlp.fc2}.*``
``dec_blocks.i.cross_attn.proj{q,k,v}.*``   ``blocks.i.cross_attn.qkv.*``
                                            (rows q, k, v)
``dec_norm.*``                              ``norm.*``
==========================================  ================================

The encoder, ``mask_token``, ``prediction_head`` and position-embedding keys
are ignored. CroCo uses the ``'croco'`` RoPE layout; q/k rows are permuted
for a decoder built with another layout. ``'native'`` reads the decoder of a
``WinWinFlow`` checkpoint (keys under ``decoder.``) or of a bare
``CrossDecoder``.
"""
import re
from collections import OrderedDict
from typing import Dict

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from ..backbones.checkpoint_mapping import (key_mismatch, permute_qk_layout,
                                             read_state_dict)

FORMATS = ('auto', 'croco', 'native')
_CROCO_RULES = [(r'^dec_blocks\.', 'blocks.'), (r'^dec_norm\.', 'norm.')]
_CROCO_KEEP = re.compile(r'^(decoder_embed|dec_blocks|dec_norm)\.')
_CROSS_QKV = re.compile(r'^(blocks\.\d+\.cross_attn\.)proj([qkv])\.'
                        r'(weight|bias)$')


def detect_decoder_format(keys) -> str:
    """``'croco'`` when the keys hold CroCo's ``dec_blocks``, else
    ``'native'``."""
    return 'croco' if any(k.startswith('dec_blocks.') for k in keys) \
        else 'native'


def _fuse_cross_qkv(state: Dict[str, torch.Tensor]) -> None:
    """In place: CroCo's separate ``projq/projk/projv`` of every
    cross-attention -> one fused ``qkv`` (rows q, k, v)."""
    parts: Dict[tuple, Dict[str, torch.Tensor]] = {}
    for k in [k for k in state if _CROSS_QKV.match(k)]:
        pre, which, kind = _CROSS_QKV.match(k).groups()
        parts.setdefault((pre, kind), {})[which] = state.pop(k)
    for (pre, kind), qkv in parts.items():
        if set(qkv) != set('qkv'):
            raise RuntimeError(
                f'checkpoint has cross_attn.proj{sorted(qkv)} of {pre} '
                f'{kind} but not all of projq, projk, projv.')
        state[f'{pre}qkv.{kind}'] = torch.cat(
            (qkv['q'], qkv['k'], qkv['v']), dim=0)


def convert_decoder_state_dict(state: Dict[str, torch.Tensor], fmt: str,
                               num_heads: int, rope_layout: str,
                               prefix: str = '') -> Dict[str, torch.Tensor]:
    """Map a checkpoint's decoder tensors onto ``CrossDecoder`` key names
    (and RoPE layout). ``prefix`` selects keys under it (stripped)."""
    if fmt not in FORMATS:
        raise ValueError(f'Unknown decoder checkpoint format {fmt!r}; use '
                         f'one of {FORMATS}.')
    if state and all(k.startswith('module.') for k in state):  # DDP save
        state = {k[len('module.'):]: v for k, v in state.items()}
    if fmt == 'auto':
        fmt = detect_decoder_format(state)
    if not prefix and fmt == 'native' and any(
            k.startswith('decoder.') for k in state):
        prefix = 'decoder.'  # a whole WinWinFlow checkpoint
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    out = OrderedDict()
    if fmt == 'native':
        out.update(state)
        return out
    for k, v in state.items():
        if not _CROCO_KEEP.match(k):
            continue
        for pat, rep in _CROCO_RULES:
            k = re.sub(pat, rep, k)
        out[k] = v
    _fuse_cross_qkv(out)
    permute_qk_layout(out, num_heads, 'croco', rope_layout)
    return out


def load_pretrained_decoder(decoder: nn.Module, init_cfg: dict) -> None:
    """Load ``init_cfg['checkpoint']`` into ``decoder`` (a CrossDecoder).

    ``init_cfg`` keys: ``checkpoint``; optional ``format`` (one of
    :data:`FORMATS`, default ``'auto'``) and ``prefix``. Weights that
    CroCo-Flow's decoder does not have (the ``offset_proj`` of
    ``offset_readout``) start at zero, so the loaded decoder computes
    exactly the pretrained function until training moves them.

    Raises:
        RuntimeError: listing missing and unexpected keys and shape
            mismatches after mapping, with the format read and the fix.
    """
    logger = MMLogger.get_current_instance()
    path = init_cfg['checkpoint']
    state = read_state_dict(path, 'CrossDecoder')
    fmt = init_cfg.get('format', 'auto')
    used = detect_decoder_format(state) if fmt == 'auto' else fmt
    state = convert_decoder_state_dict(state, used, decoder.num_heads,
                                       decoder.rope.layout,
                                       init_cfg.get('prefix', ''))
    own = decoder.state_dict()
    new = sorted(k for k in set(own) - set(state) if '.offset_proj.' in k)
    mismatch = key_mismatch(own, state, may_miss=new)
    if mismatch:
        raise RuntimeError(
            f'Checkpoint {path} (read as {used!r} format) does not match '
            f'CrossDecoder(in_dims={decoder.decoder_embed.in_features}, '
            f'embed_dims={decoder.embed_dims}, num_layers='
            f'{decoder.num_layers}, num_heads={decoder.num_heads}).\n'
            + mismatch +
            'Fix: set the decoder embed_dims / num_layers / num_heads of the '
            'checkpoint (CroCo v2 ViT-B "BaseDecoder": 768 / 12 / 12), or '
            f'init_cfg format= one of {FORMATS[1:]} (and prefix=).')
    with torch.no_grad():
        for k in new:
            own[k].zero_()
    decoder.load_state_dict(state, strict=False)
    logger.info(f'CrossDecoder: loaded {len(state)} tensors from {path} '
                f'({used} format)' +
                (f'; zero-initialised {new}' if new else '') + '.')
