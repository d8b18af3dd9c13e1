# The crop baseline tested with MMSegmentation's sliding window (tiles of the
# 496x496 training crop, 1/3 overlap) instead of one whole-image pass.
_base_ = ['./crop_vitb_bdd100k.py']
model = dict(test_cfg=dict(mode='slide', crop_size=(496, 496),
                           stride=(331, 331)))
