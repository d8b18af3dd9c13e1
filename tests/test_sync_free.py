"""The seg training step without host-device syncs (issue 15): sync-free
accuracy, the non-blocking label check, and the step's sync count."""
import numpy as np
import pytest
import torch

import winwin_mm  # noqa: F401  (before mmseg: mmcv-lite support)
from mmseg.models.losses import accuracy  # noqa: E402
from winwin_mm.models.losses.accuracy import sync_free_accuracy
from winwin_mm.models.segmentors.winwin_encoder_decoder import head_loss
from winwin_mm.utils.profiling import count_device_syncs, find_device_syncs
from test_segmentor import BOXES, H, W, build_model, samples, total

pytestmark = pytest.mark.usefixtures('mmseg_scope')

# token selection (task A of issue 15 makes it sync-free) reads the CPU-held
# window boxes: host work on a GPU, counted by a CPU run
TOKEN_SELECTION = ('rope_vit.py', 'windows.py')


@pytest.fixture(scope='module')
def model():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    return build_model().train()


def _pred_target(seed=0, ignore=255, shape=(3, 7, 9)):
    """(N, 5, ...) scores and (N, ...) labels, 30 % ignored."""
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(shape[0], 5, *shape[1:], generator=g)
    target = torch.randint(0, 5, shape, generator=g)
    target[torch.rand(shape, generator=g) < 0.3] = ignore
    return pred, target


@pytest.mark.parametrize('kwargs', [
    dict(ignore_index=255), dict(), dict(topk=(1, 3), ignore_index=255),
    dict(thresh=0.5, ignore_index=255), dict(topk=2, thresh=0.1)])
def test_sync_free_accuracy_equals_mmseg(kwargs):
    # mmseg supports thresh for (N, C) scores only
    pred, target = _pred_target(shape=(40, ) if 'thresh' in kwargs else
                                (3, 7, 9))
    ref = accuracy(pred, target, **kwargs)
    got = sync_free_accuracy(pred, target, **kwargs)
    for r, a in zip(ref if isinstance(ref, list) else [ref],
                    got if isinstance(got, list) else [got]):
        assert a.shape == r.shape == (1, )
        torch.testing.assert_close(a, r, rtol=1e-6, atol=1e-5)
        assert 5 < float(a) < 100  # a real accuracy, not a constant
    assert count_device_syncs(sync_free_accuracy, pred, target, **kwargs) == 0


def test_sync_free_accuracy_edge_cases():
    pred, target = _pred_target()
    # all pixels ignored: 0 (eps / eps guards, as mmseg)
    allign = torch.full_like(target, 255)
    torch.testing.assert_close(sync_free_accuracy(pred, allign,
                                                  ignore_index=255),
                               accuracy(pred, allign, ignore_index=255))
    # a perfect prediction is 100 %
    perfect = torch.nn.functional.one_hot(target.clamp(max=4), 5).permute(
        0, 3, 1, 2).float()
    torch.testing.assert_close(
        sync_free_accuracy(perfect, target, ignore_index=255),
        torch.tensor([100.]))
    assert float(sync_free_accuracy(pred[:0], target[:0])) == 0.
    # mmseg's accuracy itself syncs (boolean-mask indexing): what we avoid
    assert count_device_syncs(accuracy, pred, target, ignore_index=255) > 0
    with pytest.raises(ValueError, match='topk 6 exceeds the 5 classes'):
        sync_free_accuracy(pred, target, topk=6)


def test_head_loss_equals_mmseg_head_loss(model):
    """Our loss path for UPerHead and FCNHead: the same losses, gradients and
    accuracy as mmseg's ``head.loss``."""
    torch.manual_seed(0)
    feats = [torch.randn(2, 32, 6, 8, requires_grad=True) for _ in range(2)]
    data = samples([[[0, 0, 6, 8]]] * 2)
    for head in (model.decode_head, model.auxiliary_head):
        ref = head.loss(feats, data, model.train_cfg)
        got = head_loss(head, feats, data, model.train_cfg)
        assert ref.keys() == got.keys() == {'loss_ce', 'acc_seg'}
        for k in ref:
            torch.testing.assert_close(got[k], ref[k], rtol=1e-6, atol=1e-6)
        g_ref = torch.autograd.grad(ref['loss_ce'], feats, allow_unused=True)
        g_got = torch.autograd.grad(got['loss_ce'], feats, allow_unused=True)
        assert g_ref[1] is not None
        for a, b in zip(g_got, g_ref):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)


def test_window_training_step_has_no_syncs_outside_token_selection(model):
    """WinWinEncoderDecoder.loss + backward on two windows: the only sync
    ops left are in token selection (before issue 15 also the label check
    and 4 from mmseg's accuracy in the two heads)."""
    model.label_check.deferred = True  # the GPU path, run on CPU
    inputs = torch.randn(2, 3, H, W)

    def step():
        total(model.loss(inputs, samples(BOXES))).backward()

    try:
        events = find_device_syncs(step)
    finally:
        model.label_check.deferred = None
        model.label_check.poll(wait=True)
    others = [e for e in events
              if not any(f in e.where for f in TOKEN_SELECTION)]
    assert others == [], others


def _bad_samples(path):
    out = samples(BOXES[:1])
    out[0].set_metainfo(dict(seg_map_path=path))
    out[0].gt_sem_seg.data[0, 0, :3] = torch.tensor([9, 255, 2])
    return out


def test_deferred_label_check_reports_the_bad_batch_later(model):
    inputs = torch.randn(1, 3, H, W)
    check = model.label_check
    check.deferred = True
    try:
        model.loss(inputs, _bad_samples('ann/bad_0042.png'))  # not yet read
        with pytest.raises(ValueError, match=r'bad_0042.png: label values '
                           r'outside \[0, 4\) .* span \[0, 255\]'):
            model.loss(inputs, samples(BOXES[:1]))  # reads the last result
        # a bad last batch is reported at the latest before validation
        model.loss(inputs, _bad_samples('ann/bad_0043.png'))
        with pytest.raises(ValueError, match='bad_0043.png'):
            model.eval()
            model.predict(inputs, samples(BOXES[:1]))
    finally:
        check.deferred = None
        check._pending.clear()
        model.train()
    # immediate mode (CPU default)
    with pytest.raises(ValueError, match='bad_0044.png'):
        model.loss(inputs, _bad_samples('ann/bad_0044.png'))
    assert np.isfinite(float(total(model.loss(inputs, samples(BOXES[:1])))))
