"""Layer-wise learning-rate decay for models built on a RoPE ViT."""
import re
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from winwin_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS


def find_vit_encoder(model: nn.Module) -> tuple:
    """``(prefix, encoder)``: the ViT a model declares as its
    ``vit_encoder`` and its parameter-name prefix in ``model``."""
    model = getattr(model, 'module', model)  # DDP / DataParallel
    enc = getattr(model, 'vit_encoder', None)
    if enc is None or not hasattr(enc, 'group_matcher'):
        raise TypeError(
            f'{type(model).__name__} declares no ViT encoder with layer '
            'groups: layer-wise lr decay needs a `vit_encoder` attribute '
            'naming a module with `group_matcher()` (e.g. RoPEViT). Use the '
            'default optimizer constructor for other models.')
    for name, module in model.named_modules():
        if module is enc:
            return name, enc
    raise ValueError(f'vit_encoder of {type(model).__name__} is not one of '
                     'its submodules.')


def layer_ids(model: nn.Module, num_layers: int) -> Dict[str, int]:
    """Depth of every parameter name of ``model`` (unwrapped): 0 for the
    encoder's ``stem`` group, ``i + 1`` for its block ``i``, ``num_layers +
    1`` for everything else (final norm, decoder, neck, heads)."""
    prefix, enc = find_vit_encoder(model)
    groups = enc.group_matcher()
    stem, blocks = re.compile(groups['stem']), re.compile(groups['blocks'])
    model = getattr(model, 'module', model)
    ids = {}
    for name, _ in model.named_parameters():
        ids[name] = num_layers + 1
        if prefix and not name.startswith(prefix + '.'):
            continue
        rel = name[len(prefix) + 1:] if prefix else name
        m = blocks.match(rel)
        if stem.match(rel):
            ids[name] = 0
        elif m:
            ids[name] = int(m.group(1)) + 1
    return ids


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """BEiT-style layer-wise lr decay over the model's ViT encoder.

    The model names its encoder (``vit_encoder``) and the encoder its layer
    groups (``group_matcher()``, like timm): the segmentors' backbone and
    the flow model's encoder both work.
    ``paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.65)``: the lr of a
    parameter at depth ``d`` (see :func:`layer_ids`) is
    ``lr * rate ** (num_layers + 1 - d)``; ``num_layers`` defaults to (and
    must equal) the encoder's. 1-D parameters (norms, biases, layer scales),
    the class token and RoPE-Mixed frequencies get no weight decay.
    """

    def add_params(self, params: List[dict], module: nn.Module,
                   **kwargs) -> None:
        _, enc = find_vit_encoder(module)
        num_layers: Optional[int] = self.paramwise_cfg.get('num_layers')
        if num_layers is None:
            num_layers = enc.num_layers
        elif num_layers != enc.num_layers:
            raise ValueError(
                f'paramwise_cfg num_layers={num_layers} but the encoder has '
                f'{enc.num_layers} blocks; set optim_wrapper.paramwise_cfg.'
                f'num_layers={enc.num_layers} (or leave it out).')
        rate = self.paramwise_cfg['layer_decay_rate']
        ids = layer_ids(module, num_layers)
        groups = {}
        for name, param in getattr(module, 'module', module).named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith(
                ('.bias', 'cls_token', '.gamma', 'rope.freqs_x',
                 'rope.freqs_y'))
            layer_id = ids[name]
            key = (layer_id, no_decay)
            if key not in groups:
                scale = rate**(num_layers + 1 - layer_id)
                groups[key] = dict(
                    params=[], lr=self.base_lr * scale, lr_scale=scale,
                    weight_decay=0. if no_decay else self.base_wd)
            groups[key]['params'].append(param)
        print_log(f'Layer-wise lr decay {rate} over {num_layers} layers: '
                  f'{len(groups)} parameter groups.', logger='current')
        params.extend(groups[k] for k in sorted(groups))
