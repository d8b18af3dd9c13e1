"""RoPEViT: windows == crops (relative positions), windows == masked full
grid, gradients stay in the windows, padding, variants, checkpoints."""
import pytest
import torch
import torch.nn.functional as F

from winwin_mm.models.backbones import RoPEViT
from winwin_mm.windows import boxes_to_token_index, grid_positions

P = 8
TINY = dict(embed_dims=64, num_layers=2, num_heads=2)


def tiny(**kw):
    torch.manual_seed(0)
    kw.setdefault('out_indices', (0, 1))
    m = RoPEViT(arch=TINY, patch_size=P, **kw)
    m.init_weights()
    return m.double().eval()


def image(b=2, h=48, w=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, h, w, generator=g, dtype=torch.float64)


def masked_reference(model, x, index):
    """Full grid run of forward_tokens on ALL tokens where kept tokens attend
    only to kept tokens (dropped ones attend to themselves only); returns the
    per-level (B, K, C) outputs at the kept positions."""
    tokens, (gh, gw) = model.embed(x)
    B, L, C = tokens.shape
    keep = torch.zeros(B, L, dtype=torch.bool)
    keep.scatter_(1, index, True)
    mask = keep[:, None, :, None] & keep[:, None, None, :]
    mask = mask | torch.eye(L, dtype=torch.bool)
    pos = grid_positions((gh, gw)).expand(B, -1, -1)
    outs = model.forward_tokens(tokens, pos, attn_mask=mask)
    return [torch.gather(o, 1, index[..., None].expand(-1, -1, C))
            for o in outs]


def test_one_window_equals_crop():
    # (no class token here: its query/key are not rotated, so its logits
    # with patch tokens depend on their absolute positions, as in timm)
    model = tiny()
    x = image()
    boxes = torch.tensor([[[1, 2, 5, 6]], [[2, 4, 6, 8]]])  # grid 6x8
    outs = model(x, windows=boxes)
    assert len(outs) == 2
    for level in outs:
        assert level.shape == (2, 64, 4, 4)
    for b in range(2):
        y0, x0, y1, x1 = (boxes[b, 0] * P).tolist()
        crop = model(x[b:b + 1, :, y0:y1, x0:x1])
        for level, ref in zip(outs, crop):
            assert ref.shape == (1, 64, 4, 4)
            torch.testing.assert_close(level[b:b + 1], ref, rtol=0,
                                       atol=1e-10)


@pytest.mark.parametrize('boxes', [
    [[[0, 0, 3, 3], [3, 5, 6, 8]], [[1, 1, 4, 4], [2, 4, 5, 7]]],
    [[[0, 0, 2, 2], [0, 4, 2, 6], [3, 1, 5, 3], [4, 6, 6, 8]],
     [[0, 0, 2, 2], [2, 2, 4, 4], [4, 4, 6, 6], [0, 6, 2, 8]]],
])
def test_windows_equal_masked_full_grid(boxes):
    model = tiny()
    x = image()
    boxes = torch.tensor(boxes)
    B, N = boxes.shape[:2]
    s = int(boxes[0, 0, 2] - boxes[0, 0, 0])
    outs = model(x, windows=boxes)
    index = boxes_to_token_index(boxes, 8)
    refs = masked_reference(model, x, index)
    full = model(x)
    for level, ref, fl in zip(outs, refs, full):
        assert level.shape == (B * N, 64, s, s)
        # (B, N*s*s, C) in window-major, row-major order -> (B*N, C, s, s)
        ref = ref.reshape(B * N, s, s, 64).permute(0, 3, 1, 2)
        torch.testing.assert_close(level, ref, rtol=0, atol=1e-10)
        # not vacuous: dropping tokens changes the features
        fl_kept = torch.gather(fl.flatten(2), 2,
                               index[:, None].expand(-1, 64, -1))
        fl_kept = fl_kept.reshape(B, 64, N, s, s).permute(0, 2, 1, 3, 4)
        assert (fl_kept.reshape(B * N, 64, s, s) - level).abs().max() > 1e-3
    # batch independence: sample 1 alone gives its own N windows
    alone = model(x[1:], windows=boxes[1:])
    for level, a in zip(outs, alone):
        torch.testing.assert_close(level[N:], a, rtol=0, atol=1e-10)


def test_gradient_only_inside_windows():
    model = tiny()
    x = image().requires_grad_(True)
    boxes = torch.tensor([[[0, 1, 3, 4], [3, 5, 6, 8]],
                          [[2, 0, 5, 3], [0, 4, 3, 7]]])
    outs = model(x, windows=boxes)
    sum(o.pow(2).sum() for o in outs).backward()
    inside = torch.zeros_like(x, dtype=torch.bool)
    for b in range(2):
        for y0, x0, y1, x1 in (boxes[b] * P).tolist():
            inside[b, :, y0:y1, x0:x1] = True
            assert x.grad[b, :, y0:y1, x0:x1].abs().sum() > 0
    assert x.grad[~inside].abs().max() == 0
    assert (x.grad[inside] != 0).float().mean() > 0.9


