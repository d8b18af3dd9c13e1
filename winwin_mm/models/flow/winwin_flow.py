"""Win-Win binocular optical-flow model (CroCo-Flow-like architecture).

::

    frames 1, 2 -> shared RoPE ViT encoder (both frames in one batched call)
    enc1 (queries), enc2 (keys/values) -> CrossDecoder (self-attn on frame 1,
        cross-attn to frame 2) -> 3 decoder layers
    [enc1 last layer, 3 decoder layers] -> DPT head -> flow (2) + conf (1)

Training (Win-Win): only the tokens of the windows in
``metainfo['window_boxes']`` ((N, 4) patch units, from ``RandomWindows``)
go through the model, with their true grid positions (the encoder's
:class:`~winwin_mm.token_selection.TokenSelection`); the head runs on each
window's grid and the ground truth is cropped to the same windows. Test:
the whole image in one pass (``test_cfg=dict(mode='whole')``) or, as the
baseline, overlapping tiles blended with the predicted confidence
(``mode='tiled'``).

Only torch, mmengine and winwin_mm's core modules are imported here.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from winwin_mm.registry import MODELS
from winwin_mm.token_selection import TokenSelection, tokens_to_grid
from winwin_mm.windows import crop_windows, grid_positions, stack_meta
from ..builder import build_module
from .base_flow_estimator import BaseFlowEstimator

TEST_MODES = ('whole', 'tiled')


def tile_starts(length: int, tile: int, overlap: float) -> List[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``:
    stride ``round(tile * (1 - overlap))`` (at least 1), the last tile flush
    with the border. ``tile >= length`` gives one tile at 0."""
    if tile >= length:
        return [0]
    stride = max(1, int(round(tile * (1 - overlap))))
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


