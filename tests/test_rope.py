"""2-D RoPE: relative-position property, layouts, and the CroCo v2 math."""
import pytest
import torch

from winwin_mm.models.backbones.vit_layers import RoPEAttention
from winwin_mm.models.rope import (RoPE2D, apply_rope, channel_roles,
                                   layout_permutation, pair_signs,
                                   rotate_pairs, swap_pairs)
from winwin_mm.utils.profiling import count_ops

HEAD_DIM = 16
VARIANTS = [('croco', False), ('interleaved', False), ('croco', True),
            ('interleaved', True)]


def _rope(layout, mixed, head_dim=HEAD_DIM, heads=2):
    torch.manual_seed(0)
    return RoPE2D(head_dim, base=100, layout=layout, mixed=mixed,
                  num_heads=heads).double()


def _logits(rope, q, k, pos, layer=0):
    """q, k (B, h, N, d), pos (B, N, 2) -> rotated q_i . k_j (B, h, N, N)."""
    cos, sin = rope(pos, layer)
    qr = apply_rope(q, cos, sin, rope.layout)
    kr = apply_rope(k, cos, sin, rope.layout)
    return qr @ kr.transpose(-1, -2)


def _qkp(n=12, heads=2, head_dim=HEAD_DIM, seed=1):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, heads, n, head_dim, generator=g, dtype=torch.float64)
    k = torch.randn(1, heads, n, head_dim, generator=g, dtype=torch.float64)
    pos = torch.randint(0, 40, (1, n, 2), generator=g)
    return q, k, pos


@pytest.mark.parametrize('layout,mixed', VARIANTS)
def test_logits_depend_only_on_relative_offsets(layout, mixed):
    rope = _rope(layout, mixed)
    q, k, pos = _qkp()
    ref = _logits(rope, q, k, pos)
    for dy, dx in [(3, -7), (-25, 11), (100, 250), (0, 1)]:
        shifted = pos + torch.tensor([dy, dx])
        torch.testing.assert_close(
            _logits(rope, q, k, shifted), ref, rtol=0, atol=1e-9)
    # changing one token's offset changes its logits (not a constant map)
    moved = pos.clone()
    moved[0, 0] += torch.tensor([1, 2])
    out = _logits(rope, q, k, moved)
    assert (out[..., 0, 1:] - ref[..., 0, 1:]).abs().max() > 1e-3
    assert (out[..., 1:, 0] - ref[..., 1:, 0]).abs().max() > 1e-3
    # the others' mutual logits do not move
    torch.testing.assert_close(out[..., 1:, 1:], ref[..., 1:, 1:], rtol=0,
                               atol=1e-9)
    # a pure y or pure x change is visible (both axes are used)
    for d in ([1, 0], [0, 1]):
        m = pos.clone()
        m[0, 0] += torch.tensor(d)
        assert (_logits(rope, q, k, m) - ref).abs().max() > 1e-3


@pytest.mark.parametrize('layout,mixed', VARIANTS)
def test_rotation_preserves_norm_and_zero_is_identity(layout, mixed):
    rope = _rope(layout, mixed)
    q, _, pos = _qkp()
    cos, sin = rope(pos)
    assert cos.shape == (1, 2 if mixed else 1, 12, HEAD_DIM)
    rq = apply_rope(q, cos, sin, layout)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1), rtol=1e-12,
                               atol=0)
    assert not torch.allclose(rq, q)
    cos0, sin0 = rope(torch.zeros(1, 12, 2, dtype=torch.long))
    torch.testing.assert_close(apply_rope(q, cos0, sin0, layout), q)


def test_rotate_pairs_is_a_quarter_turn():
    x = torch.randn(2, 3, 5, HEAD_DIM, dtype=torch.float64)
    for layout in ('croco', 'interleaved'):
        r = rotate_pairs(x, layout)
        torch.testing.assert_close(rotate_pairs(r, layout), -x)
        torch.testing.assert_close((r * x).sum(-1),
                                   torch.zeros(2, 3, 5, dtype=torch.float64))


@pytest.mark.parametrize('head_dim', [8, 16, 64])
def test_layout_permutation_consistent(head_dim):
    croco = RoPE2D(head_dim, layout='croco').double()
    inter = RoPE2D(head_dim, layout='interleaved').double()
    p = layout_permutation(head_dim, 'croco', 'interleaved')
    p_back = layout_permutation(head_dim, 'interleaved', 'croco')
    assert sorted(p.tolist()) == list(range(head_dim))
    assert p[p_back].tolist() == list(range(head_dim))
    assert p.tolist() != list(range(head_dim))
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, head_dim, dtype=torch.float64)
    pos = torch.randint(0, 50, (2, 10, 2))
    c_cos, c_sin = croco(pos)
    i_cos, i_sin = inter(pos)
    # rope in croco then permute == permute then rope in interleaved
    a = apply_rope(x, c_cos, c_sin, 'croco')[..., p]
    b = apply_rope(x[..., p], i_cos, i_sin, 'interleaved')
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # and back
    a = apply_rope(x, i_cos, i_sin, 'interleaved')[..., p_back]
    b = apply_rope(x[..., p_back], c_cos, c_sin, 'croco')
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # the tables themselves are permutations of one another
    torch.testing.assert_close(c_cos[..., p], i_cos)
    torch.testing.assert_close(c_sin[..., p], i_sin)
    # identity permutation
    assert layout_permutation(head_dim, 'croco', 'croco').tolist() == list(
        range(head_dim))


