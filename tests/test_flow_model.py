"""Win-Win flow model: cross-attention RoPE, window training, whole and
tiled inference, flow losses. Tiny models on small images (CPU, seconds)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.models.flow import (CrossBlock, CrossDecoder,
                                   RoPECrossAttention, WinWinFlow)
from winwin_mm.models.flow.cross_block import READOUT_FREQS
from winwin_mm.models.flow.winwin_flow import tile_starts
from winwin_mm.models.rope import RoPE2D
from winwin_mm.registry import MODELS
from winwin_mm.structures import FlowDataSample

P = 8
REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))


def config(name):
    return osp.join(REPO, 'configs', name + '.py')


def tiny_cfg(**kw):
    cfg = dict(
        type='winwin_mm.WinWinFlow',
        encoder=dict(type='winwin_mm.RoPEViT',
                     arch=dict(embed_dims=32, num_layers=2, num_heads=2),
                     patch_size=P, out_indices=(1, )),
        decoder=dict(embed_dims=32, num_layers=3, num_heads=2),
        head=dict(hidden_channels=(8, 8, 16, 16), features=8,
                  head_channels=8),
        data_preprocessor=dict(type='winwin_mm.FlowDataPreprocessor',
                               size_divisor=P))
    cfg.update(kw)
    return cfg


def build(**kw):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(**kw))
    model.init_weights()
    return model.eval()


def make_samples(n, h, w, boxes=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.randint(0, 256, (6, h, w), generator=g,
                                    dtype=torch.uint8))
        meta = dict(img_shape=(h, w), ori_shape=(h, w))
        if boxes is not None:
            meta['window_boxes'] = np.asarray(boxes[i])
        s = FlowDataSample(metainfo=meta)
        s.gt_flow_fw = PixelData(data=torch.randn(2, h, w, generator=g) * 3)
        s.gt_valid_fw = PixelData(data=torch.ones(1, h, w))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


# --------------------------------------------------------------- (a) RoPE
def test_cross_attention_logits_depend_on_relative_offsets_only():
    torch.manual_seed(0)
    dim, heads = 32, 2
    attn = RoPECrossAttention(dim, heads)
    rope = RoPE2D(dim // heads, base=100.)
    x, y = torch.randn(1, 5, dim), torch.randn(1, 7, dim)
    pos1 = torch.randint(0, 20, (1, 5, 2))
    pos2 = torch.randint(0, 20, (1, 7, 2))
    logits = attn.cross_logits(x, y, rope(pos1), rope(pos2))
    shift = torch.tensor([13, -4])
    shifted = attn.cross_logits(x, y, rope(pos1 + shift), rope(pos2 + shift))
    torch.testing.assert_close(logits, shifted, atol=1e-4, rtol=1e-4)
    # moving only the keys changes the logits: q and k carry their own
    # positions (frame 1 vs frame 2), not one shared table
    moved = attn.cross_logits(x, y, rope(pos1), rope(pos2 + shift))
    assert (moved - logits).abs().max() > 1e-2
    # the same offsets from other absolute positions give the same logit
    q_at = torch.tensor([[[3, 4]]])
    k_at = torch.tensor([[[5, 9]]])
    a = attn.cross_logits(x[:, :1], y[:, :1], rope(q_at), rope(k_at))
    b = attn.cross_logits(x[:, :1], y[:, :1], rope(q_at + 30),
                          rope(k_at + 30))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_cross_block_is_translation_invariant_and_masks_keys():
    torch.manual_seed(0)
    blk = CrossBlock(32, 2).eval()
    rope = RoPE2D(16)
    x, y = torch.randn(2, 6, 32), torch.randn(2, 9, 32)
    p1, p2 = torch.randint(0, 10, (2, 6, 2)), torch.randint(0, 10, (2, 9, 2))
    out = blk(x, y, rope(p1), rope(p2))
    out_shift = blk(x, y, rope(p1 + 7), rope(p2 + 7))
    torch.testing.assert_close(out, out_shift, atol=1e-4, rtol=1e-4)
    # a padded (masked) key changes nothing
    y_pad = torch.cat((y, torch.randn(2, 3, 32)), 1)
    p2_pad = torch.cat((p2, torch.zeros(2, 3, 2, dtype=p2.dtype)), 1)
    mask = torch.arange(12)[None].expand(2, -1) < 9
    out_pad = blk(x, y_pad, rope(p1), rope(p2_pad), mask[:, None, None, :])
    torch.testing.assert_close(out, out_pad, atol=1e-5, rtol=1e-5)



def _readout_only(dim, heads):
    """Cross-attention whose output is just its offset readout: the value
    path is zeroed and offset_proj copies the readout to the first
    channels."""
    attn = RoPECrossAttention(dim, heads, offset_readout=True).eval()
    n = attn.offset_proj.in_features
    with torch.no_grad():
        attn.proj.weight.zero_()
        attn.proj.bias.zero_()
        attn.offset_proj.weight.zero_()
        attn.offset_proj.weight[:n].copy_(torch.eye(n))
        attn.offset_proj.bias.zero_()
    return attn


def _readout_scale():
    """(4K,) factors of the readout channels: 1 for the cosines, 1 / w for
    the sines (which are in patches)."""
    w = torch.tensor(READOUT_FREQS, dtype=torch.float64).repeat(2)
    return torch.cat((torch.ones_like(w), 1 / w))


def _rotations(offsets, scaled=True):
    """(..., 2) offsets (dy, dx) in patches -> the readout's (..., 4K):
    cos then sin / w of offset * w, for (y, x) x READOUT_FREQS, computed
    here from the definition."""
    w = torch.tensor(READOUT_FREQS, dtype=torch.float64)
    a = (offsets.double()[..., None] * w).flatten(-2)  # y w0, y w1, x w0..
    rot = torch.cat((a.cos(), a.sin()), -1)
    return rot * _readout_scale() if scaled else rot


def test_offset_readout_is_the_attention_weighted_offset_rotation():
    torch.manual_seed(0)
    dim, heads = 16, 2
    attn = _readout_only(dim, heads)
    rope = RoPE2D(dim // heads, base=100.)
    r = 4 * len(READOUT_FREQS)
    # one key: all the attention on it, the readout is its exact offset
    x, y = torch.randn(1, 3, dim), torch.randn(1, 1, dim)
    p1 = torch.tensor([[[0, 0], [2, 5], [70, 1]]])
    p2 = torch.tensor([[[4, 3]]])
    out = attn(x, y, rope(p1), rope(p2), pos_x=p1, pos_y=p2)
    want = _rotations(p2 - p1).float().repeat(1, 1, heads)
    torch.testing.assert_close(out[..., :heads * r], want)
    # its sine part is ~ the offset in patches (sin(w d) / w)
    sin_x = out[0, 1, r // 2 + len(READOUT_FREQS)]  # head 0, x, w = 1/4
    w = READOUT_FREQS[0]
    assert abs(float(sin_x.detach()) - np.sin(w * (3 - 5)) / w) < 1e-5
    assert abs(float(sin_x.detach()) - (3 - 5)) < 0.1
    # many keys: sum_j softmax(logits)_ij rot(p_j - p_i), from the logits
    y = torch.randn(1, 6, dim)
    p2 = torch.randint(0, 9, (1, 6, 2))
    out = attn(x, y, rope(p1), rope(p2), pos_x=p1, pos_y=p2)
    a = attn.cross_logits(x, y, rope(p1), rope(p2)).softmax(-1)  # B,h,Nx,Ny
    rot = _rotations(p2[:, None, None] - p1[:, None, :, None])  # B,1,Nx,Ny,r
    want = (a[..., None].double() * rot).sum(3)  # (B, heads, Nx, r)
    torch.testing.assert_close(out[..., :heads * r],
                               want.transpose(1, 2).reshape(1, 3, -1).float())
    with pytest.raises(ValueError, match='pos_x and pos_y'):
        attn(x, y, rope(p1), rope(p2))


def test_offset_readout_is_precise_in_bf16_far_from_the_origin():
    # Full HD at patch 16 is a 68 x 120 grid: bf16 keeps 3 significant
    # digits, so raw coordinates would lose ~half a patch there
    torch.manual_seed(0)
    dim, heads = 16, 2
    attn = _readout_only(dim, heads)
    rope = RoPE2D(dim // heads, base=100.)
    x, y = torch.randn(1, 2, dim), torch.randn(1, 1, dim)
    p1 = torch.tensor([[[61, 117], [3, 2]]])
    p2 = torch.tensor([[[64, 115]]])
    with torch.autocast('cpu', dtype=torch.bfloat16):  # as AMP on a GPU
        out = attn(x, y, rope(p1), rope(p2), pos_x=p1, pos_y=p2)
    assert out.dtype == torch.bfloat16
    r = 4 * len(READOUT_FREQS)
    # on the unit circle (sines times w), within bf16's ~1e-2
    got = out[0, :, :r].double() / _readout_scale()
    want = _rotations(p2 - p1, scaled=False)[0]
    torch.testing.assert_close(got, want, atol=2e-2, rtol=0)


def test_offset_readout_block_is_translation_invariant():
    torch.manual_seed(0)
    blk = CrossBlock(32, 2, offset_readout=True).eval()
    rope = RoPE2D(16)
    x, y = torch.randn(2, 6, 32), torch.randn(2, 9, 32)
    p1, p2 = torch.randint(0, 10, (2, 6, 2)), torch.randint(0, 10, (2, 9, 2))
    out = blk(x, y, rope(p1), rope(p2), None, p1, p2)
    out_shift = blk(x, y, rope(p1 + 7), rope(p2 + 7), None, p1 + 7, p2 + 7)
    torch.testing.assert_close(out, out_shift, atol=1e-4, rtol=1e-4)
    # moving frame 2 alone changes the readout (and the output)
    moved = blk(x, y, rope(p1), rope(p2), None, p1, p2 + 1)
    assert (moved - out).abs().max() > 1e-3
    # padded (masked) keys, wherever they claim to be, change nothing
    y_pad = torch.cat((y, torch.randn(2, 3, 32)), 1)
    p2_pad = torch.cat((p2, torch.full((2, 3, 2), 50)), 1)
    mask = (torch.arange(12)[None].expand(2, -1) < 9)[:, None, None, :]
    out_pad = blk(x, y_pad, rope(p1), rope(p2_pad), mask, p1, p2_pad)
    torch.testing.assert_close(out, out_pad, atol=1e-5, rtol=1e-5)


def test_match_init_ties_keys_to_queries_unless_weights_are_given():
    dec = CrossDecoder(16, embed_dims=32, num_layers=2, num_heads=4,
                       out_indices=(0, 1, 1), match_init=True)
    dec.init_weights()
    for blk in dec.blocks:
        w = blk.cross_attn.qkv.weight
        torch.testing.assert_close(w[32:64], w[:32])
        assert 0.1 < float(w[:32].detach().std()) < 0.25  # ~ 32 ** -0.5
        assert not torch.equal(w[64:], w[:32])
        assert not torch.equal(blk.attn.qkv.weight[32:64],
                               blk.attn.qkv.weight[:32])  # self-attn: no
    # with an init_cfg (e.g. pretrained weights) nothing is overwritten
    given = CrossDecoder(16, embed_dims=32, num_layers=1, num_heads=4,
                         out_indices=(0, 0, 0), match_init=True,
                         init_cfg=dict(type='Normal', std=1., layer='Linear'))
    given.init_weights()
    w = given.blocks[0].cross_attn.qkv.weight
    assert not torch.allclose(w[32:64], w[:32])


# ---------------------------------------------------- (b) window training
BOXES = [[[0, 0, 2, 2], [3, 4, 5, 6]], [[1, 1, 3, 3], [3, 5, 5, 7]]]


def _input_grad(model, data):
    data = model.data_preprocessor(data, True)
    inputs = data['inputs'].clone().requires_grad_(True)
    losses = model(inputs, data['data_samples'], mode='loss')
    assert torch.isfinite(losses['loss_flow'])
    assert losses['loss_flow'].requires_grad
    losses['loss_flow'].backward()
    return inputs.grad


def _pixel_mask(boxes, shape, margin=0):
    grid_h, grid_w = shape[0] // P, shape[1] // P
    mask = torch.zeros(shape, dtype=torch.bool)
    for y0, x0, y1, x1 in boxes:
        y0, x0 = max(0, y0 - margin), max(0, x0 - margin)
        y1, x1 = min(grid_h, y1 + margin), min(grid_w, x1 + margin)
        mask[y0 * P:y1 * P, x0 * P:x1 * P] = True
    return mask


def test_window_loss_is_finite_and_gradient_stays_in_windows():
    model = build().train()
    h, w = 40, 64
    grad = _input_grad(model, make_samples(2, h, w, BOXES))
    for b in range(2):
        inside = _pixel_mask(BOXES[b], (h, w))
        for frame in (slice(0, 3), slice(3, 6)):
            g = grad[b, frame].abs().sum(0)
            assert g[~inside].max() == 0
            assert g[inside].max() > 0


def test_frame2_margin_widens_only_the_frame2_support():
    model = build(frame2_window_margin=1).train()
    h, w = 40, 64
    grad = _input_grad(model, make_samples(2, h, w, BOXES))
    for b in range(2):
        g1 = grad[b, :3].abs().sum(0)
        g2 = grad[b, 3:].abs().sum(0)
        win, grown = _pixel_mask(BOXES[b], (h, w)), \
            _pixel_mask(BOXES[b], (h, w), margin=1)
        assert g1[~win].max() == 0 and g1[win].max() > 0
        assert g2[~grown].max() == 0
        assert g2[grown & ~win].max() > 0  # keys from the larger window


def test_loss_without_windows_trains_full_resolution():
    """The seg twin checks gradients: here every pixel of both frames gets
    a gradient and the logged EPE is the mean end-point error of the
    model's own full-resolution prediction on the valid pixels."""
    model = build().train()
    data = model.data_preprocessor(make_samples(1, 37, 50), True)
    inputs = data['inputs'].clone().requires_grad_(True)
    losses = model(inputs, data['data_samples'], mode='loss')
    assert torch.isfinite(losses['loss_flow'])
    losses['loss_flow'].backward()
    for frame in (slice(0, 3), slice(3, 6)):
        g = inputs.grad[0, frame].abs().sum(0)
        assert (g > 0).float().mean() > 0.95
    with torch.no_grad():
        pred = model.forward_flow(inputs)[:, :2]
    sample = data['data_samples'][0]
    gt, valid = sample.gt_flow_fw.data, sample.gt_valid_fw.data[0] > 0.5
    assert valid.float().mean() < 1  # padding to the patch is not supervised
    epe = (pred[0] - gt).norm(dim=0)[valid].mean()
    torch.testing.assert_close(losses['epe'], epe, atol=1e-5, rtol=1e-5)


