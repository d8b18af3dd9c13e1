# Spring (Mehl et al., CVPR 2023) at full HD: every training pair is the
# full 1920x1080 frame pair (no down-scaling). Test: the whole image; the
# metric compares with Spring's 2x ground truth as the benchmark does
# (FlowMetric(mode='spring')). Spring has no official validation split: we
# hold out two training scenes. `train_pipeline` is completed by the config
# that inherits this file (RandomWindows or not).
data_root = 'data/spring'
val_scenes = ('0041', '0045')
crop_size = (1080, 1920)  # the full frame: the crop only bounds the windows
augment_pipeline = [
    dict(type='winwin_mm.LoadFlowPair', highres_gt='subsample'),
    dict(type='winwin_mm.FlowColorJitter', brightness=0.4, contrast=0.4,
         saturation=0.4, hue=0.5 / 3.14, asymmetric_prob=0.2),
    dict(type='winwin_mm.FlowRandomFlip', prob=(0.5, 0.1),
         direction=('horizontal', 'vertical')),
    dict(type='winwin_mm.FlowRandomCrop', crop_size=crop_size),
]
train_pipeline = augment_pipeline + [dict(type='winwin_mm.PackFlowInputs')]
test_pipeline = [
    # keep the 3840x2160 ground truth for the Spring evaluation rule
    dict(type='winwin_mm.LoadFlowPair', highres_gt='keep'),
    dict(type='winwin_mm.PackFlowInputs'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='winwin_mm.SpringDataset', data_root=data_root, split='train',
        val_scenes=val_scenes, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='winwin_mm.SpringDataset', data_root=data_root, split='val',
        val_scenes=val_scenes, pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='winwin_mm.FlowMetric', mode='spring')
test_evaluator = val_evaluator
