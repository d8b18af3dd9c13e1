# AdamW with layer-wise lr decay (BEiT/MAE fine-tuning recipe), linear warm-up
# then poly decay. max_iters is set by the schedule that inherits this file.
# GPU speed (issue 15): bf16 autocast with no loss scaling (bf16 has fp32's
# exponent range, so a GradScaler would only add kernels) and fused AdamW
# (one kernel for all parameters; CUDA and CPU). Without CUDA, tools/train.py
# runs AmpOptimWrapper as a plain float32 OptimWrapper and says so.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    loss_scale=dict(enabled=False),
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05,
        fused=True),
    constructor='winwin_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.65))
max_iters = 160000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=max_iters, eta_min=0.0,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=16000)
