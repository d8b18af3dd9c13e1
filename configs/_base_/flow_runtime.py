# Runtime of the flow configs (MMFlow 1.x conventions on mmengine): the shared
# iteration runtime (iter_runtime.py) plus flow drawing for `tools/test.py
# --show-dir DIR` (frame | ground truth | prediction | log error per pair,
# under DIR/vis_data/vis_image).
_base_ = ['./iter_runtime.py']
default_hooks = dict(
    visualization=dict(type='winwin_mm.FlowVisualizationHook'))
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
