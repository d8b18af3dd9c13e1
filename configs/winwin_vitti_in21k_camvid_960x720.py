# The masking study in the paper's regime (issue 16): a pretrained ViT-Ti/16
# (ImageNet-21k, timm key names; its absolute position embedding and head are
# dropped, RoPE takes their place) fine-tuned with Win-Win on CamVid at its
# original 960x720 (the 480x360 SegNet frames resized x2): 60x45 = 2700
# tokens at patch 16, close to BDD100K's 3600. Two windows of 20x20 patches
# keep 800 tokens (30%; 18 = 24% and 20 are the even sides nearest the
# paper's 27%). Test: the whole 960x720 image in one pass, scored against
# the 480x360 labels.
#
# The checkpoint (never committed, see ../shared/pretrained/README.md):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    './_base_/models/winwin_vit-b16_upernet.py',
    './_base_/datasets/camvid.py',
    './_base_/winwin_runtime.py',
    './_base_/schedules/adamw_layer_decay_poly.py',
]
pretrained = '../shared/pretrained/vit_tiny_patch16_224_in21k_ft_in1k.pth'
patch_size = 16
dims = 192
scale = 2.0  # 480x360 frames -> 960x720
window_size = 20
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # the checkpoint was trained on (x - 127.5) / 127.5 inputs
    data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(
        _delete_=True, type='winwin_mm.RoPEViT', arch='ti', patch_size=patch_size, out_indices=(2, 5, 8, 11),
        drop_path_rate=0.1, with_cls_token=True, pretrained_format='timm',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # a light neck and head (64 channels), the same on CPU and GPU: at the
    # ViT's width their 1/4-resolution 3x3 convolutions would cost more
    # than the transformer itself
    neck=dict(in_channels=[dims] * 4, out_channels=64),
    decode_head=dict(in_channels=[64] * 4, channels=64, num_classes=11,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=32, num_classes=11,
                        norm_cfg=norm_cfg))
resize = [dict(type='Resize', scale_factor=scale, keep_ratio=True)]
geometric_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
] + resize + [
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
]
train_pipeline = geometric_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2,
         window_size=window_size, patch_size=patch_size),
    dict(type='winwin_mm.PackWinWinInputs'),
]
# labels are loaded after the resize: predictions are resized back to the
# original 480x360 and scored against the original labels
test_pipeline = [dict(type='winwin_mm.LoadImageFromFile')] + resize + [
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# fine-tuning: AdamW with layer-wise lr decay over the 12 blocks (the heads
# are new and take the full lr), 10% linear warm-up, then poly decay
max_iters = 2000
optim_wrapper = dict(optimizer=dict(lr=2e-4),
                     paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.65))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=200),
    dict(type='PolyLR', power=1.0, begin=200, end=max_iters, eta_min=0.0,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=500)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=500, max_keep_ckpts=2))
randomness = dict(seed=0)
