# Win-Win on Cityscapes, same structure as the BDD100K setting: full 1024x2048
# images, 2 random windows of 33x33 patches (2178 of 8192 tokens, 27%),
# whole-image single-pass test, 80k iterations for 8 GPUs x 2 images.
_base_ = [
    './_base_/models/winwin_vit-b16_upernet.py',
    './_base_/datasets/cityscapes_1024x2048.py',
    './_base_/winwin_runtime.py',
    './_base_/schedules/adamw_layer_decay_poly.py',
]
train_pipeline = _base_.geometric_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=33,
         patch_size=16),
    dict(type='PackSegInputs', meta_keys=_base_.meta_keys),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
max_iters = 80000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=max_iters, eta_min=0.0,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
# GPU speed (issue 15): neck and heads in channels-last memory format, their
# resizes in bf16 under autocast (winwin_mm/models/fast_dense.py)
model = dict(channels_last=True, resize_in_compute_dtype=True)
