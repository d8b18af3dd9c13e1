# The usual "Sintel stage" flow training mixture, evaluated on MPI-Sintel
# (training split, clean pass; final pass with
# --cfg-options test_dataloader.dataset.pass_style=final).
#
# Training mixture (RAFT-style repeat factors to balance the datasets):
# FlyingChairs (train split) x1, FlyingThings3D clean + final x1, Sintel
# clean + final x100, KITTI 2015 x200, HD1K x5, all with one pipeline:
# RAFT-style augmentation (random scale + stretch, flips that negate the
# flow, asymmetric colour jitter) then a random crop of 368x496 pixels
# (23x31 = 713 patches; every dataset of the mixture is at least that large).
# `train_pipeline` is completed by the config that inherits this file
# (RandomWindows or not).
crop_size = (368, 496)
augment_pipeline = [
    dict(type='winwin_mm.LoadFlowPair', highres_gt='subsample'),
    dict(type='winwin_mm.FlowColorJitter', brightness=0.4, contrast=0.4,
         saturation=0.4, hue=0.5 / 3.14, asymmetric_prob=0.2),
    dict(type='winwin_mm.FlowRandomScale', log2_scale_range=(-0.2, 0.6),
         prob=0.8, stretch_prob=0.8, max_stretch=0.2, crop_size=crop_size),
    dict(type='winwin_mm.FlowRandomFlip', prob=(0.5, 0.1),
         direction=('horizontal', 'vertical')),
    dict(type='winwin_mm.FlowRandomCrop', crop_size=crop_size),
]
train_pipeline = augment_pipeline + [dict(type='winwin_mm.PackFlowInputs')]
test_pipeline = [
    dict(type='winwin_mm.LoadFlowPair'),
    dict(type='winwin_mm.PackFlowInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='winwin_mm.FlowMixtureDataset',
        datasets=[
            dict(type='winwin_mm.FlyingChairsDataset',
                 data_root='data/FlyingChairs_release',
                 split_file='FlyingChairs_train_val.txt', split='train'),
            dict(type='winwin_mm.FlyingThings3DDataset',
                 data_root='data/FlyingThings3D', split='train',
                 pass_style='clean'),
            dict(type='winwin_mm.FlyingThings3DDataset',
                 data_root='data/FlyingThings3D', split='train',
                 pass_style='final'),
            dict(type='winwin_mm.SintelDataset', data_root='data/Sintel',
                 split='training', pass_style='clean'),
            dict(type='winwin_mm.SintelDataset', data_root='data/Sintel',
                 split='training', pass_style='final'),
            dict(type='winwin_mm.KITTI2015Dataset',
                 data_root='data/KITTI2015/training', flow_dir='flow_occ'),
            dict(type='winwin_mm.HD1KDataset', data_root='data/HD1K'),
        ],
        repeats=[1, 1, 1, 100, 100, 200, 5],
        pipeline=train_pipeline))
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
