"""Win-Win monocular depth: SiLog window loss, depth estimator, generated
plane-scene depth data in NYU layout."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.models.losses import SiLogLoss
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.datasets.synthetic_depth import (generate_nyu_layout,
                                                render_scene, sample_rng)
from winwin_mm.models.losses import WindowSiLogLoss


# these tests build mmseg components by their mmseg names
pytestmark = pytest.mark.usefixtures('mmseg_scope')


P = 8
BN = dict(type='BN', requires_grad=True)


def rand_depth(shape, seed=0, invalid=0.2):
    g = torch.Generator().manual_seed(seed)
    pred = torch.rand(shape, generator=g) * 9 + 0.5
    target = torch.rand(shape, generator=g) * 9 + 0.5
    target[torch.rand(shape, generator=g) < invalid] = 0.
    return pred, target


# ------------------------------------------------------------------- loss
def test_silog_matches_mmseg_on_valid_pixels():
    pred, target = rand_depth((3, 1, 20, 24))
    target[0, 0, :3] = float('nan')  # NaN = no measurement, as 0
    ours = WindowSiLogLoss()(pred, target)
    ref = SiLogLoss()(pred, target)
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-6)
    # an explicit valid mask == mmseg on the target zeroed outside it
    valid = torch.rand(3, 1, 20, 24, generator=torch.Generator().manual_seed(
        1)) < 0.5
    ours = WindowSiLogLoss(loss_weight=2.)(pred, target, valid=valid)
    ref = SiLogLoss(loss_weight=2.)(pred, torch.where(valid, target, 0.))
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_silog_ignores_invalid_and_masked_pixels():
    loss = WindowSiLogLoss()
    pred, target = rand_depth((2, 1, 16, 16))
    valid = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
    valid[..., 2:10, 4:12] = True
    base = loss(pred, target, valid=valid)
    bad = (target == 0) | ~valid
    pred2, target2 = pred.clone(), target.clone()
    pred2[bad] = torch.rand(int(bad.sum())) * 100 + 1e-3
    target2[~valid] = 5.          # out-of-window GT changes
    target2[target == 0] = float('nan')   # 0 -> NaN: still invalid
    assert torch.allclose(loss(pred2, target2, valid=valid), base)
    # no gradient (and no NaN) reaches unsupervised pixels
    p = pred.clone().requires_grad_()
    loss(p, target2, valid=valid).backward()
    assert torch.isfinite(p.grad).all()
    assert (p.grad[bad] == 0).all() and (p.grad[~bad] != 0).any()
    # nothing valid: 0 with a gradient path, no NaN
    p = pred.clone().requires_grad_()
    zero = loss(p, torch.zeros_like(target))
    zero.backward()
    assert zero.item() == 0 and (p.grad == 0).all()


def test_silog_groups_pool_windows_of_an_image():
    """Loss on B*N window crops grouped per image == loss on the full image
    with the windows as valid mask."""
    loss = WindowSiLogLoss()
    pred, target = rand_depth((2, 1, 16, 24), seed=3)
    boxes = [[(0, 0, 8, 8), (8, 16, 16, 24)], [(4, 8, 12, 16), (0, 16, 8, 24)]]
    valid = torch.zeros_like(target, dtype=torch.bool)
    crops_p, crops_t, groups = [], [], []
    for b, bs in enumerate(boxes):
        for y0, x0, y1, x1 in bs:
            valid[b, :, y0:y1, x0:x1] = True
            crops_p.append(pred[b, :, y0:y1, x0:x1])
            crops_t.append(target[b, :, y0:y1, x0:x1])
            groups.append(b)
    windows = loss(torch.stack(crops_p), torch.stack(crops_t),
                   groups=torch.tensor(groups))
    assert torch.allclose(windows, loss(pred, target, valid=valid))
    per_window = loss(torch.stack(crops_p), torch.stack(crops_t))
    assert not torch.allclose(windows, per_window)


# ------------------------------------------------------------------ model
def build_model(max_depth=10.):
    torch.manual_seed(0)
    cfg = dict(
        type='winwin_mm.WinWinDepthEstimator',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=0, size_divisor=P, test_cfg=dict(size_divisor=P)),
        backbone=dict(type='winwin_mm.RoPEViT',
                      arch=dict(embed_dims=64, num_layers=2, num_heads=2),
                      patch_size=P, out_indices=(0, 1)),
        neck=dict(type='MultiLevelNeck', in_channels=[64, 64],
                  out_channels=32, scales=[2, 1]),
        decode_head=dict(type='winwin_mm.DepthRegressionHead',
                         in_channels=[32, 32], in_index=[0, 1], channels=16,
                         max_depth=max_depth, norm_cfg=BN,
                         loss_decode=dict(type='winwin_mm.WindowSiLogLoss')),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmseg')  # runs before the per-test scope fixture
    return build_model()


def depth_samples(boxes, h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in boxes:
        s = SegDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
            window_boxes=np.asarray(b, dtype=np.int64)))
        s.gt_depth_map = PixelData(
            data=torch.rand(1, h, w, generator=g) * 8 + 0.5)
        out.append(s)
    return out


BOXES = [[[0, 0, 3, 3], [3, 4, 6, 7]], [[1, 5, 4, 8], [2, 0, 5, 3]]]


def test_window_loss_ignores_out_of_window_depth(model):
    inputs = torch.randn(2, 3, 48, 64)
    samples = depth_samples(BOXES)
    model.eval()  # BN running stats: loss depends on GT only
    with torch.no_grad():
        base = model.loss(inputs, samples)['decode.loss_silog']
        for s, bs in zip(samples, BOXES):
            inside = torch.zeros(48, 64, dtype=torch.bool)
            for y0, x0, y1, x1 in bs:
                inside[y0 * P:y1 * P, x0 * P:x1 * P] = True
            d = s.gt_depth_map.data
            s.gt_depth_map.data = torch.where(inside, d, torch.full_like(
                d, 3.))
        assert torch.allclose(model.loss(inputs, samples)['decode.loss_silog'],
                              base)
        # in-window depth does matter
        samples[0].gt_depth_map.data[..., :8, :8] *= 2.
        assert not torch.allclose(
            model.loss(inputs, samples)['decode.loss_silog'], base)
    model.train()


def test_random_token_mode_masks_dropped_depth(model):
    inputs = torch.randn(1, 3, 48, 64)
    tokens = np.array([0, 9, 10, 47])
    s = SegDataSample(metainfo=dict(img_shape=(48, 64), ori_shape=(48, 64),
                                    window_tokens=tokens))
    s.gt_depth_map = PixelData(data=torch.full((1, 48, 64), 2.))
    masked = model.mask_to_tokens([s], torch.from_numpy(tokens)[None],
                                  (48, 64))[0].gt_depth_map.data
    assert (masked > 0).sum() == len(tokens) * P * P
    assert torch.isfinite(model.loss(inputs, [s])['decode.loss_silog'])


def test_whole_image_inference_any_size(model):
    h, w = 44, 60  # not multiples of the patch
    model.eval()
    img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    with torch.no_grad():
        out = model.test_step(dict(inputs=[img], data_samples=[sample]))[0]
        depth = out.pred_depth_map.data
        assert depth.shape == (1, h, w)
        assert torch.isfinite(depth).all() and (depth > 0).all() and (
            depth < 10).all()
        raw = model.predict(torch.randn(2, 3, h, w))
        assert raw[0].pred_depth_map.data.shape == (1, h, w)
    model.train()


# ------------------------------------------------------------------- data
def test_rendered_depth_is_exact():
    image, depth, scene = render_scene(sample_rng(0, 'train', 0), (40, 56),
                                       hole_prob=0.)
    assert image.shape == (40, 56, 3) and image.dtype == np.uint8
    assert (depth > 0).all() and (depth < 10).all()
    K, R = scene['K'], scene['R']
    v, u = np.mgrid[0:40, 0:56]
    rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ \
        np.linalg.inv(K).T
    pts = (rays * depth.reshape(-1, 1).astype(np.float64)) @ R.T  # world
    # every pixel's back-projected point lies on a plane of the scene
    res = np.min([np.abs(pts @ p.n - p.d) for p in scene['planes']], axis=0)
    assert res.max() < 1e-5


def nyu_pipeline(windows=None):
    pipe = [dict(type='LoadImageFromFile'),
            dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3)]
    if windows:
        pipe.append(dict(type='winwin_mm.RandomWindows', num_windows=2,
                         window_size=windows, patch_size=P))
    pipe.append(dict(type='PackSegInputs', meta_keys=(
        'img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'pad_shape',
        'scale_factor', 'flip', 'flip_direction', 'category_id',
        'window_boxes')))
    return pipe


@pytest.fixture(scope='module')
def nyu_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('nyu'))
    return generate_nyu_layout(root, num_train=4, num_test=1, size=(48, 64),
                               seed=0, hole_prob=1.)


def test_generated_nyu_layout_loads_exactly(nyu_root, tmp_path):
    ds = DATASETS.build(dict(
        type='NYUDataset', data_root=nyu_root,
        data_prefix=dict(img_path='images/train',
                         depth_map_path='annotations/train'),
        pipeline=nyu_pipeline()))
    assert len(ds) == 4
    item = ds[1]
    gt = item['data_samples'].gt_depth_map.data[0].numpy()
    _, depth, _ = render_scene(sample_rng(0, 'train', 1), (48, 64),
                               hole_prob=1.)
    assert item['inputs'].shape == (3, 48, 64)
    assert np.abs(gt - depth).max() <= 5e-4 + 1e-6  # 1 mm PNG quantisation
    assert (gt == 0).any()  # the hole is invalid depth
    # deterministic by seed
    other = generate_nyu_layout(str(tmp_path), num_train=2, num_test=0,
                                size=(48, 64), seed=0, hole_prob=1.)
    for name in ('images/train/scene_00001.jpg',
                 'annotations/train/scene_00001.png'):
        with open(f'{nyu_root}/{name}', 'rb') as a, \
                open(f'{other}/{name}', 'rb') as b:
            assert a.read() == b.read()


def test_training_on_generated_depth_lowers_loss(nyu_root):
    torch.manual_seed(0)
    np.random.seed(0)
    ds = DATASETS.build(dict(
        type='NYUDataset', data_root=nyu_root,
        data_prefix=dict(img_path='images/train',
                         depth_map_path='annotations/train'),
        pipeline=nyu_pipeline(windows=3)))  # 2 x 3x3 of 6x8 tokens
    batch = pseudo_collate([ds[i] for i in range(4)])
    model = build_model()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=3e-3))

    def fixed_loss():
        data = model.data_preprocessor(batch, True)
        with torch.no_grad():
            return model.loss(**data)['decode.loss_silog'].item()

    before = fixed_loss()
    for _ in range(15):
        log = model.train_step(batch, optim)
        assert np.isfinite(log['loss'].item())
    after = fixed_loss()
    assert after < 0.8 * before, (before, after)


def test_dataset_consistency_hook_follows_the_model_declaration(nyu_root):
    """The depth estimator declares that its dataset's ``classes`` (NYU
    scene types) are not labels; the hook reads that attribute, not the
    class name."""
    from types import SimpleNamespace

    from winwin_mm.engine import DatasetConsistencyHook
    ds = DATASETS.build(dict(
        type='NYUDataset', data_root=nyu_root,
        data_prefix=dict(img_path='images/train',
                         depth_map_path='annotations/train'),
        pipeline=nyu_pipeline()))
    assert len(ds.metainfo['classes']) > 1
    model = build_model()
    runner = SimpleNamespace(model=model,
                             train_dataloader=SimpleNamespace(dataset=ds))
    DatasetConsistencyHook().before_train(runner)  # no error
    model.dataset_classes_are_labels = True  # as a segmentor would say
    with pytest.raises(ValueError, match='decode_head.num_classes=1'):
        DatasetConsistencyHook().before_train(runner)
