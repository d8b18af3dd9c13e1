"""Batching of frame pairs for flow models."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from winwin_mm.registry import MODELS


@MODELS.register_module()
class FlowDataPreprocessor(BaseDataPreprocessor):
    """Normalise, pad and stack frame pairs.

    Each input is a (6, H, W) tensor (frame 1 RGB, frame 2 RGB, as packed by
    ``PackFlowInputs``). Both frames are normalised with the same RGB
    ``mean``/``std``; then every pair is padded on the right and bottom with
    ``pad_val`` (after normalisation) to the largest size in the batch,
    rounded up to a multiple of ``size_divisor``.

    Each data sample gets ``pad_shape`` (Hp, Wp) in its metainfo. In
    training, its ``gt_flow_fw`` / ``gt_valid_fw`` are padded with 0 by the
    same amount (scaled by k when the ground truth is at k times the image
    resolution, as Spring's), so padded pixels are invalid and the loss can
    stack them. In testing the ground truth is left as loaded (as
    MMSegmentation's ``SegDataPreProcessor`` does); ``FlowMetric`` crops the
    prediction to it.

    Args:
        mean (sequence of float): RGB mean, 0-255 scale.
        std (sequence of float): RGB std.
        size_divisor (int, optional): pad H and W to a multiple of it (e.g.
            the patch size, 16: Spring's 1080 rows become 1088).
        pad_val (float): value of padded input pixels after normalisation.
        non_blocking (bool): passed to ``BaseDataPreprocessor``.

    Returns (``forward``):
        dict: ``inputs`` (N, 6, Hp, Wp) float and ``data_samples``.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0.,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('mean and std are RGB triples')
        self.register_buffer('mean',
                             torch.tensor(mean * 2).view(6, 1, 1), False)
        self.register_buffer('std', torch.tensor(std * 2).view(6, 1, 1), False)
        self.size_divisor = size_divisor
        self.pad_val = pad_val

    def _padded_size(self, inputs: List[torch.Tensor]) -> tuple:
        height = max(x.shape[-2] for x in inputs)
        width = max(x.shape[-1] for x in inputs)
        if self.size_divisor:
            d = self.size_divisor
            height, width = -(-height // d) * d, -(-width // d) * d
        return height, width

    @staticmethod
    def _pad_gt(sample, img_hw: tuple, pad_hw: tuple) -> None:
        """Zero-pad the sample's ground truth like its frames."""
        for name in ('gt_flow_fw', 'gt_valid_fw'):
            if name not in sample:
                continue
            field = sample.get(name)
            k = field.data.shape[-2] // img_hw[0]
            bottom = k * pad_hw[0] - field.data.shape[-2]
            right = k * pad_hw[1] - field.data.shape[-1]
            if bottom or right:
                setattr(
                    sample, name,
                    PixelData(
                        data=F.pad(field.data, (0, right, 0, bottom)),
                        metainfo=field.metainfo))

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs: Union[torch.Tensor, List[torch.Tensor]] = data['inputs']
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 3:
            inputs = [inputs]
        if any(x.shape[0] != 6 for x in inputs):
            raise ValueError('FlowDataPreprocessor expects (6, H, W) inputs '
                             '(two RGB frames), got '
                             f'{[tuple(x.shape) for x in inputs]}')
        pad_hw = self._padded_size(list(inputs))
        batch = []
        for x in inputs:
            x = (x.float() - self.mean) / self.std
            bottom, right = pad_hw[0] - x.shape[-2], pad_hw[1] - x.shape[-1]
            batch.append(F.pad(x, (0, right, 0, bottom), value=self.pad_val))
        samples = data.get('data_samples')
        if samples is not None:
            for x, sample in zip(inputs, samples):
                sample.set_metainfo(dict(pad_shape=pad_hw))
                if training:
                    self._pad_gt(sample, tuple(x.shape[-2:]), pad_hw)
        return dict(inputs=torch.stack(batch), data_samples=samples)
