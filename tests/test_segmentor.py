"""WinWinEncoderDecoder on a tiny RoPE ViT + UPerNet, and layer-wise decay."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.models.segmentors.window_crop import crop_samples_to_windows  # noqa


# these tests build mmseg components by their mmseg names
pytestmark = pytest.mark.usefixtures('mmseg_scope')


P = 8
NUM_CLASSES = 4
BN = dict(type='BN', requires_grad=True)


def window_loss(weight=1.0):
    return dict(type='winwin_mm.WindowLoss',
                loss=dict(type='CrossEntropyLoss', use_sigmoid=False,
                          loss_weight=weight))


def build_model(**options):
    """The tiny window model; ``options``: extra WinWinEncoderDecoder
    arguments."""
    torch.manual_seed(0)
    cfg = dict(
        type='winwin_mm.WinWinEncoderDecoder',
        backbone=dict(type='winwin_mm.RoPEViT',
                      arch=dict(embed_dims=64, num_layers=2, num_heads=2),
                      patch_size=P, out_indices=(0, 1)),
        neck=dict(type='MultiLevelNeck', in_channels=[64, 64],
                  out_channels=32, scales=[2, 1]),
        decode_head=dict(type='UPerHead', in_channels=[32, 32],
                         in_index=[0, 1], pool_scales=(1, 2), channels=16,
                         dropout_ratio=0., num_classes=NUM_CLASSES,
                         norm_cfg=BN, align_corners=False,
                         loss_decode=window_loss()),
        auxiliary_head=dict(type='FCNHead', in_channels=32, in_index=1,
                            channels=16, num_convs=1, concat_input=False,
                            dropout_ratio=0., num_classes=NUM_CLASSES,
                            norm_cfg=BN, align_corners=False,
                            loss_decode=window_loss(0.4)),
        train_cfg=dict(), test_cfg=dict(mode='whole'), **options)
    model = MODELS.build(ConfigDict(cfg))  # as from a config file
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmseg')  # runs before the per-test scope fixture
    return build_model()


H, W = 48, 64  # grid 6 x 8


def samples(boxes, seed=0, h=H, w=W):
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in boxes:
        s = SegDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
            window_boxes=np.asarray(b, dtype=np.int64)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, h, w), generator=g))
        out.append(s)
    return out


BOXES = [[[0, 0, 3, 3], [3, 4, 6, 7]], [[1, 5, 4, 8], [2, 0, 5, 3]]]


def window_pixels(boxes, h=H, w=W):
    m = torch.zeros(len(boxes), h, w, dtype=torch.bool)
    for i, bs in enumerate(boxes):
        for y0, x0, y1, x1 in bs:
            m[i, y0 * P:y1 * P, x0 * P:x1 * P] = True
    return m


def total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_training_loss_stays_in_windows(model):
    model.train()
    x = torch.randn(2, 3, H, W, requires_grad=True)
    losses = model.loss(x, samples(BOXES))
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    for k, v in losses.items():
        if 'loss' in k:
            assert torch.isfinite(v) and v > 0, k
    total(losses).backward()
    inside = window_pixels(BOXES)[:, None].expand_as(x)
    assert x.grad[~inside].abs().max() == 0
    assert x.grad[inside].abs().sum() > 0
    for bs, g in zip(BOXES, x.grad):
        for y0, x0, y1, x1 in bs:
            assert g[:, y0 * P:y1 * P, x0 * P:x1 * P].abs().sum() > 0
    # every trainable part got a gradient
    assert model.backbone.blocks[1].attn.qkv.weight.grad.abs().sum() > 0
    assert model.auxiliary_head.conv_seg.weight.grad.abs().sum() > 0


def test_gt_outside_windows_is_ignored(model):
    model.train()
    torch.manual_seed(1)
    x = torch.randn(2, 3, H, W)
    a = samples(BOXES, seed=0)
    b = samples(BOXES, seed=0)
    outside = ~window_pixels(BOXES)
    for s, o in zip(b, outside):
        seg = s.gt_sem_seg.data
        seg[0][o] = (seg[0][o] + 1) % NUM_CLASSES
    with torch.no_grad():
        la = model.loss(x, a)
        lb = model.loss(x, b)
    for k in la:
        torch.testing.assert_close(la[k], lb[k], rtol=0, atol=0)
    # while the GT inside a window does matter
    c = samples(BOXES, seed=0)
    c[0].gt_sem_seg.data[0, :8, :8] = (c[0].gt_sem_seg.data[0, :8, :8] +
                                       1) % NUM_CLASSES
    with torch.no_grad():
        lc = model.loss(x, c)
    assert lc['decode.loss_ce'] != la['decode.loss_ce']


def test_crop_to_windows_order_and_content(model):
    s = samples(BOXES, seed=3)
    crops = crop_samples_to_windows(s, torch.tensor(BOXES), model.patch_size)
    assert len(crops) == 4
    for i, c in enumerate(crops):
        b, n = divmod(i, 2)
        y0, x0, y1, x1 = BOXES[b][n]
        torch.testing.assert_close(
            c.gt_sem_seg.data,
            s[b].gt_sem_seg.data[:, y0 * P:y1 * P, x0 * P:x1 * P])
        assert c.metainfo['img_shape'] == (24, 24)


def test_predict_full_image_not_multiple_of_patch(model):
    model.eval()
    torch.manual_seed(2)
    x = torch.randn(1, 3, 60, 100)
    meta = dict(img_shape=(60, 100), ori_shape=(60, 100),
                pad_shape=(60, 100))
    with torch.no_grad():
        res = model.predict(x, [SegDataSample(metainfo=meta)])
    assert res[0].pred_sem_seg.data.shape == (1, 60, 100)
    assert res[0].seg_logits.data.shape == (NUM_CLASSES, 60, 100)
    # == running the zero-padded 64x104 image and cropping (features stay
    # aligned with pixels; no resize of 8-pixel tokens onto 60x100)
    xp = torch.nn.functional.pad(x, (0, 4, 0, 4))
    mp = dict(img_shape=(64, 104), ori_shape=(64, 104), pad_shape=(64, 104))
    with torch.no_grad():
        rp = model.predict(xp, [SegDataSample(metainfo=mp)])
    torch.testing.assert_close(res[0].seg_logits.data,
                               rp[0].seg_logits.data[:, :60, :100],
                               rtol=1e-5, atol=1e-5)


def test_batch_with_differing_windows_raises(model):
    model.train()
    x = torch.randn(2, 3, H, W)
    sizes = [[[0, 0, 3, 3], [3, 4, 6, 7]], [[0, 0, 2, 2], [2, 2, 4, 4]]]
    with pytest.raises(ValueError, match='one size'):
        model.loss(x, samples(sizes))
    counts = [[[0, 0, 2, 2], [2, 2, 4, 4]],
              [[0, 0, 2, 2], [2, 2, 4, 4], [4, 4, 6, 6]]]
    with pytest.raises(ValueError, match='same number and size'):
        model.loss(x, samples(counts))
    some = samples(BOXES)
    del some[1].window_boxes
    with pytest.raises(ValueError, match='Only some samples'):
        model.loss(x, some)


def test_random_token_mode(model):
    model.train()
    x = torch.randn(2, 3, H, W, requires_grad=True)
    g = torch.Generator().manual_seed(5)
    tok = [torch.randperm(48, generator=g)[:12].sort().values.numpy()
           for _ in range(2)]
    s = samples(BOXES)
    for d, t in zip(s, tok):
        del d.window_boxes
        d.set_metainfo(dict(window_tokens=t))
    losses = model.loss(x, s)
    total(losses).backward()
    kept = torch.zeros(2, 48, dtype=torch.bool)
    kept.scatter_(1, torch.from_numpy(np.stack(tok)), True)
    kept = kept.view(2, 6, 8).repeat_interleave(P, 1).repeat_interleave(P, 2)
    inside = kept[:, None].expand_as(x)
    assert x.grad[~inside].abs().max() == 0
    assert x.grad[inside].abs().sum() > 0
    # GT of dropped tokens does not matter
    s2 = samples(BOXES)
    for d, t, k in zip(s2, tok, kept):
        del d.window_boxes
        d.set_metainfo(dict(window_tokens=t))
        seg = d.gt_sem_seg.data
        seg[0][~k] = (seg[0][~k] + 1) % NUM_CLASSES
    with torch.no_grad():
        l2 = model.loss(x.detach(), s2)
    for k in losses:
        torch.testing.assert_close(l2[k], losses[k].detach(), rtol=0, atol=0)


def test_without_boxes_is_full_resolution_step(model):
    model.train()
    x = torch.randn(2, 3, H, W, requires_grad=True)
    s = samples(BOXES)
    for d in s:
        del d.window_boxes
    total(model.loss(x, s)).backward()
    assert (x.grad != 0).float().mean() > 0.9


def test_layer_decay_constructor():
    from mmengine.optim import build_optim_wrapper
    model = build_model()
    base = 1e-3
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=base, weight_decay=0.05),
        constructor='winwin_mm.LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(num_layers=2, layer_decay_rate=0.5)))
    groups = wrapper.optimizer.param_groups

    def group_of(param):
        hits = [g for g in groups if any(p is param for p in g['params'])]
        assert len(hits) == 1
        return hits[0]

    bb = model.backbone
    g = group_of(bb.patch_embed.proj.weight)
    assert g['lr'] == pytest.approx(base * 0.5**3)
    assert g['weight_decay'] == pytest.approx(0.05)
    assert group_of(bb.patch_embed.proj.bias)['weight_decay'] == 0
    assert group_of(bb.blocks[0].attn.qkv.weight)['lr'] == pytest.approx(
        base * 0.5**2)
    assert group_of(bb.blocks[1].attn.qkv.weight)['lr'] == pytest.approx(
        base * 0.5**1)
    assert group_of(bb.blocks[1].norm1.weight)['weight_decay'] == 0
    for p in (model.decode_head.conv_seg.weight,
              model.auxiliary_head.conv_seg.weight,
              model.neck.lateral_convs[0].conv.weight, bb.norm.weight):
        assert group_of(p)['lr'] == pytest.approx(base)
    n_params = sum(len(g['params']) for g in groups)
    assert n_params == len(
        [p for p in model.parameters() if p.requires_grad])


def test_layer_ids_follow_the_backbone_group_matcher():
    from winwin_mm.engine import layer_ids
    model = build_model()
    ids = layer_ids(model, 2)
    assert ids['backbone.patch_embed.proj.weight'] == 0
    assert ids['backbone.blocks.0.attn.qkv.weight'] == 1
    assert ids['backbone.blocks.1.mlp.fc1.bias'] == 2
    assert ids['backbone.norm.weight'] == 3
    assert ids['decode_head.conv_seg.weight'] == 3
    # a DDP-like wrapper (attribute ``module``) is unwrapped
    wrapper = torch.nn.Module()
    wrapper.module = model
    assert layer_ids(wrapper, 2) == ids


def test_layer_decay_rejects_wrong_num_layers():
    from mmengine.optim import build_optim_wrapper
    with pytest.raises(ValueError, match='num_layers=2'):
        build_optim_wrapper(build_model(), dict(
            type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3),
            constructor='winwin_mm.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.5)))
