# Full-resolution-trained baseline of configs/winwin_vitb_sintel.py: the same
# model, data, augmentation and schedule, but every token of the 368x496
# crop (713 per frame instead of Win-Win's 200) goes through the model: no
# RandomWindows, so the model trains on the whole crop. It is the quality
# ceiling Win-Win should match at a fraction of the training cost.
#
# Schedule (configs/_base_/schedules/flow_adamw_cosine.py; a design choice:
# the paper does not state it): AdamW lr 1e-4, betas (0.9, 0.95), weight
# decay 0.05, gradient clipping at norm 1, 2000 iterations of linear
# warm-up, cosine decay to 0 over 200k iterations of 16 pairs (8 GPUs x 2).
# Start encoder and decoder from CroCo v2 ViT-B
# (CroCo_V2_ViTBase_BaseDecoder.pth, the user brings the file): set
# model.encoder.init_cfg and model.decoder.init_cfg to
# dict(type='Pretrained', checkpoint=FILE), see
# configs/_base_/models/winwin_flow_vitb.py.
_base_ = [
    './_base_/models/winwin_flow_vitb.py',
    './_base_/datasets/flow_sintel_mixture_368x496.py',
    './_base_/flow_runtime.py',
    './_base_/schedules/flow_adamw_cosine.py',
]
default_hooks = dict(checkpoint=dict(interval=10000))
auto_scale_lr = dict(enable=False, base_batch_size=16)
