"""Speed options for the dense (convolutional) part: neck and heads.

* :func:`use_channels_last`: the module's 4-D weights and its 4-D inputs in
  channels-last (NHWC) memory format. Convolutions, batch norm, pooling and
  bilinear resizes then run NHWC kernels; PyTorch's NCHW bilinear-resize
  CUDA kernel loops over batch x channels per output pixel, which is slow on
  Win-Win's many small windows.
* :func:`resize_in_compute_dtype`: under autocast, ``F.interpolate`` runs in
  the autocast dtype (bf16) on inputs already in that dtype, instead of
  being promoted to float32 by autocast (which also widens the concatenation
  of UPerHead's FPN levels to float32).

Both act through hooks registered on the module (they survive ``deepcopy``
and ``.to(device)``) and change no parameter values.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

CL = torch.channels_last


def _to_channels_last(obj):
    if isinstance(obj, torch.Tensor):
        return obj.contiguous(memory_format=CL) if obj.dim() == 4 else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_channels_last(o) for o in obj)
    return obj


def _channels_last_inputs(module, args):
    return tuple(_to_channels_last(a) for a in args)


def use_channels_last(module: nn.Module) -> nn.Module:
    """4-D parameters and buffers of ``module`` to channels-last, and a
    forward pre-hook that makes its 4-D tensor inputs (also inside lists and
    tuples, e.g. multi-level features) channels-last; a no-op copy for
    inputs that already are. Returns ``module``."""
    module.to(memory_format=CL)
    module.register_forward_pre_hook(_channels_last_inputs)
    return module


class ComputeDtypeResize(TorchFunctionMode):
    """While active, ``F.interpolate`` of a tensor that is already in the
    autocast dtype of its device runs with autocast off, so in that dtype
    (the output keeps the input's memory format)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.interpolate:
            x = args[0] if args else kwargs['input']
            dev = x.device.type
            if torch.is_autocast_enabled(dev) and \
                    x.dtype == torch.get_autocast_dtype(dev):
                with torch.autocast(dev, enabled=False):
                    return func(*args, **kwargs)
        return func(*args, **kwargs)


def _enter_mode(module, args):
    mode = ComputeDtypeResize()
    mode.__enter__()
    module._resize_modes.append(mode)


def _exit_mode(module, args, output):
    module._resize_modes.pop().__exit__(None, None, None)


def resize_in_compute_dtype(module: nn.Module) -> nn.Module:
    """Run the bilinear/nearest resizes inside ``module.forward`` in the
    autocast dtype (see :class:`ComputeDtypeResize`); outside autocast
    nothing changes. Returns ``module``."""
    module._resize_modes = []
    module.register_forward_pre_hook(_enter_mode)
    module.register_forward_hook(_exit_mode, always_call=True)
    return module
