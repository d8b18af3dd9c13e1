"""TokenSelection: the one kept-token path of seg, depth and flow; built on
the host, traced by torch.compile without graph breaks."""
import numpy as np
import pytest
import torch

import winwin_mm  # noqa: F401  (registers components)
from winwin_mm.models.backbones.rope_vit import RoPEViT
from winwin_mm.registry import MODELS
from winwin_mm.token_selection import TokenSelection
from winwin_mm.windows import WindowSizeError, crop_windows

BOXES = [[[0, 0, 3, 3], [4, 5, 7, 8]], [[1, 1, 4, 4], [5, 6, 8, 9]]]


def tiny_vit(**kw):
    torch.manual_seed(0)
    m = RoPEViT(arch=dict(embed_dims=32, num_layers=2, num_heads=2),
                patch_size=4, out_indices=(0, 1), **kw)
    m.init_weights()
    return m.train()


@pytest.mark.parametrize('kind', ['windows', 'margin', 'tokens'])
def test_window_path_has_no_graph_breaks(kind):
    """Issue 15 needs a sync-free window path: dynamo traces the selected
    forward (and its loss) as ONE graph, and the compiled step (fullgraph,
    eager backend) matches eager values and gradients."""
    model = tiny_vit(with_cls_token=True)
    x = torch.randn(2, 3, 32, 40)
    hw = x.shape[-2:]
    if kind == 'windows':
        sel = model.select_tokens(hw, windows=BOXES, device=x.device)
    elif kind == 'margin':
        sel = model.select_tokens(hw, windows=BOXES, device=x.device,
                                  margin=1)
        assert sel.key_mask is not None and not sel.key_mask.all()
    else:
        sel = model.select_tokens(hw, token_index=[[0, 5, 9], [1, 2, 79]])

    def step(x, sel):
        return sum(o.square().mean() for o in model(x, selection=sel))

    explained = torch._dynamo.explain(step)(x, sel)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1
    torch._dynamo.reset()
    compiled = torch.compile(step, backend='eager', fullgraph=True)
    eager = step(x, sel)
    eager.backward()
    ref = model.blocks[0].attn.qkv.weight.grad.clone()
    model.zero_grad()
    got = compiled(x, sel)
    got.backward()
    torch.testing.assert_close(got, eager)
    torch.testing.assert_close(model.blocks[0].attn.qkv.weight.grad, ref)
    torch._dynamo.reset()


def test_flow_encoder_and_decoder_have_no_graph_breaks():
    model = MODELS.build(dict(
        type='winwin_mm.WinWinFlow',
        encoder=dict(type='winwin_mm.RoPEViT',
                     arch=dict(embed_dims=32, num_layers=2, num_heads=2),
                     patch_size=4, out_indices=(1, )),
        decoder=dict(embed_dims=32, num_layers=3, num_heads=2),
        head=dict(hidden_channels=(8, 8, 16, 16), features=8,
                  head_channels=8),
        frame2_window_margin=1))
    x = torch.randn(2, 6, 32, 40)
    sels = model.select_tokens(x.shape[-2:], BOXES, x.device)

    def step(x, sels):
        return sum(t.square().mean() for t in model.extract_feat(x, sels))

    explained = torch._dynamo.explain(step)(x, sels)
    assert explained.graph_break_count == 0, explained.break_reasons
    torch._dynamo.reset()


def test_patch_one_tokens_are_pixels():
    """With patch size 1 a token is a pixel: the selection's window grids
    equal the pixel crops of :func:`crop_windows` (index arithmetic vs.
    slicing), in the same b * N + n order."""
    img = torch.randn(2, 5, 10, 12)
    sel = TokenSelection.from_boxes(BOXES, (10, 12))
    tokens = img.flatten(2).transpose(1, 2)  # (B, h*w, C)
    grids = sel.to_windows(sel.gather(tokens))
    crops = torch.stack(crop_windows(img, BOXES, 1))
    torch.testing.assert_close(grids, crops, rtol=0, atol=0)
    # positions are the (y, x) of the kept pixels
    yx = sel.positions.reshape(2, 2, 3, 3, 2)
    assert yx[1, 1, 0, 0].tolist() == [5, 6]
    assert yx[1, 1, 2, 1].tolist() == [7, 7]
    # to_grid puts kept tokens back in place, zeros elsewhere
    back = sel.to_grid(sel.gather(tokens))
    keep = torch.zeros(2, 10, 12, dtype=torch.bool)
    for b, boxes in enumerate(BOXES):
        for y0, x0, y1, x1 in boxes:
            keep[b, y0:y1, x0:x1] = True
    torch.testing.assert_close(back, img * keep[:, None])


def test_margin_selection_is_the_union_of_grown_boxes():
    sel = TokenSelection.from_boxes(BOXES, (10, 12), margin=2)
    for b, boxes in enumerate(BOXES):
        want = np.zeros((10, 12), bool)
        for y0, x0, y1, x1 in boxes:
            want[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = True
        real = sel.index[b][sel.key_mask[b]].numpy()
        assert real.tolist() == np.flatnonzero(want).tolist()
    # padded batch of frame 1 and frame 2: padding is masked as keys and
    # dropped by to_grid even where its index (0) is a real token
    sel1 = TokenSelection.from_boxes(BOXES, (10, 12))
    both = TokenSelection.pad_cat((sel1, sel))
    assert both.num_tokens == sel.num_tokens
    assert both.key_mask[:2, :sel1.num_tokens].all()
    assert not both.key_mask[:2, sel1.num_tokens:].any()
    assert both.attn_mask(1).shape == (4, 1, 1, 1 + sel.num_tokens)
    feat = torch.ones(4, both.num_tokens, 1)
    grid = both.to_grid(feat)
    assert grid[0, 0, 0, 0] == 1  # token 0 kept once, padding adds nothing
    assert grid[0].sum() == 18


def test_bad_selections_have_clear_errors():
    with pytest.raises(ValueError, match='outside the 10x12 patch grid'):
        TokenSelection.from_boxes([[[8, 0, 11, 3]]], (10, 12))
    with pytest.raises(WindowSizeError, match='squares of one size'):
        TokenSelection.from_boxes([[[0, 0, 3, 3], [4, 4, 6, 6]]], (10, 12))
    with pytest.raises(ValueError, match=r'\(B, N, 4\)'):
        TokenSelection.from_boxes([[0, 0, 3, 3]], (10, 12))
    with pytest.raises(ValueError, match=r'in \[0, 120\)'):
        TokenSelection.from_index([[0, 120]], (10, 12))
    with pytest.raises(TypeError, match='integers'):
        TokenSelection.from_index([[0.5]], (10, 12))
    with pytest.raises(ValueError, match='made of windows'):
        TokenSelection.from_index([[0, 1]], (10, 12)).to_windows(
            torch.zeros(1, 2, 3))
