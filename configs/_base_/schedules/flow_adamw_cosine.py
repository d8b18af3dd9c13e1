# The flow schedule family (a design choice: the paper does not state it):
# AdamW, betas (0.9, 0.95), weight decay 0.05, gradient clipping at norm 1,
# linear warm-up then cosine decay to 0. The numbers here are the Sintel
# stage (200k iterations of 16 pairs, lr 1e-4, 2000 warm-up iterations);
# a config of another length sets max_iters, param_scheduler and train_cfg
# again (the scheduler's bounds are computed here, from this max_iters).
# Checkpoint intervals are the runtime's (default_hooks), set per config.
# Fused AdamW (one kernel for all parameters, CUDA and CPU; issue 15).
max_iters = 200000
warmup_iters = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.95),
                   weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         eta_min=0., by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=10000)
