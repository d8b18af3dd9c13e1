# Baseline for Win-Win depth: RoPE ViT-B/16 + FPN depth head trained on all
# 40x30 = 1200 tokens of the full 640x480 NYU Depth v2 images (no crop), and
# tested whole, in one pass, with DepthMetric (NYU eval crop, 1 mm - 10 m).
# Data: MMSegmentation's NYU layout (tools/dataset_converters/nyu.py) under
# data/nyu: images/{train,test}/*.jpg, annotations/{train,test}/*.png (uint16
# depth in mm). winwin_vitb_nyu.py is the same model trained on 2 windows.
_base_ = [
    'mmseg::_base_/datasets/nyu.py',
    './_base_/models/winwin_vit-b16_upernet.py',
    './_base_/winwin_runtime.py',
    './_base_/schedules/adamw_layer_decay_poly.py',
]
max_depth = 10.
data_preprocessor = dict(seg_pad_val=0)  # padded depth = 0 = invalid
# the segmentation model's RoPE ViT-B/16 + MultiLevelNeck, with a depth head
model = dict(
    type='winwin_mm.WinWinDepthEstimator',
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        _delete_=True,
        type='winwin_mm.DepthRegressionHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        channels=256,
        max_depth=max_depth,
        norm_cfg=_base_.norm_cfg,
        align_corners=False,
        loss_decode=dict(type='winwin_mm.WindowSiLogLoss', loss_weight=1.0)),
    auxiliary_head=None,
    train_windows=False)  # full-resolution training (no RandomWindows)

meta_keys = ('img_path', 'depth_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'category_id')
# mmseg's NYU augmentation without its 480x480 crop (full-resolution
# training) and with PhotoMetricDistortion in place of Albu (albumentations
# is not a dependency).
geometric_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='RandomDepthMix', prob=0.25),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
]
train_pipeline = geometric_pipeline + [
    dict(type='winwin_mm.PackWinWinInputs', meta_keys=meta_keys)]
test_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='Resize', scale=(2000, 480), keep_ratio=True),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='PackSegInputs', meta_keys=meta_keys)
]
# 8 GPUs x 4 images = 32 per step, as mmseg's VPD NYU recipe (4 x 8)
train_dataloader = dict(
    batch_size=4, num_workers=4,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=2, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 25000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=max_iters, eta_min=0.0,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=2500)
default_hooks = dict(
    checkpoint=dict(interval=2500, save_best='rmse', rule='less'))