def _reference_croco(x, pos, base=100., freq_dtype=torch.float64):
    """Straight from the math: first half of head_dim rotated by y, second by
    x; in a half of size d, freqs 1/base^(2k/d), channel k paired with
    k + d/2 (rotate half). ``freq_dtype`` rounds the frequencies (RoPE2D
    stores them in float32)."""
    head_dim = x.shape[-1]
    d = head_dim // 2
    k = torch.arange(d // 2, dtype=torch.float64)
    freqs = (1.0 / base**(2 * k / d)).to(freq_dtype).double()
    out = []
    for axis in range(2):
        xh = x[..., axis * d:(axis + 1) * d]
        p = pos[..., axis].double()  # (B, N)
        ang = p[..., None] * freqs  # (B, N, d/2)
        ang = torch.cat((ang, ang), dim=-1)[:, None]  # (B, 1, N, d)
        x1, x2 = xh[..., :d // 2], xh[..., d // 2:]
        rot = torch.cat((-x2, x1), dim=-1)
        out.append(xh * ang.cos() + rot * ang.sin())
    return torch.cat(out, dim=-1)


@pytest.mark.parametrize('head_dim', [8, 32, 64])
def test_croco_layout_matches_reference(head_dim):
    torch.manual_seed(0)
    rope = RoPE2D(head_dim, base=100, layout='croco').double()
    x = torch.randn(2, 3, 7, head_dim, dtype=torch.float64)
    pos = torch.randint(0, 80, (2, 7, 2))
    cos, sin = rope(pos)
    out = apply_rope(x, cos, sin, 'croco')
    # same math, same (float32-rounded) frequencies: equal to rounding
    torch.testing.assert_close(
        out, _reference_croco(x, pos, freq_dtype=torch.float32), rtol=0,
        atol=1e-12)
    # exact float64 frequencies: the float32 rounding of the frequencies
    # moves angles of positions < 80 by < 1e-5
    torch.testing.assert_close(out, _reference_croco(x, pos), rtol=0,
                               atol=1e-5)
    # a different base is a different rotation
    assert not torch.allclose(_reference_croco(x, pos, base=10000.),
                              apply_rope(x, cos, sin, 'croco'))


def test_float32_default_tables_are_close():
    rope = RoPE2D(32)
    pos = torch.randint(0, 80, (1, 9, 2))
    cos, sin = rope(pos)
    assert cos.dtype == torch.float32
    x = torch.randn(1, 1, 9, 32, dtype=torch.float64)
    torch.testing.assert_close(
        apply_rope(x, cos.double(), sin.double(), 'croco'),
        _reference_croco(x, pos), rtol=0, atol=1e-4)


def test_bad_arguments():
    with pytest.raises(ValueError, match='divisible by 4'):
        RoPE2D(6)
    with pytest.raises(ValueError, match='divisible by 4'):
        RoPE2D(18)
    with pytest.raises(ValueError, match='layout'):
        RoPE2D(16, layout='xy')


def test_mixed_frequencies_are_per_block():
    torch.manual_seed(0)
    rope = RoPE2D(HEAD_DIM, base=10, mixed=True, num_heads=2, depth=3)
    assert rope.freqs_x.shape == (3, 2, HEAD_DIM // 2)
    pos = torch.randint(0, 9, (1, 5, 2))
    tables = [rope(pos, i)[0] for i in range(3)]
    assert not torch.allclose(tables[0], tables[1])
    # each block keeps RoPE's relative property with its own frequencies
    q, k = torch.randn(1, 2, 5, HEAD_DIM), torch.randn(1, 2, 5, HEAD_DIM)
    for i in range(3):
        a = _logits(rope, q, k, pos, layer=i)
        b = _logits(rope, q, k, pos + 11, layer=i)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with pytest.raises(IndexError, match='3 block'):
        rope(pos, 3)


# ------------------------------------------- fused rotation (issue 15)
def _previous_tables(rope, pos, layer=0):
    """The tables before the fused rotation: plain sin (no sign folding)."""
    cos, sin = rope(pos, layer)
    return cos, sin * rope.signs.to(sin.dtype)  # signs are +-1: exact


def _previous_apply(x, cos, sin, layout):
    """The rotation before issue 15: neg/neg/cat/mul/mul/add, per tensor."""
    return x * cos + rotate_pairs(x, layout) * sin


def _complex_rotation(x, pos, rope):
    """Independent: rotate each (first, second) member pair as a complex
    number by e^{i angle}, angles from the axial frequencies."""
    roles = channel_roles(x.shape[-1], rope.layout)
    nf = x.shape[-1] // 4
    first = [c for c, r in enumerate(roles) if r[2] == 0]
    partner = {r: c for c, r in enumerate(roles)}
    second = [partner[(roles[c][0], roles[c][1], 1)] for c in first]
    ang = torch.stack([pos[..., roles[c][0]].double() *
                       rope.freqs.double()[roles[c][1]] for c in first], -1)
    z = torch.complex(x[..., first], x[..., second]) * torch.polar(
        torch.ones_like(ang), ang)[:, None]
    out = torch.empty_like(x)
    out[..., first], out[..., second] = z.real, z.imag
    assert len(first) == 2 * nf
    return out


@pytest.mark.parametrize('layout', ['croco', 'interleaved'])
def test_rotation_equals_complex_multiplication(layout):
    rope = RoPE2D(HEAD_DIM, layout=layout).double()
    q, _, pos = _qkp()
    cos, sin = rope(pos)
    torch.testing.assert_close(apply_rope(q, cos, sin, layout),
                               _complex_rotation(q, pos, rope), rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize('layout', ['croco', 'interleaved'])
def test_swap_and_signs_give_the_quarter_turn(layout):
    x = torch.randn(2, 3, 5, HEAD_DIM, dtype=torch.float64)
    signs = pair_signs(HEAD_DIM, layout).double()
    assert signs.abs().eq(1).all() and signs.sum() == 0
    torch.testing.assert_close(swap_pairs(x, layout) * signs,
                               rotate_pairs(x, layout), rtol=0, atol=0)


@pytest.mark.parametrize('layout,mixed', VARIANTS)
@pytest.mark.parametrize('num_prefix', [0, 1])
def test_fused_attention_equals_previous_rotation_fp32(layout, mixed,
                                                       num_prefix):
    """RoPEAttention (q and k rotated together, sign-folded tables) equals
    the previous per-tensor rotation in float32: outputs and gradients of
    the input, the qkv weights and RoPE-Mixed's frequencies."""
    torch.manual_seed(0)
    dim, heads, n = 32, 2, 9
    rope = RoPE2D(dim // heads, layout=layout, mixed=mixed, num_heads=heads)
    attn = RoPEAttention(dim, heads, rope_layout=layout)
    x = torch.randn(2, n + num_prefix, dim, requires_grad=True)
    pos = torch.randint(0, 30, (2, n, 2))
    g = torch.randn(2, n + num_prefix, dim)

    def previous():
        B, N, C = x.shape
        qkv = attn.qkv(x).reshape(B, N, 3, heads, dim // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        cos, sin = _previous_tables(rope, pos)
        q, k = (torch.cat((t[:, :, :num_prefix], _previous_apply(
            t[:, :, num_prefix:], cos, sin, layout)), 2) for t in (q, k))
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return attn.proj(o.transpose(1, 2).reshape(B, N, C))

    params = [x, attn.qkv.weight] + ([rope.freqs_x] if mixed else [])
    outs, grads = [], []
    for f in (previous, lambda: attn(x, rope(pos), num_prefix)):
        out = f()
        outs.append(out)
        grads.append(torch.autograd.grad(out, params, g))
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-6, atol=1e-6)
    for a, b in zip(grads[1], grads[0]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('layout,mixed', VARIANTS)
def test_bf16_autocast_rotates_in_bf16(layout, mixed):
    """Under bf16 autocast the tables are bf16 and so is the rotated q/k (no
    float32 promotion); the result is the float32 rotation to bf16
    precision."""
    torch.manual_seed(0)
    rope = RoPE2D(HEAD_DIM, layout=layout, mixed=mixed, num_heads=2)
    q = torch.randn(2, 2, 2, 12, HEAD_DIM)  # q and k stacked
    pos = torch.randint(0, 60, (2, 12, 2))
    ref = apply_rope(q, *rope(pos), layout)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cos, sin = rope(pos)
        qb = q.bfloat16()
        ops = count_ops(apply_rope, qb, cos, sin, layout)
        out = apply_rope(qb, cos, sin, layout)
    assert cos.dtype == sin.dtype == out.dtype == torch.bfloat16
    assert 'aten::_to_copy' not in ops  # no casts inside the rotation
    assert sum(ops.values()) == 3, ops  # flip, mul, addcmul
    torch.testing.assert_close(out.float(), ref, rtol=0, atol=3e-2)
    # outside autocast the tables stay float32
    assert rope(pos)[0].dtype == torch.float32


def test_rotation_op_count_forward_and_backward():
    """q and k of a block: 3 ops forward and <= 5 backward (it was 12 + 12
    with per-tensor neg/neg/cat/mul/mul/add)."""
    torch.manual_seed(0)
    rope = RoPE2D(HEAD_DIM)
    qk = torch.randn(2, 1, 2, 10, HEAD_DIM, requires_grad=True)
    cos, sin = rope(torch.randint(0, 9, (1, 10, 2)))
    out = apply_rope(qk, cos, sin, 'croco')
    fwd = count_ops(apply_rope, qk, cos, sin, 'croco')
    bwd = count_ops(out.backward, torch.ones_like(out))
    assert sum(fwd.values()) == 3, fwd
    assert sum(bwd.values()) <= 5, bwd