def test_full_grid_pads_to_patch_multiple():
    model = tiny()
    x = image(b=1, h=50, w=70)
    outs = model(x)
    for o in outs:
        assert o.shape == (1, 64, 7, 9)  # ceil(50/8), ceil(70/8)
    padded = F.pad(x, (0, 2, 0, 6))
    for o, r in zip(outs, model(padded)):
        torch.testing.assert_close(o, r, rtol=0, atol=0)
    # padding also applies with windows (boxes may touch the padded row)
    w = model(x, windows=torch.tensor([[[4, 6, 7, 9]]]))
    assert w[0].shape == (1, 64, 3, 3)
    with pytest.raises(ValueError, match='outside'):
        model(x, windows=torch.tensor([[[5, 6, 8, 9]]]))


def test_variants_run():
    x = image(b=2, h=40, w=56)
    boxes = torch.tensor([[[0, 0, 2, 2], [2, 3, 4, 5]]] * 2)
    for kw in (dict(with_cls_token=True), dict(layer_scale_init_value=0.1),
               dict(with_cls_token=True, layer_scale_init_value=1e-5),
               dict(rope_mixed=True), dict(rope_layout='interleaved'),
               dict(final_norm=False, out_indices=(1, )),
               dict(out_indices=(-1, ))):
        model = tiny(**kw)
        full = model(x)
        assert all(o.shape == (2, 64, 5, 7) for o in full)
        assert all(torch.isfinite(o).all() for o in full)
        win = model(x, windows=boxes)
        assert all(o.shape == (4, 64, 2, 2) for o in win)
    with pytest.raises(ValueError):
        RoPEViT(arch=TINY, out_indices=(2, ))
    with pytest.raises(ValueError):
        RoPEViT(arch='huge')
    with pytest.raises(ValueError):
        RoPEViT(arch=dict(embed_dims=48, num_layers=1, num_heads=4))


def test_layer_scale_and_cls_matter():
    x = image(b=1, h=16, w=16)
    a = tiny(layer_scale_init_value=0.1)(x)[1]
    b = tiny(layer_scale_init_value=1.0)(x)[1]
    assert (a - b).abs().max() > 1e-3


def test_training_mode_drop_path_and_checkpointing():
    torch.manual_seed(0)
    model = RoPEViT(arch=TINY, patch_size=P, out_indices=(0, 1),
                    drop_path_rate=0.1, with_cp=True)
    model.init_weights()
    model.train()
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    outs = model(x, windows=torch.tensor([[[0, 0, 2, 2], [2, 2, 4, 4]]] * 2))
    sum(o.sum() for o in outs).backward()
    assert model.blocks[0].attn.qkv.weight.grad is not None
    assert torch.isfinite(x.grad).all()


def test_token_index_scatters_onto_grid():
    model = tiny()
    x = image()
    g = torch.Generator().manual_seed(4)
    index = torch.stack([torch.randperm(48, generator=g)[:13].sort().values
                         for _ in range(2)])
    outs = model(x, token_index=index)
    refs = masked_reference(model, x, index)
    for o, ref in zip(outs, refs):
        assert o.shape == (2, 64, 6, 8)
        flat = o.flatten(2).transpose(1, 2)  # (B, 48, C)
        kept = torch.zeros(2, 48, dtype=torch.bool)
        kept.scatter_(1, index, True)
        assert flat[~kept].abs().max() == 0
        got = torch.gather(flat, 1, index[..., None].expand(-1, -1, 64))
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)
    with pytest.raises(ValueError):
        model(x, windows=torch.tensor([[[0, 0, 2, 2]]] * 2),
              token_index=index)


