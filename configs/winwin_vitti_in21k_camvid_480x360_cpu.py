# The CPU variant of winwin_vitti_in21k_camvid_960x720.py: the same model and
# recipe at CamVid's stored 480x360 (30x23 tokens at patch 16, the last row
# padded; windows are placed on the 30x22 full rows). Two windows of 10x10
# patches keep 200 of 660 tokens (30%, as at 960x720).
_base_ = ['./winwin_vitti_in21k_camvid_960x720.py']
window_size = 10
train_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='winwin_mm.RandomWindows', num_windows=2,
         window_size=window_size, patch_size=16),
    dict(type='winwin_mm.PackWinWinInputs'),
]
test_pipeline = [
    dict(type='winwin_mm.LoadImageFromFile'),
    dict(type='winwin_mm.LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
