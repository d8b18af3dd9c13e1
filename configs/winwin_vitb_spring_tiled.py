# Tiled-inference baseline (CroCo-Flow style) for the Spring model of
# configs/winwin_vitb_spring.py: the frame pair is cut into overlapping tiles
# of the Sintel-stage training crop (368x496), placed with stride
# crop * (1 - overlap) (the last tile flush with the border), each tile run
# separately, and the tile predictions averaged per pixel with weights 1/s,
# s in [0.25, 4] the Laplacian scale the model predicts (confidence
# weighting). overlap=0.9 as CroCo-Flow's densest setting: 21 x 30 = 630
# tiles on a 1080x1920 pair, versus one pass for
# configs/winwin_vitb_spring.py. Use overlap=0.7 for a cheaper variant.
_base_ = ['./winwin_vitb_spring.py']

model = dict(
    test_cfg=dict(mode='tiled', crop_size=(368, 496), overlap=0.9,
                  tile_batch=8))
