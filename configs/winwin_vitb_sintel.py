# Win-Win flow model trained on the usual "Sintel stage" mixture and
# evaluated on MPI-Sintel (training split, clean pass; final pass with
# --cfg-options test_dataloader.dataset.pass_style=final).
#
# Training mixture (a ConcatDataset, RAFT-style repeat factors to balance
# the datasets): FlyingChairs (train split) x1, FlyingThings3D clean + final
# x1, Sintel clean + final x100, KITTI 2015 x200, HD1K x5. RAFT-style
# augmentation (random scale + stretch, flips that negate the flow,
# asymmetric colour jitter) then a random crop of 368x496 pixels
# (23x31 = 713 patches; every dataset of the mixture is at least that large),
# then 2 windows of 10x10 patches per frame (200 tokens, 28% of the crop, the
# paper's best flow setting), the same boxes in both frames.
#
# Schedule (configs/_base_/schedules/flow_adamw_cosine.py; a design choice:
# the paper does not state it): AdamW lr 1e-4, betas (0.9, 0.95), weight
# decay 0.05, gradient clipping at norm 1, 2000 iterations of linear
# warm-up, cosine decay to 0 over 200k iterations of 16 pairs (8 GPUs x 2).
# Start encoder and decoder from CroCo v2 ViT-B
# (CroCo_V2_ViTBase_BaseDecoder.pth, the user brings the file): set
# model.encoder.init_cfg and model.decoder.init_cfg to
# dict(type='Pretrained', checkpoint=FILE), see
# configs/_base_/models/winwin_flow_vitb.py.
_base_ = [
    './_base_/models/winwin_flow_vitb.py', './_base_/flow_runtime.py',
    './_base_/schedules/flow_adamw_cosine.py'
]

crop_size = (368, 496)
train_pipeline = [
    dict(type='winwin_mm.LoadFlowPair', highres_gt='subsample'),
    dict(type='winwin_mm.FlowColorJitter', brightness=0.4, contrast=0.4,
         saturation=0.4, hue=0.5 / 3.14, asymmetric_prob=0.2),
    dict(type='winwin_mm.FlowRandomScale', log2_scale_range=(-0.2, 0.6),
         prob=0.8, stretch_prob=0.8, max_stretch=0.2, crop_size=crop_size),
    dict(type='winwin_mm.FlowRandomFlip', prob=(0.5, 0.1),
         direction=('horizontal', 'vertical')),
    dict(type='winwin_mm.FlowRandomCrop', crop_size=crop_size),
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=10,
         patch_size=16),
    dict(type='winwin_mm.PackFlowInputs'),
]
test_pipeline = [
    dict(type='winwin_mm.LoadFlowPair'),
    dict(type='winwin_mm.PackFlowInputs'),
]


def _repeat(dataset, times):
    return dataset if times == 1 else dict(
        type='RepeatDataset', times=times, dataset=dataset)


_mixture = [
    (dict(type='winwin_mm.FlyingChairsDataset',
          data_root='data/FlyingChairs_release',
          split_file='FlyingChairs_train_val.txt', split='train'), 1),
    (dict(type='winwin_mm.FlyingThings3DDataset',
          data_root='data/FlyingThings3D', split='train',
          pass_style='clean'), 1),
    (dict(type='winwin_mm.FlyingThings3DDataset',
          data_root='data/FlyingThings3D', split='train',
          pass_style='final'), 1),
    (dict(type='winwin_mm.SintelDataset', data_root='data/Sintel',
          split='training', pass_style='clean'), 100),
    (dict(type='winwin_mm.SintelDataset', data_root='data/Sintel',
          split='training', pass_style='final'), 100),
    (dict(type='winwin_mm.KITTI2015Dataset',
          data_root='data/KITTI2015/training', flow_dir='flow_occ'), 200),
    (dict(type='winwin_mm.HD1KDataset', data_root='data/HD1K'), 5),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            _repeat(dict(ds, pipeline=train_pipeline), times)
            for ds, times in _mixture
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='winwin_mm.SintelDataset', data_root='data/Sintel',
        split='training', pass_style='clean', pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='winwin_mm.FlowMetric')
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(interval=10000))
auto_scale_lr = dict(enable=False, base_batch_size=16)