# --------------------------------------------------- (c) whole and tiled
def test_whole_predict_full_size_for_non_multiple_of_patch():
    model = build()
    h, w = 45, 61
    data = make_samples(2, h, w)
    with torch.no_grad():
        out = model.test_step(data)
    for sample in out:
        assert sample.pred_flow_fw.data.shape == (2, h, w)
        assert torch.isfinite(sample.pred_flow_fw.data).all()
    # the whole pass equals the pass on the zero-padded image, cropped
    x = torch.randn(1, 6, h, w)
    with torch.no_grad():
        flow = model(x, mode='tensor')
        padded = model.forward_flow(torch.nn.functional.pad(
            x, (0, (-w) % P, 0, (-h) % P)))[:, :2, :h, :w]
    assert flow.shape == (1, 2, h, w)
    torch.testing.assert_close(flow, padded, atol=1e-5, rtol=1e-5)


def test_tiled_predict_equals_an_independent_tile_blend():
    model = build()
    h, w = 45, 61
    data = make_samples(1, h, w, seed=3)
    with torch.no_grad():
        whole = model.test_step(data)[0].pred_flow_fw.data
        model.test_cfg = dict(mode='tiled', crop_size=(64, 96), overlap=0.7)
        one_tile = model.test_step(data)[0].pred_flow_fw.data
        model.test_cfg = dict(mode='tiled', crop_size=(24, 32), overlap=0.5,
                              tile_batch=3)
        tiled = model.test_step(data)[0].pred_flow_fw.data
        x = model.data_preprocessor(data, False)['inputs']
        # independent blend: one tile at a time at the hand-computed
        # starts, weight 1 / s with s = a + (b - a) * sigmoid(conf)
        acc, wsum = torch.zeros(2, h, w), torch.zeros(h, w)
        for y in (0, 12, 21):  # 45 rows, tiles of 24, stride 12
            for x0 in (0, 16, 29):  # 61 columns, tiles of 32, stride 16
                out = model.forward_flow(x[..., y:y + 24, x0:x0 + 32])[0]
                wgt = 1 / (0.25 + 3.75 * torch.sigmoid(out[2]))
                acc[:, y:y + 24, x0:x0 + 32] += out[:2] * wgt
                wsum[y:y + 24, x0:x0 + 32] += wgt
        x = x[..., :h, :w]  # the preprocessor padded to the patch size
        batched = model(torch.cat((x, x)), mode='tensor')
    torch.testing.assert_close(one_tile, whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tiled, acc / wsum, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[1], acc / wsum, atol=1e-5,
                               rtol=1e-5)
    assert (tiled - whole).abs().max() > 1e-3  # tiles see less context


