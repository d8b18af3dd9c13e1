"""Window-aware loss: any per-pixel loss restricted to supervised pixels."""
from typing import Optional

import torch
import torch.nn as nn

from winwin_mm.registry import MODELS
from ..builder import build_module


@MODELS.register_module()
class WindowLoss(nn.Module):
    """Wrap a registered loss so it covers only the kept window pixels.

    Win-Win supervises only the pixels of the kept tokens. The segmentor
    crops the ground truth to the windows (window mode) or marks every pixel
    outside the kept tokens with ``ignore_index`` (random-token mode); flow
    passes its validity mask as ``valid``. This wrapper calls the inner loss
    per pixel (``reduction_override='none'``), zeroes unsupervised pixels and
    divides by the number of supervised pixels, so the loss scale does not
    depend on how many pixels a batch keeps.

    Args:
        loss (dict): config of the inner loss, e.g.
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``. It must accept
            ``reduction_override='none'`` and return one value per pixel.
        loss_name (str, optional): key in the log; default the inner loss's.

    Shapes:
        pred: (B, C, H, W) logits (or flow prediction).
        target: (B, H, W) labels (or (B, 2, H, W) flow).
        valid: optional (B, H, W); default ``target != ignore_index``.
        returns: scalar.
    """

    def __init__(self, loss: dict, loss_name: Optional[str] = None) -> None:
        super().__init__()
        self.loss = build_module(loss)
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name or getattr(self.loss, 'loss_name', 'loss_win')

    def confidence_weight(self, raw_conf: torch.Tensor) -> torch.Tensor:
        """The inner loss's tile blending weight (flow losses)."""
        inner = getattr(self.loss, 'confidence_weight', None)
        if inner is None:
            raise TypeError(
                f'{type(self.loss).__name__} (inside WindowLoss) defines no '
                'confidence_weight(raw_conf); use a flow loss such as '
                'LaplacianFlowLoss for a model blended by confidence.')
        return inner(raw_conf)

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                ignore_index: int = 255,
                valid: Optional[torch.Tensor] = None,
                **kwargs) -> torch.Tensor:
        if valid is None:
            valid = target != ignore_index
        per_pixel = self.loss(
            pred, target, ignore_index=ignore_index,
            reduction_override='none', **kwargs)
        if per_pixel.shape != valid.shape:
            raise ValueError(
                f'WindowLoss needs a per-pixel inner loss: '
                f'{type(self.loss).__name__} returned shape '
                f'{tuple(per_pixel.shape)} with reduction "none", expected '
                f'{tuple(valid.shape)}.')
        valid = valid.to(per_pixel.dtype)
        if weight is not None:
            valid = valid * weight
        return (per_pixel * valid).sum() / valid.sum().clamp(min=1.)
