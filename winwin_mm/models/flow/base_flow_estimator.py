"""Base class of flow estimators, after MMFlow 1.x's ``FlowEstimator``:
``forward`` dispatches to :meth:`loss` / :meth:`predict` / :meth:`_forward`;
subclasses implement :meth:`extract_feat`, :meth:`loss` and
:meth:`inference`."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from ..builder import build_module


class BaseFlowEstimator(BaseModel):
    """A model mapping (B, 6, H, W) frame pairs to (B, 2, H, W) flow.

    Args:
        data_preprocessor (dict | nn.Module, optional): default
            ``FlowDataPreprocessor``.
        init_cfg (dict, optional): ``init_cfg`` of the whole model.

    ``forward(inputs, data_samples, mode)``:
        * ``'loss'``: dict of losses (:meth:`loss`).
        * ``'predict'``: data samples with ``pred_flow_fw`` (PixelData,
          (2, H, W) at the original image size).
        * ``'tensor'``: (B, 2, H, W) flow.
    """

    def __init__(self,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='FlowDataPreprocessor')
        super().__init__(data_preprocessor=build_module(data_preprocessor),
                         init_cfg=init_cfg)

    # ------------------------------------------------- for subclasses
    def extract_feat(self, inputs: torch.Tensor, *args, **kwargs):
        """Features of a batch of frame pairs (model specific)."""
        raise NotImplementedError

    def loss(self, inputs: torch.Tensor,
             data_samples) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def inference(self, inputs: torch.Tensor,
                  sizes: Optional[Sequence[Tuple[int, int]]] = None
                  ) -> List[torch.Tensor]:
        """Flow (2, h_i, w_i) of every pair, ``sizes[i]`` the unpadded
        size of pair i (default: the input size)."""
        raise NotImplementedError

    # ------------------------------------------------- shared
    @staticmethod
    def stack_gt(data_samples, hw: Tuple[int, int]
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``gt_flow_fw`` / ``gt_valid_fw`` of the samples -> flow
        (B, 2, H, W) (non-finite values zeroed) and valid (B, H, W) bool
        (False where the flow is not finite)."""
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

    @staticmethod
    def to_original(flow: torch.Tensor, meta: dict) -> torch.Tensor:
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
                data=self.to_original(flow, sample.metainfo))
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
