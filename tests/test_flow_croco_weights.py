"""CroCo v2 weights start the whole flow model, encoder *and* decoder, as in
CroCo-Flow.

The reference is CroCo's published computation, written here from its
equations on a state dict with CroCo's key names (``enc_blocks``,
``decoder_embed``, ``dec_blocks.i.cross_attn.projq/projk/projv``,
``dec_norm``): pre-norm blocks, RoPE (base 100, CroCo layout) on q and k of
every attention, the frame-2 memory normalised by ``norm_y``, LayerNorm eps
1e-6, exact GELU. A random "CroCo checkpoint" saved to disk must make our
model compute exactly that."""
import pytest
import torch
import torch.nn.functional as F
from test_rope import _reference_croco

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.models.flow import CrossDecoder
from winwin_mm.registry import MODELS
from winwin_mm.windows import grid_positions

ENC, DEC, HEADS, P = 32, 24, 2, 8


# ------------------------------------------------- CroCo, from its equations
def _ln(st, name, x):
    return F.layer_norm(x, x.shape[-1:], st[name + '.weight'],
                        st[name + '.bias'], eps=1e-6)


def _lin(st, name, x):
    return F.linear(x, st[name + '.weight'], st[name + '.bias'])


def _split(t, heads):
    """(B, N, C) -> (B, heads, N, C / heads)."""
    B, N, C = t.shape
    return t.reshape(B, N, heads, C // heads).transpose(1, 2)


def _attend(q, k, v, pos_q, pos_k):
    """softmax(rope(q) rope(k)^T / sqrt(d)) v, heads merged: (B, Nq, C)."""
    q = _reference_croco(q, pos_q, freq_dtype=torch.float32).to(v.dtype)
    k = _reference_croco(k, pos_k, freq_dtype=torch.float32).to(v.dtype)
    a = (q @ k.transpose(-2, -1) / q.shape[-1]**0.5).softmax(-1)
    out = a @ v
    return out.transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)


def _self_attn(st, pre, x, pos, heads):
    q, k, v = _lin(st, pre + 'qkv', x).chunk(3, dim=-1)
    out = _attend(_split(q, heads), _split(k, heads), _split(v, heads), pos,
                  pos)
    return _lin(st, pre + 'proj', out)


def _mlp(st, pre, x):
    return _lin(st, pre + 'fc2', F.gelu(_lin(st, pre + 'fc1', x)))


def croco_encoder(st, img, heads, depth):
    """Patch embedding, RoPE blocks, ``enc_norm``: (B, N, C) and (B, N, 2)
    (y, x) positions."""
    x = F.conv2d(img, st['patch_embed.proj.weight'],
                 st['patch_embed.proj.bias'], stride=P)
    B, C, h, w = x.shape
    pos = grid_positions((h, w))[None].expand(B, -1, -1)
    x = x.flatten(2).transpose(1, 2)
    for i in range(depth):
        pre = f'enc_blocks.{i}.'
        x = x + _self_attn(st, pre + 'attn.', _ln(st, pre + 'norm1', x), pos,
                           heads)
        x = x + _mlp(st, pre + 'mlp.', _ln(st, pre + 'norm2', x))
    return _ln(st, 'enc_norm', x), pos


def croco_decoder(st, f1, f2, pos1, pos2, heads, depth):
    """Outputs of every decoder block, the last after ``dec_norm``."""
    x, y = _lin(st, 'decoder_embed', f1), _lin(st, 'decoder_embed', f2)
    outs = []
    for i in range(depth):
        pre = f'dec_blocks.{i}.'
        x = x + _self_attn(st, pre + 'attn.', _ln(st, pre + 'norm1', x),
                           pos1, heads)
        y_ = _ln(st, pre + 'norm_y', y)
        xq = _ln(st, pre + 'norm2', x)
        ca = pre + 'cross_attn.'
        out = _attend(_split(_lin(st, ca + 'projq', xq), heads),
                      _split(_lin(st, ca + 'projk', y_), heads),
                      _split(_lin(st, ca + 'projv', y_), heads), pos1, pos2)
        x = x + _lin(st, ca + 'proj', out)
        x = x + _mlp(st, pre + 'mlp.', _ln(st, pre + 'norm3', x))
        outs.append(x)
    outs[-1] = _ln(st, 'dec_norm', outs[-1])
    return outs


