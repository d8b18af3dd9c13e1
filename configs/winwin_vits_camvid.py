# Win-Win on CamVid at its full 480x360 with a small RoPE ViT and patch 8:
# 60x45 = 2700 tokens, like BDD100K at patch 16. Two windows keep about a
# quarter of the tokens (token_fraction=0.27 -> side 19.06, rounded down to
# the even 18: 2 windows of 18x18 = 648 tokens, 24%). Small
# enough for CPU studies (tools/ablate.py); the same file runs on a GPU.
_base_ = [
    './_base_/models/winwin_vit-b16_upernet.py',
    './_base_/datasets/camvid.py',
    './_base_/winwin_runtime.py',
]
patch_size = 8
dims = 192
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size_divisor=patch_size,
                           test_cfg=dict(size_divisor=patch_size)),
    backbone=dict(
        _delete_=True, type='winwin_mm.RoPEViT',
        arch=dict(embed_dims=dims, num_layers=6, num_heads=3),
        patch_size=patch_size, out_indices=(1, 2, 4, 5), drop_path_rate=0.0),
    # a light neck and UPerHead (64 channels) keep the CPU study
    # affordable: at the ViT's width their 1/4-resolution 3x3 convolutions
    # cost more than the transformer itself
    neck=dict(in_channels=[dims] * 4, out_channels=64),
    decode_head=dict(in_channels=[64] * 4, channels=64, num_classes=11,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=32, num_classes=11,
                        norm_cfg=norm_cfg))
train_pipeline = _base_.geometric_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2, token_fraction=0.27,
         patch_size=patch_size),
    dict(type='winwin_mm.PackWinWinInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
max_iters = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='PolyLR', power=1.0, begin=50, end=max_iters, eta_min=0.0,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=500)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=500, max_keep_ckpts=2))
randomness = dict(seed=0)
