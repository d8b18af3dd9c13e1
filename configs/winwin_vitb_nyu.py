# Win-Win monocular depth on NYU Depth v2: full-resolution 640x480 training
# images (40x30 = 1200 tokens at patch 16) keep only 2 random non-overlapping
# windows of 13x13 patches (338 tokens, 28%; the paper's budget is ~27%);
# the head runs per window and SiLog covers the valid depth inside them.
# Test runs the whole 640x480 image in one pass (DepthMetric, NYU crop).
_base_ = ['./fullres_vitb_nyu.py']
train_pipeline = _base_.geometric_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=13,
         patch_size=16),
    dict(type='winwin_mm.PackWinWinInputs', meta_keys=_base_.meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(train_windows=True)
