# Baseline: full-resolution training on all 3600 tokens of 1280x720 BDD100K
# (the quality ceiling Win-Win should match at about a quarter of the cost).
_base_ = [
    './_base_/models/winwin_vit-b16_upernet.py',
    './_base_/datasets/bdd100k_1280x720.py',
    './_base_/winwin_runtime.py',
    './_base_/schedules/adamw_layer_decay_poly.py',
]
# 8 GPUs x 2 images, 40k iterations (BDD100K 10k has 7000 training images)
max_iters = 40000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=max_iters, eta_min=0.0,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
# GPU speed (issue 15): neck and heads in channels-last memory format, their
# resizes in bf16 under autocast (winwin_mm/models/fast_dense.py)
model = dict(channels_last=True, resize_in_compute_dtype=True)