def test_tile_starts_stride_and_last_tile_flush():
    assert tile_starts(100, 40, 0.5) == [0, 20, 40, 60]
    assert tile_starts(100, 40, 0.9) == list(range(0, 60, 4)) + [60]
    assert tile_starts(30, 40, 0.9) == [0]
    assert tile_starts(45, 24, 0.5) == [0, 12, 21]


def test_tiled_mode_requires_crop_size():
    with pytest.raises(ValueError, match='crop_size'):
        build(test_cfg=dict(mode='tiled'))


# ------------------------------------------------------------- (d) losses
def test_laplacian_loss_hand_computed_and_bounded():
    loss = MODELS.build(dict(type='winwin_mm.LaplacianFlowLoss'))
    pred = torch.tensor([[[[1.0, -2.0]], [[0.5, 0.0]], [[0.0, 2.0]]]])
    gt = torch.tensor([[[[2.0, -2.0]], [[0.0, 1.0]]]])  # (1, 2, 1, 2)
    per_pixel = loss(pred, gt, reduction_override='none')
    a, b = 0.25, 4.
    expected = []
    for j, c in enumerate((0.0, 2.0)):
        s = (b - a) / (1 + np.exp(-c)) + a
        l1 = abs(float(gt[0, 0, 0, j] - pred[0, 0, 0, j])) + \
            abs(float(gt[0, 1, 0, j] - pred[0, 1, 0, j]))
        expected.append(l1 / s + np.log(s))
    assert per_pixel.shape == (1, 1, 2)
    np.testing.assert_allclose(per_pixel.flatten().numpy(), expected,
                               rtol=1e-6)
    assert float(loss(pred, gt)) == pytest.approx(np.mean(expected),
                                                  rel=1e-6)
    s = loss.scale(torch.tensor([-1e4, -3., 0., 3., 1e4]))
    assert float(s.min()) >= a and float(s.max()) <= b
    assert float(s[0]) == pytest.approx(a) and float(s[-1]) == pytest.approx(b)
    # the loss is minimal at s = |error| when a <= |error| <= b
    err = 1.7
    c = torch.linspace(-6, 6, 2001)
    p = torch.zeros(len(c), 3, 1, 1)
    p[:, 2, 0, 0] = c
    g = torch.zeros(len(c), 2, 1, 1)
    g[:, 0] = err
    best = loss.scale(c[loss(p, g, reduction_override='none').flatten()
                        .argmin()])
    assert float(best) == pytest.approx(err, abs=0.01)


