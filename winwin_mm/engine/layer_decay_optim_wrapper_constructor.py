"""Layer-wise learning-rate decay for the RoPE ViT."""
import re
from typing import List

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from winwin_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS


def get_layer_id(name: str, num_layers: int) -> int:
    """Depth of a parameter: 0 for the stem (patch embedding, class token,
    RoPE-Mixed frequencies, like BEiT's position embedding), ``i + 1`` for
    block ``i``, ``num_layers + 1`` for everything after the backbone (final
    norm, neck, heads)."""
    if re.match(r'^(module\.)?backbone\.(patch_embed|cls_token|rope\.)',
                name):
        return 0
    m = re.match(r'^(module\.)?backbone\.blocks\.(\d+)\.', name)
    if m:
        return int(m.group(2)) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """BEiT-style layer-wise lr decay that understands ``RoPEViT`` names.

    ``paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.65)``: the lr of a
    parameter at depth ``d`` (see :func:`get_layer_id`) is
    ``lr * rate ** (num_layers + 1 - d)``. 1-D parameters (norms, biases,
    layer scales), the class token and RoPE-Mixed frequencies get no weight
    decay.
    """

    def add_params(self, params: List[dict], module: nn.Module,
                   **kwargs) -> None:
        num_layers = self.paramwise_cfg['num_layers']
        rate = self.paramwise_cfg['layer_decay_rate']
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith(
                ('.bias', 'cls_token', '.gamma', 'rope.freqs_x',
                 'rope.freqs_y'))
            layer_id = get_layer_id(name, num_layers)
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
