"""Build a component named in winwin_mm's scope or in MMSegmentation's,
whatever the current default scope is."""
from typing import Union

import torch.nn as nn

from winwin_mm.registry import MODELS


def build_module(cfg: Union[dict, nn.Module]) -> nn.Module:
    """``dict(type='RoPEViT')`` and ``dict(type='winwin_mm.RoPEViT')`` build
    our class even when the default scope is ``mmseg`` (MMEngine would look
    the bare name up in mmseg's registry); other bare names (e.g.
    ``CrossEntropyLoss``) are built from mmseg's registry."""
    if isinstance(cfg, nn.Module):
        return cfg
    name = cfg['type']
    if not isinstance(name, str) or '.' in name:
        return MODELS.build(cfg)
    if name in MODELS.module_dict:
        return MODELS.build(dict(cfg, type=f'winwin_mm.{name}'))
    from mmseg.registry import MODELS as MMSEG_MODELS
    return MMSEG_MODELS.build(cfg)