def test_epe_and_l1_losses():
    pred = torch.tensor([[[[3.0]], [[4.0]]]])
    gt = torch.zeros(1, 2, 1, 1)
    epe = MODELS.build(dict(type='winwin_mm.EndPointErrorLoss'))
    l1 = MODELS.build(dict(type='winwin_mm.FlowL1Loss'))
    assert float(epe(pred, gt)) == pytest.approx(5.0)
    assert float(l1(pred, gt)) == pytest.approx(7.0)


@pytest.mark.parametrize('inner', ['LaplacianFlowLoss', 'EndPointErrorLoss',
                                   'FlowL1Loss'])
def test_window_loss_valid_excludes_invalid_pixels(inner):
    wl = MODELS.build(dict(type='winwin_mm.WindowLoss',
                           loss=dict(type=f'winwin_mm.{inner}')))
    torch.manual_seed(0)
    pred = torch.randn(2, 3, 4, 5)
    gt = torch.randn(2, 2, 4, 5)
    valid = torch.rand(2, 4, 5) > 0.4
    ref = wl(pred, gt, valid=valid)
    gt_bad = gt.clone()
    gt_bad[0][:, ~valid[0]] = 1e6  # huge errors on invalid pixels only
    gt_bad[1][:, ~valid[1]] = float('nan')
    out = wl(pred, gt_bad, valid=valid)
    torch.testing.assert_close(out, ref)
    per_pixel = wl.loss(pred, gt, reduction_override='none')
    expected = per_pixel[valid].mean()
    torch.testing.assert_close(ref, expected)
    assert wl.loss_name == 'loss_flow'


