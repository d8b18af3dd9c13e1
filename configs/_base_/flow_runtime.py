# Runtime of the flow configs (MMFlow 1.x conventions on mmengine): iteration
# logging, checkpoints, winwin_mm's reliability hooks (exact resume, stop at
# the first non-finite loss), and flow drawing for `tools/test.py
# --show-dir DIR` (frame | ground truth | prediction | log error per pair,
# under DIR/vis_data/vis_image). Configs set the checkpoint interval.
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000,
                    max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='winwin_mm.FlowVisualizationHook'))
custom_hooks = [
    dict(type='winwin_mm.RNGStateHook'),
    dict(type='winwin_mm.NonFiniteLossHook'),
]
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='winwin_mm.FlowLocalVisualizer',
                  vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
