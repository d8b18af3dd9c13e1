"""Win-Win binocular optical-flow model (CroCo-Flow-like architecture).

::

    frames 1, 2 -> shared RoPE ViT encoder (both frames in one batched call)
    enc1 (queries), enc2 (keys/values) -> CrossDecoder (self-attn on frame 1,
        cross-attn to frame 2) -> 3 decoder layers
    [enc1 last layer, 3 decoder layers] -> DPT head -> flow (2) + conf (1)

Training (Win-Win): only the tokens of the windows in
``metainfo['window_boxes']`` ((N, 4) patch units, from ``RandomWindows``)
go through the model, with their true grid positions; the head runs on each
window's grid and the ground truth is cropped to the same windows. Test:
the whole image in one pass (``test_cfg=dict(mode='whole')``) or, as the
baseline, overlapping tiles blended with the predicted confidence
(``mode='tiled'``).

Only torch, mmengine and winwin_mm's core modules are imported here.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from winwin_mm.registry import MODELS
from winwin_mm.windows import (boxes_to_token_index, grid_positions,
                               token_positions)
from .cross_block import CrossDecoder
from .dpt_head import DPTFlowHead
from .flow_losses import bounded_scale
from ..builder import build_module
from ..window_meta import training_windows

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
class WinWinFlow(BaseModel):
    """Binocular flow estimator trained on windows, run on whole images.

    Args:
        encoder (dict): config of the shared encoder, a
            ``winwin_mm.RoPEViT`` (its last block is used).
        decoder (dict): :class:`CrossDecoder` arguments (``embed_dims``,
            ``num_layers``, ``num_heads``, ``out_indices`` (3 blocks)...).
        head (dict): :class:`DPTFlowHead` arguments except ``in_channels``
            and ``patch_size`` (filled in).
        loss (dict): the training loss, called as ``loss(pred, gt, valid=)``
            with pred (B', 3, H, W), gt (B', 2, H, W), valid (B', H, W).
            Default: ``WindowLoss`` around ``LaplacianFlowLoss(a=.25, b=4)``.
        flow_scale (float): the head's flow channels are multiplied by it,
            so that the head works at unit scale while flows span many
            pixels (a larger value speeds up early training). Default: 1.
        frame2_window_margin (int): in training, frame 2 keeps its windows
            grown by this many patches on every side (clipped to the patch
            grid; overlaps merged), so that the cross-attention keys of a
            frame-1 window also cover where its content moved. 0 (default):
            the same boxes in both frames.
        train_windows (bool): True (Win-Win): every training batch must
            carry the windows of ``RandomWindows`` (sampled with the encoder's
            patch size); False: full-resolution training, windows refused.
            Default: True.
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
                 train_windows: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='FlowDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = build_module(data_preprocessor)
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
        self.train_windows = train_windows
        dec_cfg = dict(decoder or {})
        dec_type = dec_cfg.pop('type', None)
        if dec_type not in (None, 'CrossDecoder', 'winwin_mm.CrossDecoder'):
            raise ValueError(f'unknown decoder type {dec_type!r}')
        dec_cfg.setdefault('rope_base', enc.rope.base)
        dec_cfg.setdefault('rope_layout', enc.rope.layout)
        self.decoder = CrossDecoder(in_dims=enc.embed_dims, **dec_cfg)
        if len(self.decoder.out_indices) != 3:
            raise ValueError('the DPT head takes the last encoder layer and 3 '
                             'decoder layers: give decoder out_indices of '
                             f'length 3, got {self.decoder.out_indices}')
        head_cfg = dict(head or {})
        head_type = head_cfg.pop('type', None)
        if head_type not in (None, 'DPTFlowHead', 'winwin_mm.DPTFlowHead'):
            raise ValueError(f'unknown head type {head_type!r}')
        dec_dims = self.decoder.embed_dims
        head_cfg.setdefault('in_channels',
                            (enc.embed_dims, dec_dims, dec_dims, dec_dims))
        head_cfg.setdefault('patch_size', self.patch_size)
        head_cfg.setdefault('out_channels', 3)
        self.head = DPTFlowHead(**head_cfg)
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

    def confidence_weight(self, raw_conf: torch.Tensor) -> torch.Tensor:
        """Blending weight of a tile pixel: the inverse of the Laplacian
        scale ``s`` in [a, b] predicted there (low scale = confident), with
        the bounds of the training loss (default a=0.25, b=4)."""
        inner = getattr(self.loss_module, 'loss', self.loss_module)
        scale = getattr(inner, 'scale', None)
        s = scale(raw_conf) if callable(scale) else bounded_scale(raw_conf)
        return 1.0 / s

    def _frame2_index(self, boxes: torch.Tensor, grid: Tuple[int, int]
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token indices of frame-2 windows grown by the margin.

        boxes (B, N, 4) -> indices (B, K2) padded with 0 and a bool (B, K2)
        mask of real tokens (the union of the grown boxes differs in size
        across samples when boxes touch the border or each other)."""
        m, (gh, gw) = self.frame2_window_margin, grid
        keep = torch.zeros(boxes.shape[0], gh, gw, dtype=torch.bool)
        for b, sample in enumerate(boxes.tolist()):
            for y0, x0, y1, x1 in sample:
                keep[b, max(0, y0 - m):min(gh, y1 + m),
                     max(0, x0 - m):min(gw, x1 + m)] = True
        keep = keep.flatten(1)
        counts = keep.sum(1)
        k2 = int(counts.max())
        index = torch.zeros(boxes.shape[0], k2, dtype=torch.long)
        mask = torch.arange(k2)[None] < counts[:, None]
        for b in range(boxes.shape[0]):
            index[b, :int(counts[b])] = keep[b].nonzero()[:, 0]
        return index, mask

    def _encode(self, inputs: torch.Tensor,
                windows: Optional[torch.Tensor]) -> tuple:
        """Both frames through the encoder in one batched call.

        Returns frame-1 tokens (B, K1, C), frame-2 tokens (B, K2, C), their
        positions, the frame-2 key mask (or None) and the grid (gh, gw)."""
        B = inputs.shape[0]
        frames = torch.cat((inputs[:, :3], inputs[:, 3:]), dim=0)  # (2B, ...)
        tokens, (gh, gw) = self.encoder.embed(frames)
        dev = tokens.device
        if windows is None:
            pos = grid_positions((gh, gw), dev).expand(2 * B, -1, -1)
            enc = self.encoder.forward_tokens(tokens, pos)[self._enc_last]
            pos1 = pos[:B]
            return enc[:B], enc[B:], pos1, pos1, None, (gh, gw)
        windows = torch.as_tensor(windows, dtype=torch.long).cpu()
        self.encoder._check_boxes(windows, (gh, gw))
        index1 = boxes_to_token_index(windows, gw)  # (B, K1)
        K1 = index1.shape[1]
        if self.frame2_window_margin == 0:
            index = torch.cat((index1, index1))
            attn_mask, mask2 = None, None
        else:
            index2, mask2 = self._frame2_index(windows, (gh, gw))
            L = max(K1, index2.shape[1])
            mask1 = torch.arange(L)[None].expand(B, -1) < K1
            mask2 = F.pad(mask2, (0, L - mask2.shape[1]), value=False)
            index = torch.cat((F.pad(index1, (0, L - K1)),
                               F.pad(index2, (0, L - index2.shape[1]))))
            keys = torch.cat((mask1, mask2))  # (2B, L)
            if self.encoder.num_prefix:
                keys = F.pad(keys, (self.encoder.num_prefix, 0), value=True)
            attn_mask = keys[:, None, None, :].to(dev)
            mask2 = mask2.to(dev)
        index = index.to(dev, non_blocking=True)
        C = tokens.shape[-1]
        kept = torch.gather(tokens, 1, index[..., None].expand(-1, -1, C))
        pos = token_positions(index, gw)
        enc = self.encoder.forward_tokens(kept, pos, attn_mask)[self._enc_last]
        return (enc[:B, :K1], enc[B:], pos[:B, :K1], pos[B:], mask2, (gh, gw))

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
        B, _, H, W = inputs.shape
        f1, f2, pos1, pos2, mask2, (gh, gw) = self._encode(inputs, windows)
        layers = [f1] + self.decoder(f1, f2, pos1, pos2, mask2)
        C = [t.shape[-1] for t in layers]
        if windows is None:
            grids = [
                t.transpose(1, 2).reshape(B, c, gh, gw)
                for t, c in zip(layers, C)
            ]
            return self._scale(self.head(grids)[..., :H, :W])
        n = windows.shape[1]
        s = int(windows[0, 0, 2] - windows[0, 0, 0])
        grids = [
            t.reshape(B * n, s, s, c).permute(0, 3, 1, 2)
            for t, c in zip(layers, C)
        ]
        return self._scale(self.head(grids))

    def _scale(self, out: torch.Tensor) -> torch.Tensor:
        if self.flow_scale == 1:
            return out
        return torch.cat((out[:, :2] * self.flow_scale, out[:, 2:]), dim=1)

    # ------------------------------------------------------------ training
    def _stack_gt(self, data_samples, hw: Tuple[int, int]) -> tuple:
        flows, valids = [], []
        for sample in data_samples:
            flow = sample.gt_flow_fw.data
            if tuple(flow.shape[-2:]) != tuple(hw):
                raise ValueError(
                    f'training ground truth {tuple(flow.shape[-2:])} does not '
                    f'match the input {tuple(hw)}; load Spring ground truth '
                    "with LoadFlowPair(highres_gt='subsample') for training.")
            valid = sample.gt_valid_fw.data if 'gt_valid_fw' in sample \
                else torch.ones_like(flow[:1])
            flows.append(flow)
            valids.append(valid.reshape(hw))
        flow = torch.stack(flows).float()
        valid = torch.stack(valids) > 0.5
        valid &= torch.isfinite(flow).all(dim=1)
        return torch.nan_to_num(flow), valid

    def crop_to_windows(self, flow: torch.Tensor, valid: torch.Tensor,
                        boxes: torch.Tensor) -> tuple:
        """(B, 2, H, W), (B, H, W), (B, N, 4) -> (B*N, 2, S, S), (B*N, S, S)
        pixel crops of the windows (``S = s * patch``), in box order."""
        p = self.patch_size
        fs, vs = [], []
        for b, sample in enumerate(boxes.tolist()):
            for y0, x0, y1, x1 in sample:
                fs.append(flow[b, :, y0 * p:y1 * p, x0 * p:x1 * p])
                vs.append(valid[b, y0 * p:y1 * p, x0 * p:x1 * p])
        return torch.stack(fs), torch.stack(vs)

    def loss(self, inputs: torch.Tensor,
             data_samples) -> Dict[str, torch.Tensor]:
        """Loss on the windows of ``metainfo['window_boxes']`` (on the whole
        image with ``train_windows=False``; see
        :func:`~winwin_mm.models.window_meta.training_windows`)."""
        boxes, _ = training_windows(data_samples, self.train_windows,
                                    self.patch_size, type(self).__name__)
        flow, valid = self._stack_gt(data_samples, inputs.shape[-2:])
        flow, valid = flow.to(inputs.device), valid.to(inputs.device)
        pred = self.forward_flow(inputs, boxes)
        if boxes is not None:
            flow, valid = self.crop_to_windows(flow, valid, boxes)
        loss = self.loss_module(pred, flow, valid=valid)
        name = getattr(self.loss_module, 'loss_name', 'loss_flow')
        with torch.no_grad():
            epe = (pred[:, :2] - flow).norm(dim=1)[valid]
            epe = epe.mean() if epe.numel() else epe.new_zeros(())
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

    @staticmethod
    def _to_original(flow: torch.Tensor, meta: dict) -> torch.Tensor:
        """Resize a (2, h, w) flow to ``ori_shape`` if a test-time resize
        changed it, scaling the vectors."""
        ori = meta.get('ori_shape')
        if ori is None or tuple(ori[:2]) == tuple(flow.shape[-2:]):
            return flow
        (h, w), (oh, ow) = flow.shape[-2:], ori[:2]
        flow = F.interpolate(flow[None], size=(oh, ow), mode='bilinear',
                             align_corners=False)[0]
        return flow * flow.new_tensor([ow / w, oh / h]).view(2, 1, 1)

    def predict(self, inputs: torch.Tensor, data_samples=None) -> list:
        """Write ``pred_flow_fw`` (2, H, W) into each data sample."""
        if data_samples is None:
            from winwin_mm.structures import FlowDataSample
            data_samples = [FlowDataSample() for _ in range(len(inputs))]
        sizes = [
            tuple(s.metainfo.get('img_shape', inputs.shape[-2:]))[:2]
            for s in data_samples
        ]
        flows = self.inference(inputs, sizes)
        for sample, flow in zip(data_samples, flows):
            sample.pred_flow_fw = PixelData(
                data=self._to_original(flow, sample.metainfo))
        return data_samples

    def _forward(self, inputs: torch.Tensor, data_samples=None
                 ) -> torch.Tensor:
        """Tensor mode: (B, 6, H, W) -> (B, 2, H, W) flow."""
        return torch.stack(self.inference(inputs))

    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')
