# BDD100K 10k segmentation at its native 1280x720 (80x45 = 3600 tokens at
# patch 16), the paper's setting. No crop: Win-Win keeps full-resolution
# images and drops tokens instead. `train_pipeline` is completed by the config
# that inherits this file (RandomWindows or not).
dataset_type = 'winwin_mm.BDD100KDataset'  # mmseg's, with clear errors
data_root = 'data/bdd100k/'
img_scale = (1280, 720)
geometric_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
]
train_pipeline = geometric_pipeline + [
    dict(type='winwin_mm.PackWinWinInputs')]
test_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='images/10k/train',
            seg_map_path='labels/sem_seg/masks/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='images/10k/val',
            seg_map_path='labels/sem_seg/masks/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
