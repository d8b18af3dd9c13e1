"""Scale-invariant log loss restricted to the supervised pixels of windows."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from winwin_mm.registry import MODELS


@MODELS.register_module()
class WindowSiLogLoss(nn.Module):
    """SiLog loss (Eigen et al. 2014, as mmseg's ``SiLogLoss``) over the
    valid, supervised pixels of each image.

    SiLog is not a per-pixel loss: with ``d = log(gt) - log(pred)`` over an
    image's pixel set ``V``, ``loss = sqrt(mean_V(d^2) - lambda *
    mean_V(d)^2)``. So :class:`WindowLoss` (mask a per-pixel loss) cannot wrap
    it; this loss computes the statistics on ``V`` directly:

    * ``V`` = pixels with ``gt > eps`` and finite ``gt`` and ``pred`` (0 or
      NaN depth means "no measurement"), and inside ``valid`` when given
      (e.g. the kept-token mask). Out-of-window pixels are excluded anyway
      when the segmentor crops the ground truth to the windows.
    * ``groups`` (optional, (B,) long): samples with the same group id are
      one image, e.g. the N window crops of one training image
      (``window_source`` in their metainfo). Their pixels are pooled before
      the mean and variance, so the loss of an image is SiLog over the union
      of its windows, exactly what the full image with an in-window mask
      gives.
    * The batch loss is the mean over images (groups) that have at least one
      valid pixel; images without any are skipped (mmseg would count a 0 and
      get NaN gradients from ``sqrt(0)``). No valid pixel at all -> 0 with a
      gradient path.

    On the same valid pixels it equals mmseg's ``SiLogLoss`` (``eps`` and
    ``lambda = 0.5`` as there).

    Args:
        loss_weight (float): Default 1.0.
        eps (float): depth threshold / clamp, as mmseg. Default 1e-6.
        variance_focus (float): lambda. Default 0.5 (mmseg, BTS).
        reduction (str): ``'mean'`` (default), ``'sum'`` or ``'none'``
            (per group, 0 where a group has no valid pixel).
        loss_name (str): Default ``'loss_silog'``.

    Shapes:
        pred, target: (B, 1, H, W) or (B, H, W) depth; pred > 0.
        valid: optional bool (B, [1,] H, W).
        weight: optional (B,) per-sample weight (as mmseg): a group's weight
            is the mean of its samples'.
    """

    #: pools samples of one image given ``groups`` (see the class docstring);
    #: heads pass the window crops' image ids to such losses
    pools_groups = True

    def __init__(self,
                 loss_weight: float = 1.0,
                 eps: float = 1e-6,
                 variance_focus: float = 0.5,
                 reduction: str = 'mean',
                 loss_name: str = 'loss_silog') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f'reduction must be mean, sum or none, got '
                             f'{reduction!r}.')
        self.loss_weight = loss_weight
        self.eps = eps
        self.variance_focus = variance_focus
        self.reduction = reduction
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def valid_mask(self, pred: Tensor, target: Tensor,
                   valid: Optional[Tensor] = None) -> Tensor:
        """Bool mask of supervised pixels, same shape as ``target``."""
        m = (target > self.eps) & torch.isfinite(target) & torch.isfinite(
            pred)
        if valid is not None:
            m = m & valid.reshape(m.shape).to(torch.bool)
        return m

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                valid: Optional[Tensor] = None,
                groups: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape.')
        reduction = reduction_override or self.reduction
        B = pred.shape[0]
        m = self.valid_mask(pred, target, valid).flatten(1)
        pred, target = pred.flatten(1), target.flatten(1)
        # log of invalid pixels is replaced before it can produce NaN grads
        safe_t = torch.where(m, target, torch.ones_like(target))
        safe_p = torch.where(m, pred, torch.ones_like(pred))
        d = torch.log(safe_t.clamp(min=self.eps)) - torch.log(
            safe_p.clamp(min=self.eps))
        d = torch.where(m, d, torch.zeros_like(d))
        mf = m.to(d.dtype)
        s1, s2, n = d.sum(1), (d * d).sum(1), mf.sum(1)
        if weight is not None:
            weight = weight.to(d.dtype).reshape(B)
        if groups is not None:
            groups = torch.as_tensor(groups, device=d.device).long()
            _, groups = torch.unique(groups, return_inverse=True)
            G = int(groups.max()) + 1 if groups.numel() else 0
            s1 = d.new_zeros(G).index_add_(0, groups, s1)
            s2 = d.new_zeros(G).index_add_(0, groups, s2)
            n = d.new_zeros(G).index_add_(0, groups, n)
            if weight is not None:
                count = d.new_zeros(G).index_add_(0, groups,
                                                  torch.ones_like(weight))
                weight = d.new_zeros(G).index_add_(0, groups, weight) / count
        has = n > 0
        n_safe = n.clamp(min=1.)
        mean, sq_mean = s1 / n_safe, s2 / n_safe
        var = sq_mean - self.variance_focus * mean * mean
        pos = has & (var > 0)
        # sqrt only where positive: exact value, finite gradient
        loss = torch.where(pos, torch.sqrt(torch.where(pos, var,
                                                       torch.ones_like(var))),
                           torch.zeros_like(var))
        if weight is not None:
            loss = loss * weight
        loss = self.loss_weight * loss
        if reduction == 'none':
            return loss
        total = loss.sum() + 0. * safe_p.sum()  # keep the graph when empty
        if reduction == 'sum':
            return total
        denom = (avg_factor if avg_factor is not None else
                 has.sum().clamp(min=1).to(loss.dtype))
        return total / denom
