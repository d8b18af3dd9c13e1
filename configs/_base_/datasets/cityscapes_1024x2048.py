# Cityscapes at its native 1024x2048 (64x128 = 8192 tokens at patch 16). No
# crop: Win-Win keeps full-resolution images and drops tokens instead.
_base_ = ['mmseg::_base_/datasets/cityscapes.py']
img_scale = (2048, 1024)
geometric_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
]
train_pipeline = geometric_pipeline + [
    dict(type='winwin_mm.PackWinWinInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
