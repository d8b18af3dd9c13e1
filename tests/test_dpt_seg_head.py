"""DPTSegHead: the DPT trunk shared with the flow head, no global pooling,
Win-Win training on windows and whole-image prediction."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import winwin_mm  # noqa: F401
from winwin_mm.models.decode_heads import DPTFusion, DPTSegHead
from winwin_mm.models.flow import DPTFlowHead

pytestmark = pytest.mark.usefixtures('mmseg_scope')
BN = dict(type='BN', requires_grad=True)


def test_flow_and_seg_heads_share_one_trunk():
    assert issubclass(DPTFlowHead, DPTFusion)
    seg = DPTSegHead([16] * 4, 8, hidden_channels=(4, 8, 8, 16),
                     num_classes=3, norm_cfg=BN)
    assert type(seg.dpt) is DPTFusion
    # the seg head's trunk computes exactly what the flow head's does
    flow = DPTFlowHead([16] * 4, hidden_channels=(4, 8, 8, 16), features=8)
    seg.dpt.load_state_dict(flow.state_dict(), strict=False)
    f = [torch.randn(1, 16, 6, 5) for _ in range(4)]
    assert torch.equal(seg.dpt.fuse(f), flow.fuse(f))
    assert seg.dpt.fuse(f).shape == (1, 8, 48, 40)


def test_no_global_pooling_unlike_uperhead():
    """Features changed in one corner leave the far corner's logits of the
    DPT head unchanged; UPerHead's pyramid pooling spreads them."""
    torch.manual_seed(0)
    dpt = DPTSegHead([16] * 4, 8, hidden_channels=(4, 8, 8, 16),
                     num_classes=3, norm_cfg=BN).eval()
    uper = MODELS.build(dict(type='UPerHead', in_channels=[16] * 4,
                             in_index=[0, 1, 2, 3], channels=8,
                             pool_scales=(1, 2), num_classes=3,
                             norm_cfg=BN)).eval()
    f = [torch.randn(1, 16, 24, 24) for _ in range(4)]
    g = [x.clone() for x in f]
    for x in g:
        x[..., 20:, 20:] += 5.
    with torch.no_grad():
        a, b = dpt(f), dpt(g)
        assert a.shape == (1, 3, 192, 192)
        assert torch.equal(a[..., :40, :40], b[..., :40, :40])
        assert not torch.equal(a[..., -8:, -8:], b[..., -8:, -8:])
        assert not torch.equal(uper(f)[..., :5, :5], uper(g)[..., :5, :5])


def test_winwin_training_and_whole_prediction():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(
        type='winwin_mm.WinWinEncoderDecoder',
        backbone=dict(type='winwin_mm.RoPEViT',
                      arch=dict(embed_dims=32, num_layers=4, num_heads=2),
                      patch_size=8, out_indices=(0, 1, 2, 3)),
        decode_head=dict(type='winwin_mm.DPTSegHead', in_channels=[32] * 4,
                         channels=16, hidden_channels=(4, 8, 16, 32),
                         num_classes=4, norm_cfg=BN,
                         loss_decode=dict(
                             type='winwin_mm.WindowLoss',
                             loss=dict(type='CrossEntropyLoss'))),
        train_cfg=dict(), test_cfg=dict(mode='whole')))
    model.init_weights()
    boxes = [[[0, 0, 4, 4], [2, 4, 6, 8]], [[0, 4, 4, 8], [4, 0, 8, 4]]]
    data = []
    for b in boxes:
        s = SegDataSample(metainfo=dict(
            img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
            window_boxes=np.asarray(b, dtype=np.int64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 4, (1, 64, 64)))
        data.append(s)
    losses = model.loss(torch.randn(2, 3, 64, 64), data)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    model.eval()
    meta = [dict(img_shape=(60, 52), ori_shape=(60, 52), pad_shape=(60, 52))]
    with torch.no_grad():
        out = model.encode_decode(torch.randn(1, 3, 60, 52), meta)
    assert out.shape == (1, 4, 60, 52)
