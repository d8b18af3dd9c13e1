# Win-Win on ADE20K: RoPE ViT-B/16 + MultiLevelNeck + UPerHead (+ FCN aux),
# mmseg's 160k schedule for 8 GPUs x 2 images. No crop: each resized image
# keeps 2 random windows of 14x14 patches (392 tokens, 27% of a 512x720
# image); test runs the whole resized image (short side 512) in one pass.
_base_ = [
    './_base_/models/winwin_vit-b16_upernet.py',
    'mmseg::_base_/datasets/ade20k.py',
    './_base_/winwin_runtime.py',
    './_base_/schedules/adamw_layer_decay_poly.py',
]
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label', 'window_boxes', 'window_tokens')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations', reduce_zero_label=True),
    # ratio >= 0.75 keeps the short side >= 24 patches, so two 14x14
    # windows always fit
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=14,
         patch_size=16),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
# channels-last neck/heads and bf16 resizes: GPU speed (issue 15)
model = dict(
    channels_last=True, resize_in_compute_dtype=True,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