@MODELS.register_module()
class WinWinFlow(BaseFlowEstimator):
    """Binocular flow estimator trained on windows, run on whole images.

    Args:
        encoder (dict): config of the shared encoder, a
            ``winwin_mm.RoPEViT`` (its last block is used).
        decoder (dict): config of the two-frame decoder, built with
            ``MODELS.build`` (default type ``CrossDecoder``; ``in_dims``,
            ``rope_base`` and ``rope_layout`` default to the encoder's). It is
            called as ``decoder(feat1, feat2, pos1, pos2, mask2)`` and returns
            3 layers (B, K1, C_dec); it has ``embed_dims``.
        head (dict): config of the head, built with ``MODELS.build``
            (default type ``DPTFlowHead``; ``in_channels``, ``patch_size`` and
            ``out_channels=3`` filled in). Called on 4 grids (B, C_i, h, w),
            returns (B, 3, h*p, w*p).
        loss (dict): the training loss, called as ``loss(pred, gt, valid=)``
            with pred (B', 3, H, W), gt (B', 2, H, W), valid (B', H, W).
            Default: ``WindowLoss`` around ``LaplacianFlowLoss(a=.25, b=4)``.
            Its ``confidence_weight(raw_conf)`` gives the tile blending
            weights of ``mode='tiled'``.
        flow_scale (float): the head's flow channels are multiplied by it,
            so that the head works at unit scale while flows span many
            pixels (a larger value speeds up early training). Default: 1.
        frame2_window_margin (int): in training, frame 2 keeps its windows
            grown by this many patches on every side (clipped to the patch
            grid; overlaps merged), so that the cross-attention keys of a
            frame-1 window also cover where its content moved. 0 (default):
            the same boxes in both frames.
        data_preprocessor (dict): default ``FlowDataPreprocessor``.
        train_cfg (dict, optional): unused, for OpenMMLab compatibility.
        test_cfg (dict): ``mode='whole'`` (default: one full-resolution
            pass) or ``mode='tiled'`` with ``crop_size=(h, w)`` pixels,
            ``overlap`` (default 0.7; 0.9 is CroCo-Flow's densest setting)
            and ``tile_batch`` (tiles per forward pass, default 8).
        init_cfg (dict, optional): ``init_cfg`` of the whole model.

    ``forward(inputs, data_samples, mode)``:
        * ``'loss'``: dict with the loss and the training EPE (on the
          supervised pixels).
        * ``'predict'``: data samples with ``pred_flow_fw`` (PixelData,
          (2, H, W) at the original image size).
        * ``'tensor'``: (B, 2, H, W) flow for (B, 6, H, W) inputs (test mode
          of ``test_cfg``).
    """

    def __init__(self,
                 encoder: dict,
                 decoder: Optional[dict] = None,
                 head: Optional[dict] = None,
                 loss: Optional[dict] = None,
                 frame2_window_margin: int = 0,
                 flow_scale: float = 1.,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.encoder = build_module(encoder)
        enc = self.encoder
        last = enc.num_layers - 1
        if last not in enc.out_indices:
            raise ValueError(
                f'WinWinFlow uses the last encoder block ({last}); add it to '
                f'the encoder out_indices {enc.out_indices}.')
        self._enc_last = enc.out_indices.index(last)
        self.patch_size = enc.patch_size
        dec_cfg = dict(decoder or {})
        dec_cfg.setdefault('type', 'CrossDecoder')
        dec_cfg.setdefault('in_dims', enc.embed_dims)
        dec_cfg.setdefault('rope_base', enc.rope.base)
        dec_cfg.setdefault('rope_layout', enc.rope.layout)
        self.decoder = build_module(dec_cfg)
        if len(self.decoder.out_indices) != 3:
            raise ValueError('the DPT head takes the last encoder layer and 3 '
                             'decoder layers: give decoder out_indices of '
                             f'length 3, got {self.decoder.out_indices}')
        head_cfg = dict(head or {})
        head_cfg.setdefault('type', 'DPTFlowHead')
        dec_dims = self.decoder.embed_dims
        head_cfg.setdefault('in_channels',
                            (enc.embed_dims, dec_dims, dec_dims, dec_dims))
        head_cfg.setdefault('patch_size', self.patch_size)
        head_cfg.setdefault('out_channels', 3)
        self.head = build_module(head_cfg)
        if loss is None:
            loss = dict(type='WindowLoss',
                        loss=dict(type='LaplacianFlowLoss', a=0.25, b=4.))
        self.loss_module = build_module(loss)
        if frame2_window_margin < 0:
            raise ValueError('frame2_window_margin must be >= 0, got '
                             f'{frame2_window_margin}')
        self.frame2_window_margin = int(frame2_window_margin)
        self.flow_scale = float(flow_scale)
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or dict(mode='whole'))
        self._check_test_cfg(self.test_cfg)

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _check_test_cfg(cfg: dict) -> None:
        mode = cfg.get('mode', 'whole')
        if mode not in TEST_MODES:
            raise ValueError(f'test_cfg mode must be one of {TEST_MODES}, got '
                             f'{mode!r}')
        if mode == 'tiled':
            if 'crop_size' not in cfg:
                raise ValueError("test_cfg mode='tiled' needs crop_size=(h, "
                                 'w) in pixels (the training crop).')
            if not 0 <= cfg.get('overlap', 0.7) < 1:
                raise ValueError('test_cfg overlap must be in [0, 1), got '
                                 f"{cfg['overlap']}")

    @property
    def vit_encoder(self) -> nn.Module:
        """The RoPE ViT whose blocks layer-wise lr decay groups."""
        return self.encoder

    def confidence_weight(self, raw_conf: torch.Tensor) -> torch.Tensor:
        """Blending weight of a tile pixel from the raw confidence channel,
        as the training loss defines it (``LaplacianFlowLoss``: the inverse
        of its bounded scale, so low scale = confident)."""
        return self.loss_module.confidence_weight(raw_conf)

    def select_tokens(self, img_hw: Tuple[int, int], windows,
                      device: torch.device) -> Tuple[TokenSelection, ...]:
        """Selections of frame 1 (the windows), frame 2 (the windows grown
        by ``frame2_window_margin``) and both frames batched (padded to one
        length). Host-side; see :meth:`RoPEViT.select_tokens`."""
        sel1 = self.encoder.select_tokens(img_hw, windows, device=device)
        if self.frame2_window_margin:
            sel2 = self.encoder.select_tokens(
                img_hw, windows, device=device,
                margin=self.frame2_window_margin)
        else:
            sel2 = sel1
        return sel1, sel2, TokenSelection.pad_cat((sel1, sel2))

    def extract_feat(self, inputs: torch.Tensor,
                     selections: Optional[Tuple[TokenSelection, ...]] = None
                     ) -> List[torch.Tensor]:
        """Both frames through the encoder in one batched call, then the
        decoder.

        Args:
            inputs: (B, 6, H, W) frame pairs.
            selections: :meth:`select_tokens` output, or None (all tokens).

        Returns:
            4 token layers (B, K1, C_i): the last encoder block of frame 1
            and the decoder's 3 layers (K1 = h*w without selections).
        """
        B = inputs.shape[0]
        frames = torch.cat((inputs[:, :3], inputs[:, 3:]), dim=0)  # (2B, ...)
        if selections is None:
            enc = self.encoder.forward_selected(frames)[self._enc_last]
            grid = self.encoder.grid_size(inputs.shape[-2:])
            pos = grid_positions(grid, enc.device).expand(B, -1, -1)
            f1, f2, pos1, pos2, mask2 = enc[:B], enc[B:], pos, pos, None
        else:
            sel1, sel2, both = selections
            enc = self.encoder.forward_selected(frames, both)[self._enc_last]
            f1, f2 = enc[:B, :sel1.num_tokens], enc[B:, :sel2.num_tokens]
            pos1, pos2, mask2 = sel1.positions, sel2.positions, sel2.key_mask
        return [f1] + self.decoder(f1, f2, pos1, pos2, mask2)

    def forward_flow(self, inputs: torch.Tensor,
                     windows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Raw prediction: flow (2 channels) + raw confidence (1).

        Args:
            inputs: (B, 6, H, W) normalised frame pairs.
            windows: optional (B, N, 4) patch boxes (square, one size).

        Returns:
            (B*N, 3, s*p, s*p) per window, in the order of the boxes, or
            (B, 3, H, W) for the whole image (computed on the image padded
            to a multiple of the patch size, cropped back).
        """
        H, W = inputs.shape[-2:]
        if windows is None:
            layers = self.extract_feat(inputs)
            grid = self.encoder.grid_size((H, W))
            grids = [tokens_to_grid(t, grid) for t in layers]
            return self._scale(self.head(grids)[..., :H, :W])
        selections = self.select_tokens((H, W), windows, inputs.device)
        layers = self.extract_feat(inputs, selections)
        return self._scale(self.head([selections[0].to_windows(t)
                                      for t in layers]))

    def _scale(self, out: torch.Tensor) -> torch.Tensor:
        if self.flow_scale == 1:
            return out
        return torch.cat((out[:, :2] * self.flow_scale, out[:, 2:]), dim=1)

    # ------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor,
             data_samples) -> Dict[str, torch.Tensor]:
        """Loss on the windows of ``metainfo['window_boxes']`` (or on the
        whole image when the samples carry none)."""
        boxes = stack_meta(data_samples, 'window_boxes')
        flow, valid = self.stack_gt(data_samples, inputs.shape[-2:])
        flow, valid = flow.to(inputs.device), valid.to(inputs.device)
        pred = self.forward_flow(inputs, boxes)
        if boxes is not None:
            p = self.patch_size
            flow = torch.stack(crop_windows(flow, boxes, p))
            valid = torch.stack(crop_windows(valid, boxes, p))
        loss = self.loss_module(pred, flow, valid=valid)
        name = getattr(self.loss_module, 'loss_name', 'loss_flow')
        with torch.no_grad():
            # masked mean without boolean indexing (no host-device sync);
            # 0 when no pixel is valid
            v = valid.to(pred.dtype)
            epe = ((pred[:, :2] - flow).norm(dim=1) * v).sum() / \
                v.sum().clamp(min=1.)
        return {name: loss, 'epe': epe}

    # ------------------------------------------------------------ inference
    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        """One pair (1, 6, H, W) -> flow (1, 2, H, W) from overlapping tiles,
        averaged with confidence weights."""
        cfg = self.test_cfg
        H, W = x.shape[-2:]
        crop = cfg['crop_size']
        crop = (crop, crop) if isinstance(crop, int) else tuple(crop)
        th, tw = min(crop[0], H), min(crop[1], W)
        overlap = cfg.get('overlap', 0.7)
        tiles = [(y, x0) for y in tile_starts(H, th, overlap)
                 for x0 in tile_starts(W, tw, overlap)]
        chunk = max(1, int(cfg.get('tile_batch', 8)))
        acc = x.new_zeros(1, 2, H, W)
        wsum = x.new_zeros(1, 1, H, W)
        for i in range(0, len(tiles), chunk):
            part = tiles[i:i + chunk]
            batch = torch.cat([x[..., y:y + th, x0:x0 + tw] for y, x0 in part])
            out = self.forward_flow(batch)
            weight = self.confidence_weight(out[:, 2:3])
            for (y, x0), f, w in zip(part, out[:, :2], weight):
                acc[0, :, y:y + th, x0:x0 + tw] += f * w
                wsum[0, :, y:y + th, x0:x0 + tw] += w
        return acc / wsum

    def inference(self, inputs: torch.Tensor,
                  sizes: Optional[Sequence[Tuple[int, int]]] = None
                  ) -> List[torch.Tensor]:
        """Flow of every pair, (2, h_i, w_i) with ``sizes[i] = (h_i, w_i)``
        the unpadded size of pair i (default: the input size), following
        ``test_cfg``."""
        B, _, H, W = inputs.shape
        sizes = [(H, W)] * B if sizes is None else [tuple(s) for s in sizes]
        if self.test_cfg.get('mode', 'whole') == 'whole':
            flow = self.forward_flow(inputs)[:, :2]
            return [f[:, :h, :w] for f, (h, w) in zip(flow, sizes)]
        return [
            self._tiled(inputs[i:i + 1, :, :h, :w])[0]
            for i, (h, w) in enumerate(sizes)
        ]
