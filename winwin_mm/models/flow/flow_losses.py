"""Per-pixel optical-flow losses, usable alone or inside ``WindowLoss``.

Every loss here takes a prediction ``(B, C, H, W)`` whose first two channels
are the flow ``(u, v)`` (extra channels, such as the confidence of
:class:`LaplacianFlowLoss`, follow) and a ground truth ``(B, 2, H, W)``.
With ``reduction_override='none'`` they return one value per pixel,
``(B, H, W)``, which is what ``winwin_mm.WindowLoss`` needs to restrict the
loss to the kept windows and to the valid ground-truth pixels::

    dict(type='winwin_mm.WindowLoss',
         loss=dict(type='winwin_mm.LaplacianFlowLoss'))
    ... loss(pred, gt_flow, valid=gt_valid)

Alone, ``reduction='mean'`` averages over the pixels marked in ``valid``
(all pixels when it is not given).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from winwin_mm.registry import MODELS

REDUCTIONS = ('none', 'mean', 'sum')


def bounded_scale(raw: torch.Tensor, a: float = 0.25,
                  b: float = 4.) -> torch.Tensor:
    """Map an unbounded confidence channel to a Laplacian scale in ``[a, b]``:
    ``s = (b - a) * sigmoid(raw) + a``. Any shape."""
    return (b - a) * torch.sigmoid(raw) + a


def _check(pred: torch.Tensor, target: torch.Tensor,
           min_channels: int) -> None:
    if pred.dim() != 4 or target.dim() != 4 or target.shape[1] != 2:
        raise ValueError(f'flow losses take pred (B, C, H, W) and target '
                         f'(B, 2, H, W), got {tuple(pred.shape)} and '
                         f'{tuple(target.shape)}')
    if pred.shape[1] < min_channels:
        raise ValueError(f'pred needs at least {min_channels} channels, got '
                         f'{pred.shape[1]}')
    if pred.shape[0] != target.shape[0] or \
            pred.shape[-2:] != target.shape[-2:]:
        raise ValueError(f'pred {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} differ in batch or size')


class _PixelFlowLoss(nn.Module):
    """Reduction, weights and validity shared by the flow losses.

    Args:
        loss_weight (float): multiplier of the loss.
        reduction (str): ``'mean'`` (over valid pixels), ``'sum'`` or
            ``'none'`` (per pixel, (B, H, W)).
        loss_name (str): key in the log; must start with ``loss``.
    """

    MIN_CHANNELS = 2

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean',
                 loss_name: str = 'loss_flow') -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got '
                             f'{reduction!r}')
        self.loss_weight = loss_weight
        self.reduction = reduction
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def confidence_weight(self, raw_conf: torch.Tensor) -> torch.Tensor:
        """Tile blending weight of the raw confidence channel of a model
        trained with this loss. Losses without a confidence term leave that
        channel untrained; the weight is then ``1 / bounded_scale`` with the
        default bounds (any positive weight blends)."""
        return 1.0 / bounded_scale(raw_conf)

    def pixel_loss(self, pred: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W), (B, 2, H, W) -> (B, H, W)."""
        raise NotImplementedError

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                valid: Optional[torch.Tensor] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> torch.Tensor:
        """
        Args:
            pred: (B, C, H, W), flow in channels 0-1.
            target: (B, 2, H, W) ground-truth flow (non-finite = invalid).
            weight: optional (B, H, W) per-pixel weight.
            valid: optional (B, H, W) or (B, 1, H, W) validity (> 0.5).
            reduction_override: ``'none'``, ``'mean'`` or ``'sum'``.
            **kwargs: ignored (e.g. ``ignore_index`` from ``WindowLoss``).

        Returns:
            (B, H, W) with ``'none'``, else a scalar.
        """
        reduction = reduction_override or self.reduction
        if reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got '
                             f'{reduction!r}')
        _check(pred, target, self.MIN_CHANNELS)
        finite = torch.isfinite(target).all(dim=1)  # (B, H, W)
        target = torch.where(finite[:, None], target, torch.zeros_like(target))
        loss = self.pixel_loss(pred, target) * self.loss_weight
        if reduction == 'none':
            # non-finite ground truth contributes nothing (and no NaN grads)
            return torch.where(finite, loss, torch.zeros_like(loss))
        mask = finite.to(loss.dtype)
        if valid is not None:
            mask = mask * (valid.reshape(mask.shape) > 0.5).to(loss.dtype)
        if weight is not None:
            mask = mask * weight.reshape(mask.shape)
        total = (torch.where(mask > 0, loss, torch.zeros_like(loss)) *
                 mask).sum()
        if reduction == 'sum':
            return total
        return total / mask.sum().clamp(min=1.)


@MODELS.register_module()
class LaplacianFlowLoss(_PixelFlowLoss):
    """Negative log-likelihood of a Laplacian with a bounded, predicted
    scale (the flow loss of CroCo-Flow / Win-Win, written from its formula).

    ``pred`` has 3 channels: flow ``(u, v)`` and an unbounded confidence
    ``c``; the scale is ``s = (b - a) * sigmoid(c) + a`` in ``[a, b]`` and the
    per-pixel loss is ``(|u - u*| + |v - v*|) / s + log s``. Bounding ``s``
    keeps the model from making the loss arbitrarily small on easy pixels
    (``s -> 0``) or ignoring hard ones (``s -> inf``).

    Args:
        a (float): smallest scale. Default: 0.25.
        b (float): largest scale. Default: 4.
        loss_weight, reduction, loss_name: see :class:`_PixelFlowLoss`.
    """

    MIN_CHANNELS = 3

    def __init__(self, a: float = 0.25, b: float = 4., **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 < a < b:
            raise ValueError(f'LaplacianFlowLoss needs 0 < a < b, got a={a}, '
                             f'b={b}')
        self.a, self.b = float(a), float(b)

    @property
    def bounds(self) -> Tuple[float, float]:
        return self.a, self.b

    def scale(self, raw_conf: torch.Tensor) -> torch.Tensor:
        """Bounded scale ``s`` from the raw confidence channel."""
        return bounded_scale(raw_conf, self.a, self.b)

    def confidence_weight(self, raw_conf: torch.Tensor) -> torch.Tensor:
        """Tile blending weight ``1 / s`` (low scale = confident)."""
        return 1.0 / self.scale(raw_conf)

    def pixel_loss(self, pred: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
        s = self.scale(pred[:, 2])
        l1 = (pred[:, :2] - target).abs().sum(dim=1)
        return l1 / s + torch.log(s)


@MODELS.register_module()
class EndPointErrorLoss(_PixelFlowLoss):
    """Per-pixel end-point error ``||(u, v) - (u*, v*)||_2``.

    Args:
        eps (float): added under the square root so the gradient is finite
            at zero error. Default: 1e-8.
        loss_weight, reduction, loss_name: see :class:`_PixelFlowLoss`.
    """

    def __init__(self, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(**kwargs)
        self.eps = eps

    def pixel_loss(self, pred: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
        return ((pred[:, :2] - target).square().sum(dim=1) + self.eps).sqrt()


@MODELS.register_module()
class FlowL1Loss(_PixelFlowLoss):
    """Per-pixel L1 flow error ``|u - u*| + |v - v*|``."""

    def pixel_loss(self, pred: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
        return (pred[:, :2] - target).abs().sum(dim=1)
