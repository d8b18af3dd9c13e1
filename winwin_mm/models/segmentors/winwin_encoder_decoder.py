"""Win-Win segmentor: windows in training, one whole-image pass at test."""
import torch
from mmseg.models.segmentors import EncoderDecoder

from winwin_mm.registry import MODELS
from .windowed_segmentor import WindowedSegmentorMixin


@MODELS.register_module()
class WinWinEncoderDecoder(WindowedSegmentorMixin, EncoderDecoder):
    """EncoderDecoder that trains on the tokens of a few windows (see
    :class:`WindowedSegmentorMixin`); pixels of dropped tokens (random-token
    ablation) get ``ignore_index``.

    Test: ``test_cfg=dict(mode='whole')`` runs the full-resolution image in one
    pass (padded to the patch size, logits cropped back); ``mode='slide'``
    keeps MMSegmentation's tiling as the crop baseline.

    Args:
        check_labels (bool): raise a clear error naming the label file when a
            label is outside ``[0, num_classes)`` and not ``ignore_index``
            (one batched check per step). Default: True.
        All other ``EncoderDecoder`` arguments apply; the backbone must accept
        ``windows=`` / ``token_index=`` (``winwin_mm.RoPEViT``).
    """
    gt_field = 'gt_sem_seg'

    def __init__(self, *args, check_labels: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_labels = check_labels

    def dropped_value(self) -> int:
        return self.decode_head.ignore_index

    def validate_targets(self, data_samples) -> None:
        if self.check_labels:
            self.validate_labels(data_samples)

    def validate_labels(self, data_samples) -> None:
        """Raise a clear error when a label is outside [0, num_classes)
        and is not ``ignore_index``."""
        n = self.decode_head.num_classes
        ignore = self.decode_head.ignore_index
        segs = [s.gt_sem_seg.data for s in data_samples]
        flat = torch.cat([s.flatten() for s in segs])
        bad = ((flat < 0) | (flat >= n)) & (flat != ignore)
        if not bool(bad.any()):
            return
        for sample, seg in zip(data_samples, segs):
            wrong = ((seg < 0) | (seg >= n)) & (seg != ignore)
            if bool(wrong.any()):
                values = torch.unique(seg[wrong]).tolist()[:10]
                raise ValueError(
                    f'{sample.metainfo.get("seg_map_path", "a label map")}: '
                    f'label values {values} are outside [0, {n}) and are not '
                    f'ignore_index={ignore}. Fix: set num_classes to the '
                    'dataset\'s class count, or map these values (dataset '
                    'label_map / reduce_zero_label / ignore_index).')
