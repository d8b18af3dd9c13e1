# Win-Win optical flow, CroCo-Flow-like architecture (ViT-B encoder + ViT-B
# decoder + DPT head):
# - a RoPE ViT-B/16 encoder (RoPE base 100, no absolute position embedding),
#   shared by both frames and run on both in one batched call;
# - a 12-block decoder of width 768: self-attention over frame-1 tokens and
#   cross-attention to frame-2 tokens (RoPE on q with frame-1 positions, on
#   k with frame-2 positions);
# - a DPT head on the last encoder layer and decoder blocks 6, 9 and 12,
#   predicting flow (2 channels) and a confidence (1);
# - the bounded Laplacian loss (a=0.25, b=4) through the window-aware loss
#   wrapper, restricted to valid ground-truth pixels.
# Training uses the windows sampled by winwin_mm.RandomWindows (metainfo
# 'window_boxes'); testing runs the whole image in one pass (test_cfg).
custom_imports = dict(imports=['winwin_mm'], allow_failed_imports=False)
patch_size = 16
data_preprocessor = dict(
    type='winwin_mm.FlowDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    size_divisor=patch_size,
    pad_val=0.)
model = dict(
    type='winwin_mm.WinWinFlow',
    data_preprocessor=data_preprocessor,
    encoder=dict(
        type='winwin_mm.RoPEViT',
        arch='b',
        patch_size=patch_size,
        out_indices=(11, ),
        drop_path_rate=0.,
        rope_base=100.,
        rope_layout='croco',
        # CroCo-Flow starts encoder and decoder from CroCo v2: give both
        # init_cfg the same file (keys are mapped; bring the file from
        # https://github.com/naver/croco, CC BY-NC-SA), e.g.
        # init_cfg=dict(type='Pretrained', checkpoint='pretrained/'
        #               'CroCo_V2_ViTBase_BaseDecoder.pth')
        init_cfg=None),
    # CroCo-Flow's decoder (CroCo v2 "BaseDecoder": 768 wide, 12 blocks, 12
    # heads), init_cfg as for the encoder. From random init (no CroCo file)
    # set offset_readout=True, match_init=True: without them a from-scratch
    # model stays at zero flow (tests/test_flow_training.py; untried at
    # this scale).
    decoder=dict(
        embed_dims=768, num_layers=12, num_heads=12, out_indices=(5, 8, 11),
        mlp_ratio=4., drop_path_rate=0., offset_readout=False,
        match_init=False, init_cfg=None),
    head=dict(hidden_channels=(96, 192, 384, 768), features=256,
              head_channels=32),
    loss=dict(
        type='winwin_mm.WindowLoss',
        loss=dict(type='winwin_mm.LaplacianFlowLoss', a=0.25, b=4.)),
    # 0: the same boxes in both frames (default); k > 0: frame-2 windows grow
    # by k patches per side (clipped to the grid) as cross-attention keys.
    frame2_window_margin=0,
    flow_scale=1.,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
