# CamVid (SegNet layout) at its full 480x360: 11 classes, void ignored.
dataset_type = 'winwin_mm.CamVidDataset'
data_root = 'data/camvid'
geometric_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
]
train_pipeline = geometric_pipeline + [
    dict(type='winwin_mm.PackWinWinInputs')]
test_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='val.txt',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
