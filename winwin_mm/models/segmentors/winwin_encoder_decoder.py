"""Win-Win segmentor: windows in training, one whole-image pass at test."""
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.utils import add_prefix
from torch import nn

from winwin_mm.registry import MODELS
from ..fast_dense import resize_in_compute_dtype as _resize_in_compute_dtype
from ..fast_dense import use_channels_last
from ..losses.accuracy import sync_free_accuracy
from .label_check import LabelRangeCheck
from .windowed_segmentor import WindowedSegmentorMixin


def head_loss(head: nn.Module, inputs, data_samples, train_cfg) -> dict:
    """``head.loss(...)`` with :func:`sync_free_accuracy` for ``acc_seg``.

    For heads that keep ``BaseDecodeHead``'s ``loss`` / ``loss_by_feat``
    (FCNHead, UPerHead, ...) this is that code with the accuracy swapped
    (same losses, same accuracy value, no host-device sync); other heads
    have their own loss and are called as they are.
    """
    cls = type(head)
    if not (isinstance(head, BaseDecodeHead)
            and cls.loss is BaseDecodeHead.loss
            and cls.loss_by_feat is BaseDecodeHead.loss_by_feat):
        return head.loss(inputs, data_samples, train_cfg)
    seg_label = head._stack_batch_gt(data_samples)  # (B, 1, H, W)
    seg_logits = resize(input=head.forward(inputs),
                        size=seg_label.shape[2:], mode='bilinear',
                        align_corners=head.align_corners)
    seg_weight = None if head.sampler is None else head.sampler.sample(
        seg_logits, seg_label)
    seg_label = seg_label.squeeze(1)
    losses = {}
    decode = head.loss_decode if isinstance(
        head.loss_decode, nn.ModuleList) else [head.loss_decode]
    for loss_decode in decode:
        value = loss_decode(seg_logits, seg_label, weight=seg_weight,
                            ignore_index=head.ignore_index)
        name = loss_decode.loss_name
        losses[name] = losses[name] + value if name in losses else value
    losses['acc_seg'] = sync_free_accuracy(
        seg_logits, seg_label, ignore_index=head.ignore_index)
    return losses


@MODELS.register_module()
class WinWinEncoderDecoder(WindowedSegmentorMixin, EncoderDecoder):
    """EncoderDecoder that trains on the tokens of a few windows (see
    :class:`WindowedSegmentorMixin`); pixels of dropped tokens (random-token
    ablation) get ``ignore_index``.

    Test: ``test_cfg=dict(mode='whole')`` runs the full-resolution image in one
    pass (padded to the patch size, logits cropped back); ``mode='slide'``
    keeps MMSegmentation's tiling as the crop baseline.

    The training step makes no host-device sync of its own: the label check
    is read without waiting (:class:`LabelRangeCheck`) and ``acc_seg`` comes
    from :func:`sync_free_accuracy`.

    Args:
        check_labels (bool): raise a clear error naming the label file when a
            label is outside ``[0, num_classes)`` and not ``ignore_index``.
            On CPU at once; on a GPU the result is read at a later step (at
            the latest at the next validation) without stalling the device.
            Default: True.
        channels_last (bool): neck and heads in channels-last memory format
            (:func:`~winwin_mm.models.fast_dense.use_channels_last`).
            Default: False.
        resize_in_compute_dtype (bool): under autocast, the resizes of the
            neck and heads run in the autocast dtype (bf16) instead of
            float32 (:func:`~winwin_mm.models.fast_dense.
            resize_in_compute_dtype`). Default: False.
        All other ``EncoderDecoder`` arguments apply; the backbone must accept
        ``windows=`` / ``token_index=`` (``winwin_mm.RoPEViT``).
    """
    gt_field = 'gt_sem_seg'

    def __init__(self, *args, check_labels: bool = True,
                 channels_last: bool = False,
                 resize_in_compute_dtype: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_labels = check_labels
        self.label_check = LabelRangeCheck()
        dense = [getattr(self, 'neck', None), self.decode_head]
        aux = getattr(self, 'auxiliary_head', None)
        dense += list(aux) if isinstance(aux, nn.ModuleList) else [aux]
        for m in filter(None, dense):
            if channels_last:
                use_channels_last(m)
            if resize_in_compute_dtype:
                _resize_in_compute_dtype(m)

    def dropped_value(self) -> int:
        return self.decode_head.ignore_index

    def validate_targets(self, data_samples) -> None:
        if self.check_labels:
            self.validate_labels(data_samples)

    def validate_labels(self, data_samples) -> None:
        """Raise a clear error when a label is outside [0, num_classes)
        and is not ``ignore_index`` (see :class:`LabelRangeCheck`)."""
        self.label_check(data_samples, self.decode_head.num_classes,
                         self.decode_head.ignore_index)

    def predict(self, inputs, data_samples=None):
        # report bad labels of the last training steps before validating
        self.label_check.poll(wait=True)
        return super().predict(inputs, data_samples)

    def _decode_head_forward_train(self, inputs, data_samples) -> dict:
        return add_prefix(head_loss(self.decode_head, inputs, data_samples,
                                    self.train_cfg), 'decode')

    def _auxiliary_head_forward_train(self, inputs, data_samples) -> dict:
        heads = self.auxiliary_head
        if not isinstance(heads, nn.ModuleList):
            return add_prefix(head_loss(heads, inputs, data_samples,
                                        self.train_cfg), 'aux')
        losses = {}
        for i, head in enumerate(heads):
            losses.update(add_prefix(head_loss(head, inputs, data_samples,
                                               self.train_cfg), f'aux_{i}'))
        return losses
