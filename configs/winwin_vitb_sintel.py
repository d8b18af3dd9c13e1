# Win-Win flow model trained on the usual "Sintel stage" mixture and
# evaluated on MPI-Sintel (configs/_base_/datasets/
# flow_sintel_mixture_368x496.py): the full-resolution setting of
# configs/fullres_vitb_sintel.py (model, data, augmentation, schedule) plus
# 2 windows of 10x10 patches per frame after the 368x496 crop (200 tokens,
# 28% of the crop, the paper's best flow setting), the same boxes in both
# frames.
_base_ = ['./fullres_vitb_sintel.py']
train_pipeline = _base_.augment_pipeline + [
    dict(type='winwin_mm.RandomWindows', num_windows=2, window_size=10,
         patch_size=16),
    dict(type='winwin_mm.PackFlowInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