def _random_timm(name, seed, tmp_path_factory, mixed=False):
    """A random timm RoPE ViT-B (layer scale and qkv biases randomised so
    they matter), its checkpoint and its features for one small image."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(seed)
    ref = timm.create_model(name, pretrained=False, img_size=(64, 96)).eval()
    with torch.no_grad():
        for blk in ref.blocks:
            blk.gamma_1.normal_()
            blk.gamma_2.normal_()
            blk.attn.qkv.bias.normal_(0, 0.5)
        ref.cls_token.normal_()
        if mixed:
            assert ref.rope.freqs.shape == (2, 12, 12, 32)  # per block
            ref.rope.freqs.mul_(3)  # larger angles: layout errors show
    path = tmp_path_factory.mktemp('timm') / f'{name}.pth'
    torch.save(ref.state_dict(), path)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        exp = ref.forward_features(x)[:, 1:]
    return path, x, exp.transpose(1, 2).reshape(1, 768, 4, 6)


@pytest.fixture(scope='module')
def timm_vitb(tmp_path_factory):
    return _random_timm('vit_base_patch16_rope_224', 0, tmp_path_factory)


@pytest.fixture(scope='module')
def timm_vitb_mixed(tmp_path_factory):
    return _random_timm('vit_base_patch16_rope_mixed_224', 1,
                        tmp_path_factory, mixed=True)


@pytest.mark.parametrize('layout', ['croco', 'interleaved'])
@pytest.mark.parametrize('mixed', [False, True])
def test_timm_rope_vit_equivalence(timm_vitb, timm_vitb_mixed, layout,
                                   mixed):
    path, x, exp = timm_vitb_mixed if mixed else timm_vitb
    model = RoPEViT('b', out_indices=(11, ), with_cls_token=True,
                    layer_scale_init_value=1e-5, rope_layout=layout,
                    rope_mixed=mixed, rope_base=10. if mixed else 100.,
                    init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    model.eval()
    if mixed:
        assert model.rope.freqs_x.shape == (12, 12, 32)  # one set per block
    with torch.no_grad():
        out = model(x)[0]
    assert out.shape == (1, 768, 4, 6)
    torch.testing.assert_close(out, exp, rtol=0, atol=1e-4)


def test_rope_kind_mismatch_is_reported(timm_vitb, timm_vitb_mixed):
    for (path, _, _), mixed in ((timm_vitb, True), (timm_vitb_mixed, False)):
        model = RoPEViT('b', with_cls_token=True, layer_scale_init_value=1e-5,
                        rope_mixed=mixed,
                        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
        with pytest.raises(RuntimeError, match=f'rope_mixed={not mixed}'):
            model.init_weights()


def test_mmpretrain_checkpoint_loads(tmp_path):
    mmpretrain_models = pytest.importorskip('mmpretrain.models')
    torch.manual_seed(0)
    src = mmpretrain_models.VisionTransformer(
        arch='b', img_size=64, patch_size=16, with_cls_token=True)
    assert any(k.startswith('pos_embed') for k in src.state_dict())
    path = tmp_path / 'mmpretrain_vitb.pth'
    torch.save(dict(state_dict=src.state_dict()), path)
    model = RoPEViT('b', with_cls_token=True,
                    init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    sd = src.state_dict()
    torch.testing.assert_close(model.blocks[3].mlp.fc1.weight,
                               sd['layers.3.ffn.layers.0.0.weight'])
    torch.testing.assert_close(model.blocks[11].attn.qkv.weight,
                               sd['layers.11.attn.qkv.weight'])
    torch.testing.assert_close(model.patch_embed.proj.weight,
                               sd['patch_embed.projection.weight'])
    torch.testing.assert_close(model.norm.weight, sd['ln1.weight'])
    torch.testing.assert_close(model.cls_token, sd['cls_token'])

    # a smaller ViT's weights into ViT-B: shape mismatches are reported
    small = mmpretrain_models.VisionTransformer(
        arch='deit-tiny', img_size=32, patch_size=16, with_cls_token=True)
    bad = tmp_path / 'mmpretrain_vitti.pth'
    torch.save(small.state_dict(), bad)
    model = RoPEViT('b', with_cls_token=True,
                    init_cfg=dict(type='Pretrained', checkpoint=str(bad)))
    with pytest.raises(RuntimeError, match='shape mismatches') as e:
        model.init_weights()
    assert 'patch_embed.proj.weight' in str(e.value)
    assert 'mmpretrain' in str(e.value)


def test_missing_and_unexpected_keys_reported(tmp_path):
    src = tiny(with_cls_token=True)
    path = tmp_path / 'native.pth'
    torch.save(src.state_dict(), path)
    model = RoPEViT(arch=TINY, patch_size=P, out_indices=(0, 1),
                    init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(RuntimeError, match=r'unexpected keys \(1\): .*cls_token'):
        model.init_weights()
    model = RoPEViT(arch=TINY, patch_size=P, out_indices=(0, 1),
                    layer_scale_init_value=0.1, with_cls_token=True,
                    init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(RuntimeError, match=r'missing keys \(4\): .*ls1.gamma'):
        model.init_weights()
    # the matching model loads it exactly
    ok = RoPEViT(arch=TINY, patch_size=P, out_indices=(0, 1),
                 with_cls_token=True,
                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ok.init_weights()
    ok.double().eval()
    x = image(b=1, h=16, w=24)
    torch.testing.assert_close(ok(x)[1], src(x)[1], rtol=0, atol=0)


def test_native_rope_mixed_checkpoints_load(tmp_path):
    src = tiny(rope_mixed=True)
    assert src.rope.freqs_x.shape[0] == TINY['num_layers']
    path = tmp_path / 'mixed.pth'
    torch.save(src.state_dict(), path)
    ok = RoPEViT(arch=TINY, patch_size=P, out_indices=(0, 1), rope_mixed=True,
                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ok.init_weights()
    ok.double().eval()
    x = image(b=1, h=16, w=24)
    torch.testing.assert_close(ok(x)[1], src(x)[1], rtol=0, atol=0)
    # older checkpoints shared one (heads, pairs) set by all blocks
    old = src.state_dict()
    old['rope.freqs_x'] = old['rope.freqs_x'][0].clone()
    old['rope.freqs_y'] = old['rope.freqs_y'][0].clone()
    torch.save(old, path)
    ok.init_weights()
    for f, g in ((ok.rope.freqs_x, old['rope.freqs_x']),
                 (ok.rope.freqs_y, old['rope.freqs_y'])):
        for layer in range(TINY['num_layers']):
            torch.testing.assert_close(f[layer], g.to(f.dtype))
