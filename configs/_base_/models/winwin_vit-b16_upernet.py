# RoPE ViT-B/16 + MultiLevelNeck + UPerHead (+ FCN auxiliary head), trained
# with Win-Win: the segmentor reads the windows sampled by RandomWindows.
norm_cfg = dict(type='SyncBN', requires_grad=True)
patch_size = 16
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=patch_size,
    test_cfg=dict(size_divisor=patch_size))
model = dict(
    type='winwin_mm.WinWinEncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='winwin_mm.RoPEViT',
        arch='b',
        patch_size=patch_size,
        out_indices=(2, 5, 8, 11),
        drop_path_rate=0.1,
        rope_base=100.,
        rope_layout='croco',
        # e.g. init_cfg=dict(type='Pretrained', checkpoint='CroCo_V2_ViTBase_
        # SmallDecoder.pth') -- CroCo v2, timm RoPE-ViT and mmpretrain/MAE
        # checkpoints are mapped automatically (pretrained_format='auto').
        init_cfg=None),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[768, 768, 768, 768],
        out_channels=768,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='winwin_mm.WindowLoss',
            loss=dict(type='CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=1.0))),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=768,
        in_index=3,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='winwin_mm.WindowLoss',
            loss=dict(type='CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=0.4))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
