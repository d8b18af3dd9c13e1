# Win-Win fine-tuning on Spring (Mehl et al., CVPR 2023) at full HD.
#
# Every training pair is the full 1920x1080 frame pair (no down-scaling):
# only 2 windows of 10x10 patches (200 of the 67x120 = 8040 tokens, 2.5%)
# per frame go through the model, at the same place in both frames
# (model.frame2_window_margin=0; set it to k to give frame 2 windows grown by
# k patches per side as cross-attention keys). Test: the whole image in one
# pass; the metric compares with Spring's 2x ground truth as the benchmark
# does (FlowMetric(mode='spring')); data in
# configs/_base_/datasets/flow_spring_1080x1920.py. See
# configs/winwin_vitb_spring_tiled.py for the tiled baseline.
#
# Schedule (a design choice: the paper does not state it): start from the
# Sintel-stage model (load_from), AdamW lr 3e-5, betas (0.9, 0.95), weight
# decay 0.05, gradient clipping at norm 1, 1000 iterations of linear warm-up
# then cosine decay to 0 over 50k iterations of 8 pairs (e.g. 8 GPUs x 1).
_base_ = [
    './_base_/models/winwin_flow_vitb.py',
    './_base_/datasets/flow_spring_1080x1920.py',
    './_base_/flow_runtime.py',
    './_base_/schedules/flow_adamw_cosine.py',
]
# after every geometric transform: windows on the final frame's grid
train_pipeline = _base_.augment_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=10,
         patch_size=16),
    dict(type='winwin_mm.PackFlowInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_iters = 50000
optim_wrapper = dict(optimizer=dict(lr=3e-5))
warmup_iters = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         eta_min=0., by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))
load_from = None  # the Sintel-stage checkpoint (configs/winwin_vitb_sintel.py)
# batch of 8 pairs = 8 GPUs x 1 (scale lr linearly for another total batch)
auto_scale_lr = dict(enable=False, base_batch_size=8)
