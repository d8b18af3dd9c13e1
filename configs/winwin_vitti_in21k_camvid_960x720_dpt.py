# winwin_vitti_in21k_camvid_960x720.py with the DPT segmentation head (no
# global pooling, the paper's kind of convolutional head) on the backbone's
# four layers instead of MultiLevelNeck + UPerHead; the same width (64) and
# the auxiliary FCN head on the last layer.
_base_ = ['./winwin_vitti_in21k_camvid_960x720.py']
dims = 192
model = dict(
    neck=None,
    decode_head=dict(
        _delete_=True, type='winwin_mm.DPTSegHead', in_channels=[dims] * 4,
        in_index=(0, 1, 2, 3), channels=64,
        hidden_channels=(dims // 8, dims // 4, dims // 2, dims),
        num_classes=11, norm_cfg=_base_.norm_cfg, dropout_ratio=0.1,
        align_corners=False, loss_decode=_base_.model.decode_head.loss_decode),
    auxiliary_head=dict(in_channels=dims))
