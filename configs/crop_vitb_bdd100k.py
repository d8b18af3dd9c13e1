# Baseline: crop training with the Win-Win token budget: one 31x31-patch
# (496x496 px, 961 tokens) window. With relative (RoPE) positions a single
# window is exactly a random crop. Tested whole, in one pass; see
# crop_vitb_bdd100k_slide.py for sliding-window inference.
_base_ = ['./fullres_vitb_bdd100k.py']
train_pipeline = _base_.geometric_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=1, window_size=31,
         patch_size=16),
    dict(type='winwin_mm.PackWinWinInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(train_windows=True)
