"""WindowLoss around mmseg losses: only supervised pixels count."""
import pytest
import torch
import torch.nn.functional as F

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.models.losses import WindowLoss

CE = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)


def _data(seed=0, ignore_frac=0.4):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(2, 5, 8, 12, generator=g, dtype=torch.float64)
    target = torch.randint(0, 5, (2, 8, 12), generator=g)
    ignored = torch.rand(2, 8, 12, generator=g) < ignore_frac
    target[ignored] = 255
    return pred, target, ignored


def test_equals_mean_ce_over_supervised_pixels():
    loss = WindowLoss(loss=CE)
    assert loss.loss_name == 'loss_ce'
    assert WindowLoss(loss=CE, loss_name='loss_win').loss_name == 'loss_win'
    pred, target, ignored = _data()
    out = loss(pred, target)
    expect = F.cross_entropy(pred, target, ignore_index=255)
    torch.testing.assert_close(out, expect, rtol=1e-12, atol=0)
    # by hand, no ignore_index machinery
    logp = pred.log_softmax(1)
    keep = ~ignored
    t = target.clone()
    t[ignored] = 0
    nll = -logp.gather(1, t[:, None])[:, 0]
    torch.testing.assert_close(out, nll[keep].mean(), rtol=1e-12, atol=0)
    # loss_weight of the inner loss applies
    w = WindowLoss(loss=dict(CE, loss_weight=0.4))
    torch.testing.assert_close(w(pred, target), 0.4 * expect, rtol=1e-12,
                               atol=0)
    # another ignore index
    t2 = torch.where(ignored, torch.full_like(target, 4), target)
    t2[~ignored & (target == 4)] = 3
    torch.testing.assert_close(
        loss(pred, t2, ignore_index=4),
        F.cross_entropy(pred, t2, ignore_index=4), rtol=1e-12, atol=0)


def test_scale_does_not_depend_on_kept_pixel_count():
    """Mean over kept pixels: a batch that keeps fewer pixels is not
    down-weighted (unlike a mean over all pixels)."""
    loss = WindowLoss(loss=CE)
    pred, target, _ = _data(ignore_frac=0.0)
    few = target.clone()
    few[:, 2:] = 255  # keep only 2 rows
    out = loss(pred, few)
    logp = pred.log_softmax(1)
    nll = -logp.gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(out, nll[:, :2].mean(), rtol=1e-12, atol=0)


def test_ignored_pixels_have_no_effect_and_no_gradient():
    loss = WindowLoss(loss=CE)
    pred, target, ignored = _data(seed=2)
    pred.requires_grad_(True)
    out = loss(pred, target)
    out.backward()
    grad_mask = ignored[:, None].expand_as(pred)
    assert pred.grad[grad_mask].abs().max() == 0
    assert pred.grad[~grad_mask].abs().min() > 0
    changed = pred.detach().clone()
    changed[grad_mask] = 1e3 * torch.randn(int(grad_mask.sum()),
                                           dtype=torch.float64)
    torch.testing.assert_close(loss(changed, target), out.detach(), rtol=0,
                               atol=0)


def test_valid_mask_and_weight():
    loss = WindowLoss(loss=CE)
    pred, target, _ = _data(seed=3, ignore_frac=0.0)
    g = torch.Generator().manual_seed(9)
    valid = torch.rand(2, 8, 12, generator=g) < 0.3
    nll = F.cross_entropy(pred, target, reduction='none')
    torch.testing.assert_close(
        loss(pred, target, valid=valid), nll[valid].mean(), rtol=1e-12,
        atol=0)
    # pixels outside `valid` can change freely
    pred2 = pred.clone()
    pred2[~valid[:, None].expand_as(pred)] = 7.
    torch.testing.assert_close(loss(pred2, target, valid=valid),
                               loss(pred, target, valid=valid), rtol=0,
                               atol=0)
    # per-pixel weights: weighted mean
    weight = torch.rand(2, 8, 12, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        loss(pred, target, weight=weight, valid=valid),
        (nll * weight * valid).sum() / (weight * valid).sum(), rtol=1e-12,
        atol=0)
    # nothing valid: zero, not NaN
    none = loss(pred, target, valid=torch.zeros_like(valid))
    assert torch.isfinite(none) and none == 0


def test_non_per_pixel_inner_loss_raises_clearly():
    loss = WindowLoss(loss=dict(type='DiceLoss'))
    pred, target, _ = _data(ignore_frac=0.0)
    with pytest.raises(ValueError, match='per-pixel.*DiceLoss'):
        loss(pred, target)
