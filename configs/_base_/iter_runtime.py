# What every winwin_mm config shares, segmentation and flow alike:
# iteration-based logging and checkpoints, and winwin_mm's reliability hooks
# (random states saved in checkpoints for an exact --resume; stop at the
# first non-finite loss; checkpoints written atomically and refused when they
# do not fit the model; a progress line every 30 s). Task runtimes add their visualization on top;
# configs override the intervals, e.g.
#   default_hooks = dict(checkpoint=dict(interval=500))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='winwin_mm.AtomicCheckpointHook', by_epoch=False,
                    interval=16000, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    dict(type='winwin_mm.RNGStateHook'),
    dict(type='winwin_mm.NonFiniteLossHook'),
    dict(type='winwin_mm.CheckpointMatchHook'),
    # a progress line at least every 30 s of training, val or test
    dict(type='winwin_mm.TimedProgressHook', seconds=30),
]
# a checkpoint that does not fit the model stops load_from / --resume /
# tools/test.py; False loads the matching keys only (MMEngine's default)
load_strict = True
