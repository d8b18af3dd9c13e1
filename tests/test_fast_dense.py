"""channels-last neck/heads and bf16 resizes (issue 15) equal the plain
eager path: fp32 outputs and gradients, bf16 within bf16 tolerance."""
import copy

import pytest
import torch

from test_segmentor import BOXES, H, W, build_model, samples, total
from winwin_mm.models.fast_dense import ComputeDtypeResize

pytestmark = pytest.mark.usefixtures('mmseg_scope')
OPTIONS = dict(channels_last=True, resize_in_compute_dtype=True)


def _step(model, inputs, dtype=None):
    """Window loss + backward; returns (losses, grads by name)."""
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype == 'bf16'):
        losses = model.loss(inputs, samples(BOXES))
    total(losses).backward()
    return ({k: v.detach().float() for k, v in losses.items()},
            {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None})


@pytest.fixture(scope='module')
def models():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    plain = build_model().train()
    fast = build_model(**OPTIONS).train()
    fast.load_state_dict(plain.state_dict())
    return plain, fast


def test_options_are_wired(models):
    _, fast = models
    w = fast.decode_head.fpn_bottleneck.conv.weight
    assert w.is_contiguous(memory_format=torch.channels_last)
    assert not w.is_contiguous()
    assert fast.backbone.patch_embed.proj.weight.is_contiguous()  # backbone
    feats = fast.extract_feat(torch.randn(2, 3, H, W))
    assert all(f.is_contiguous(memory_format=torch.channels_last)
               for f in feats)
    # hooks, not bound methods: a deep copy uses its own modules
    clone = copy.deepcopy(fast)
    assert clone.decode_head._forward_pre_hooks


def test_fp32_equals_plain_eager(models):
    plain, fast = models
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, H, W)
    (l_ref, g_ref), (l_got, g_got) = _step(plain, inputs), _step(fast, inputs)
    assert l_ref.keys() == l_got.keys() and len(g_ref) == len(g_got) > 20
    for k in l_ref:
        torch.testing.assert_close(l_got[k], l_ref[k], rtol=1e-5, atol=1e-5)
    for n in g_ref:
        torch.testing.assert_close(g_got[n], g_ref[n], rtol=1e-4, atol=1e-6,
                                   msg=lambda m: f'{n}: {m}')
    # whole-image inference
    plain.eval(), fast.eval()
    try:
        x = torch.randn(1, 3, H, W)
        meta = [dict(img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W))]
        torch.testing.assert_close(fast.encode_decode(x, meta),
                                   plain.encode_decode(x, meta),
                                   rtol=1e-5, atol=1e-5)
    finally:
        plain.train(), fast.train()


def test_bf16_resizes_stay_bf16_and_match_fp32(models):
    plain, fast = models
    torch.manual_seed(2)
    inputs = torch.randn(2, 3, H, W)
    # CUDA autocast runs upsample_bilinear2d in float32 (it has an
    # AutocastCUDA kernel; CPU autocast has none and keeps bf16): the mode
    # turns autocast off around bf16 resizes, leaving other inputs alone
    dump = torch._C._dispatch_dump('aten::upsample_bilinear2d')
    assert 'AutocastCUDA' in dump and 'AutocastCPU' not in dump
    x = torch.randn(2, 4, 6, 8)
    seen = []

    class Spy(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.nn.functional.interpolate:
                seen.append(torch.is_autocast_enabled('cpu'))
            return func(*args, **(kwargs or {}))

    with torch.autocast('cpu', dtype=torch.bfloat16):
        with Spy(), ComputeDtypeResize():  # the mode handles calls first
            kept = torch.nn.functional.interpolate(x.bfloat16(),
                                                   scale_factor=2.,
                                                   mode='bilinear')
            fp32 = torch.nn.functional.interpolate(x, scale_factor=2.,
                                                   mode='bilinear')
    assert seen == [False, True]  # autocast off for the bf16 input only
    assert kept.dtype == torch.bfloat16 and fp32.dtype == torch.float32
    torch.testing.assert_close(kept.float(), fp32, rtol=0, atol=2e-2)
    # the head concatenates bf16 FPN levels instead of float32 ones
    seen = []
    hook = fast.decode_head.fpn_bottleneck.register_forward_pre_hook(
        lambda m, a: seen.append(a[0].dtype))
    try:
        l_fast, g_fast = _step(fast, inputs, 'bf16')
    finally:
        hook.remove()
    assert seen == [torch.bfloat16]
    # bf16 with the options = plain bf16 autocast to bf16 rounding, and no
    # farther from eager fp32 than plain bf16 is
    l_bf, g_bf = _step(plain, inputs, 'bf16')
    l_32, g_32 = _step(plain, inputs)
    for k in l_32:
        torch.testing.assert_close(l_fast[k], l_bf[k], rtol=1e-2, atol=1e-2)
        torch.testing.assert_close(l_fast[k], l_32[k], rtol=2e-2, atol=0.5)

    def rel(a, b, n):
        return float((a[n] - b[n]).norm() / b[n].norm())

    for n in g_32:
        assert rel(g_fast, g_bf, n) < 3e-2, n
        assert rel(g_fast, g_32, n) <= 1.1 * rel(g_bf, g_32, n) + 1e-2, n