def random_croco_checkpoint(enc_depth=2, dec_depth=2, seed=0):
    """A CroCo v2 state dict (RoPE, so no position embeddings) with random
    values; LayerNorm weights away from 1 so a wrong mapping shows."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, mean=0.):
        return mean + 0.2 * torch.randn(*shape, generator=g)

    st = {'patch_embed.proj.weight': r(ENC, 3, P, P),
          'patch_embed.proj.bias': r(ENC), 'mask_token': r(1, 1, DEC),
          'prediction_head.weight': r(P * P * 3, DEC),
          'prediction_head.bias': r(P * P * 3),
          'decoder_embed.weight': r(DEC, ENC), 'decoder_embed.bias': r(DEC)}

    def ln(name, c):
        st[name + '.weight'], st[name + '.bias'] = r(c, mean=1.), r(c)

    def lin(name, cout, cin):
        st[name + '.weight'], st[name + '.bias'] = r(cout, cin), r(cout)

    for i in range(enc_depth):
        pre = f'enc_blocks.{i}.'
        ln(pre + 'norm1', ENC)
        ln(pre + 'norm2', ENC)
        lin(pre + 'attn.qkv', 3 * ENC, ENC)
        lin(pre + 'attn.proj', ENC, ENC)
        lin(pre + 'mlp.fc1', 4 * ENC, ENC)
        lin(pre + 'mlp.fc2', ENC, 4 * ENC)
    ln('enc_norm', ENC)
    for i in range(dec_depth):
        pre = f'dec_blocks.{i}.'
        for n in ('norm1', 'norm2', 'norm3', 'norm_y'):
            ln(pre + n, DEC)
        lin(pre + 'attn.qkv', 3 * DEC, DEC)
        lin(pre + 'attn.proj', DEC, DEC)
        for n in ('projq', 'projk', 'projv', 'proj'):
            lin(pre + 'cross_attn.' + n, DEC, DEC)
        lin(pre + 'mlp.fc1', 4 * DEC, DEC)
        lin(pre + 'mlp.fc2', DEC, 4 * DEC)
    ln('dec_norm', DEC)
    return st


@pytest.fixture(scope='module')
def croco_file(tmp_path_factory):
    st = random_croco_checkpoint()
    path = tmp_path_factory.mktemp('croco') / 'CroCo_V2_tiny.pth'
    torch.save({'model': st}, path)  # CroCo's release layout
    return st, str(path)


def _tokens(seed, n=12):
    g = torch.Generator().manual_seed(seed)
    f1, f2 = torch.randn(2, 2, n, ENC, generator=g)
    pos1 = torch.randint(0, 20, (2, n, 2), generator=g)
    pos2 = torch.randint(0, 20, (2, n, 2), generator=g)
    return f1, f2, pos1, pos2


# ------------------------------------------------------------------- tests
@pytest.mark.parametrize('layout', ['croco', 'interleaved'])
@pytest.mark.parametrize('offset_readout', [False, True])
def test_decoder_from_croco_checkpoint_computes_croco(croco_file, layout,
                                                      offset_readout):
    st, path = croco_file
    dec = CrossDecoder(in_dims=ENC, embed_dims=DEC, num_layers=2,
                       num_heads=HEADS, out_indices=(0, 1, 1),
                       rope_layout=layout, offset_readout=offset_readout,
                       match_init=True,
                       init_cfg=dict(type='Pretrained', checkpoint=path))
    dec.init_weights()
    dec.eval()
    f1, f2, pos1, pos2 = _tokens(1)
    with torch.no_grad():
        ours = dec(f1, f2, pos1, pos2)
    ref = croco_decoder(st, f1, f2, pos1, pos2, HEADS, 2)
    torch.testing.assert_close(ours[0], ref[0], rtol=0, atol=1e-4)
    torch.testing.assert_close(ours[2], ref[1], rtol=0, atol=1e-4)
    if offset_readout:  # new weights start at zero: CroCo's function
        assert all(float(p.abs().max()) == 0.
                   for n, p in dec.named_parameters() if 'offset_proj' in n)


def test_without_the_mapping_the_output_differs(croco_file):
    """The check above can fail: a decoder that keeps its own init (what
    mmengine's generic Pretrained init left when no key matched) does not
    compute CroCo's function."""
    st, _ = croco_file
    dec = CrossDecoder(in_dims=ENC, embed_dims=DEC, num_layers=2,
                       num_heads=HEADS, out_indices=(0, 1, 1))
    dec.init_weights()
    f1, f2, pos1, pos2 = _tokens(1)
    with torch.no_grad():
        ours = dec.eval()(f1, f2, pos1, pos2)
    ref = croco_decoder(st, f1, f2, pos1, pos2, HEADS, 2)
    assert not torch.allclose(ours[2], ref[1], atol=1e-2)


def test_mismatched_decoder_names_keys_and_fix(croco_file, tmp_path):
    _, path = croco_file
    dec = CrossDecoder(in_dims=ENC, embed_dims=DEC, num_layers=3,
                       num_heads=HEADS,
                       init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(RuntimeError) as err:
        dec.init_weights()
    msg = str(err.value)
    assert "read as 'croco' format" in msg
    assert 'blocks.2.cross_attn.qkv.weight' in msg  # missing, named
    assert 'num_layers' in msg and 'Fix:' in msg
    # a checkpoint with no decoder (an encoder-only file) is refused too
    enc_only = {k: v for k, v in croco_file[0].items()
                if not k.startswith(('dec', 'decoder_'))}
    torch.save(enc_only, tmp_path / 'enc.pth')
    dec = CrossDecoder(in_dims=ENC, embed_dims=DEC, num_layers=2,
                       num_heads=HEADS, init_cfg=dict(
                           type='Pretrained',
                           checkpoint=str(tmp_path / 'enc.pth')))
    with pytest.raises(RuntimeError, match='missing keys'):
        dec.init_weights()


def test_missing_checkpoint_file_names_the_fix(tmp_path):
    path = str(tmp_path / 'CroCo_V2_ViTBase_BaseDecoder.pth')
    dec = CrossDecoder(in_dims=ENC, embed_dims=DEC, num_layers=2,
                       num_heads=HEADS,
                       init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(FileNotFoundError) as err:
        dec.init_weights()
    assert path in str(err.value) and 'init_cfg to None' in str(err.value)


def test_flow_model_starts_from_one_croco_file(croco_file):
    """The documented CroCo-Flow start: encoder and decoder ``init_cfg``
    name the same CroCo v2 file. Encoder features of both frames, then the
    decoder, must be CroCo's."""
    st, path = croco_file
    init = dict(type='Pretrained', checkpoint=path)
    model = MODELS.build(dict(
        type='winwin_mm.WinWinFlow',
        encoder=dict(type='winwin_mm.RoPEViT',
                     arch=dict(embed_dims=ENC, num_layers=2,
                               num_heads=HEADS),
                     patch_size=P, out_indices=(1, ), init_cfg=init),
        decoder=dict(embed_dims=DEC, num_layers=2, num_heads=HEADS,
                     out_indices=(0, 1, 1), init_cfg=init),
        head=dict(hidden_channels=(8, 8, 16, 16), features=8,
                  head_channels=8)))
    model.init_weights()
    model.eval()
    g = torch.Generator().manual_seed(3)
    img1, img2 = torch.randn(2, 1, 3, 4 * P, 5 * P, generator=g)
    with torch.no_grad():
        e1 = model.encoder(img1)[-1].flatten(2).transpose(1, 2)
        e2 = model.encoder(img2)[-1].flatten(2).transpose(1, 2)
        r1, pos = croco_encoder(st, img1, HEADS, 2)
        r2, _ = croco_encoder(st, img2, HEADS, 2)
        torch.testing.assert_close(e1, r1, rtol=0, atol=1e-4)
        torch.testing.assert_close(e2, r2, rtol=0, atol=1e-4)
        ours = model.decoder(e1, e2, pos, pos)
    ref = croco_decoder(st, r1, r2, pos, pos, HEADS, 2)
    torch.testing.assert_close(ours[2], ref[1], rtol=0, atol=1e-4)


def test_native_flow_checkpoint_decoder_loads(tmp_path):
    """The decoder of a saved WinWinFlow (keys under ``decoder.``) loads
    into a decoder of the same shape, every tensor equal."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='winwin_mm.WinWinFlow',
        encoder=dict(type='winwin_mm.RoPEViT',
                     arch=dict(embed_dims=ENC, num_layers=1,
                               num_heads=HEADS),
                     patch_size=P, out_indices=(0, )),
        decoder=dict(embed_dims=DEC, num_layers=2, num_heads=HEADS,
                     out_indices=(0, 1, 1), offset_readout=True),
        head=dict(hidden_channels=(8, 8, 16, 16), features=8,
                  head_channels=8)))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta={}),
               tmp_path / 'flow.pth')
    dec = CrossDecoder(in_dims=ENC, embed_dims=DEC, num_layers=2,
                       num_heads=HEADS, offset_readout=True,
                       init_cfg=dict(type='Pretrained',
                                     checkpoint=str(tmp_path / 'flow.pth')))
    dec.init_weights()
    want = model.decoder.state_dict()
    got = dec.state_dict()
    assert set(got) == set(want)
    assert all(torch.equal(got[k], want[k]) for k in want)
