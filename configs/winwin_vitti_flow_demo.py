# A small Win-Win flow model that trains and evaluates on CPU: the CroCo-Flow
# layout of configs/_base_/models/winwin_flow_vitb.py at toy width (96,
# 3 heads, 3 encoder + 3 decoder blocks, patch 16), trained on generated
# FlyingChairs-style pairs (winwin_mm.datasets.synthetic_flow, 256x384, two
# 6x6-patch windows per frame = 72 of 384 tokens) and evaluated on the real
# pairs shipped in ../shared/data/flow: val = the Sintel pair; test = the
# Sintel pair + the two KITTI 2012 pairs (one pixel-weighted figure).
#
#   python tools/train.py configs/winwin_vitti_flow_demo.py
#   python tools/test.py configs/winwin_vitti_flow_demo.py CKPT \
#       [--cfg-options model.test_cfg.mode=tiled]
_base_ = [
    './_base_/models/winwin_flow_vitb.py', './_base_/flow_runtime.py',
    './_base_/schedules/flow_adamw_cosine.py'
]
dims = 96
flow_data = '../shared/data/flow'
model = dict(
    encoder=dict(arch=dict(_delete_=True, embed_dims=dims, num_layers=3,
                           num_heads=3),
                 out_indices=(2, )),
    # from scratch: cross-attention heads read out the offset they attend
    # to, keys start as copies of queries (tests/test_flow_training.py:
    # without both, a from-scratch model stays at the zero-flow solution)
    decoder=dict(embed_dims=dims, num_layers=3, num_heads=3,
                 out_indices=(0, 1, 2), offset_readout=True,
                 match_init=True),
    head=dict(hidden_channels=(24, 48, 96, 96), features=48,
              head_channels=16),
    flow_scale=4.,
    # whole: one pass; tiled: tiles of the 256x384 training size
    test_cfg=dict(mode='whole', crop_size=(256, 384), overlap=0.7,
                  tile_batch=4))
train_pipeline = [
    dict(type='winwin_mm.FlowColorJitter', asymmetric_prob=0.2),
    dict(type='winwin_mm.FlowRandomFlip', prob=(0.5, 0.1),
         direction=('horizontal', 'vertical')),
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=6,
         patch_size=16),
    dict(type='winwin_mm.PackFlowInputs'),
]
test_pipeline = [
    dict(type='winwin_mm.LoadFlowPair'),
    dict(type='winwin_mm.PackFlowInputs'),
]
sintel_pair = dict(
    type='winwin_mm.FlowPairListDataset',
    data_root=f'{flow_data}/sintel_pair',
    pairs=[('frame_0001.png', 'frame_0002.png', 'frame_0001.flo')],
    pipeline=test_pipeline, test_mode=True)
kitti_pairs = dict(
    type='winwin_mm.KITTI2012Dataset',
    data_root=f'{flow_data}/kitti2012', img_dir='image_0',
    flow_dir='flow_noc', pipeline=test_pipeline, test_mode=True)
train_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='winwin_mm.SyntheticFlowDataset', num_samples=5000,
                 img_size=(256, 384), seed=0,
                 generator=dict(bg_motion=(12., 3., 0.05),
                                obj_motion=(24., 10., 0.1)),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False), dataset=sintel_pair)
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', datasets=[sintel_pair, kitti_pairs]))
val_evaluator = dict(type='winwin_mm.FlowMetric')
test_evaluator = val_evaluator

max_iters = 2000
optim_wrapper = dict(optimizer=dict(lr=5e-4))
warmup_iters = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         eta_min=0., by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=500)
default_hooks = dict(
    checkpoint=dict(interval=500, max_keep_ckpts=2),
    logger=dict(interval=20))