# ------------------------------------------------------------ configs
@pytest.mark.parametrize('name', [
    'winwin_vitb_spring', 'winwin_vitb_spring_tiled', 'winwin_vitb_sintel',
    'fullres_vitb_sintel', 'winwin_vitti_flow_demo'
])
def test_configs_parse(name):
    cfg = Config.fromfile(config(name))
    assert cfg.model.type == 'winwin_mm.WinWinFlow'
    assert cfg.val_evaluator.type == 'winwin_mm.FlowMetric'
    assert (cfg.default_hooks.visualization.type ==
            'winwin_mm.FlowVisualizationHook')
    text = str(cfg.train_dataloader)
    assert ('RandomWindows' in text) == (not name.startswith('fullres'))


def test_demo_config_model_builds_and_runs():
    cfg = Config.fromfile(config('winwin_vitti_flow_demo'))
    assert cfg.custom_imports.imports == ['winwin_mm']  # from the base
    from winwin_mm.registry import DATASETS
    assert DATASETS.get(cfg.train_dataloader.dataset.type) is not None
    model = MODELS.build(cfg.model)
    assert isinstance(model, WinWinFlow)
    with torch.no_grad():
        assert model(torch.randn(1, 6, 50, 70)).shape == (1, 2, 50, 70)


def test_predict_flow_tool_writes_flo_and_png(tmp_path):
    import importlib.util

    import cv2

    from winwin_mm.datasets.flow_io import read_flo
    tool = osp.join(REPO, 'tools', 'predict_flow.py')
    spec = importlib.util.spec_from_file_location('predict_flow', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main = module.main
    rng = np.random.default_rng(0)
    img1 = rng.integers(0, 256, (40, 72, 3), dtype=np.uint8)
    img2 = np.roll(img1, 3, axis=1)
    for name, img in (('a.png', img1), ('b.png', img2)):
        cv2.imwrite(str(tmp_path / name), img)
    for mode in ('whole', 'tiled'):
        flo, png = main([
            str(tmp_path / 'a.png'), str(tmp_path / 'b.png'), '--config',
            config('winwin_vitti_flow_demo'), '--out-dir',
            str(tmp_path / mode), '--mode', mode, '--crop-size', '32', '48',
            '--device', 'cpu'
        ])
        assert read_flo(flo).shape == (40, 72, 2)
        assert cv2.imread(png).shape == (40, 72, 3)


def test_layer_decay_groups_the_flow_encoder_blocks():
    """Acceptance (issue 14): layer-wise lr decay follows WinWinFlow's
    encoder (declared by ``vit_encoder`` / ``group_matcher``), per block."""
    from mmengine.optim import build_optim_wrapper
    model = build(encoder=dict(
        type='winwin_mm.RoPEViT',
        arch=dict(embed_dims=32, num_layers=3, num_heads=2), patch_size=P,
        out_indices=(2, )))
    base, rate = 1e-3, 0.5
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=base, weight_decay=0.05),
        constructor='winwin_mm.LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=rate)))  # num_layers: encoder's

    def lr_of(param):
        hits = [g['lr'] for g in wrapper.optimizer.param_groups
                if any(p is param for p in g['params'])]
        assert len(hits) == 1
        return hits[0]

    enc = model.encoder
    assert lr_of(enc.patch_embed.proj.weight) == pytest.approx(base * rate**4)
    for i, blk in enumerate(enc.blocks):  # decayed block by block
        assert lr_of(blk.attn.qkv.weight) == pytest.approx(
            base * rate**(3 - i))
    for p in (enc.norm.weight, model.decoder.blocks[0].attn.qkv.weight,
              model.head.head['conv3'].weight):
        assert lr_of(p) == pytest.approx(base)
    assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == \
        len(list(model.parameters()))
