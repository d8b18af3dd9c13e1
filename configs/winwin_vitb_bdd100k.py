# Win-Win on BDD100K at 1280x720 (the paper's segmentation setting): each
# training image keeps 2 random non-overlapping windows of 22x22 patches
# (968 of 3600 tokens, 27%); test runs the whole 1280x720 image in one pass.
_base_ = ['./fullres_vitb_bdd100k.py']
train_pipeline = _base_.geometric_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=22,
         patch_size=16),
    dict(type='winwin_mm.PackWinWinInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(train_windows=True)
