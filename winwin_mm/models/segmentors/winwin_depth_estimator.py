"""Win-Win depth estimator: windows in training, one whole-image pass at
test, on MMSegmentation's ``DepthEstimator``."""
from mmseg.models.segmentors import DepthEstimator

from winwin_mm.registry import MODELS
from .windowed_segmentor import WindowedSegmentorMixin


@MODELS.register_module()
class WinWinDepthEstimator(WindowedSegmentorMixin, DepthEstimator):
    """DepthEstimator that trains on the tokens of a few windows.

    Training: the boxes sampled by ``RandomWindows`` (``metainfo
    ['window_boxes']``, (N, 4) patch units) go to the backbone, which returns
    per-window grids (B*N, C, s, s); neck and head run per window and
    ``gt_depth_map`` is cropped to the same pixel windows (B*N samples,
    tagged ``window_source=(b, n)`` so ``WindowSiLogLoss`` pools the windows
    of one image). ``metainfo['window_tokens']`` (random-token ablation)
    scatters the kept features onto the full grid and sets the depth of every
    dropped token's pixels to 0 (invalid). Without either key the step is a
    normal full-resolution step.

    Test: ``test_cfg=dict(mode='whole')`` runs the full-resolution image in
    one pass (padded to the patch size, depth cropped back); mmseg's
    ``slide_flip`` mode stays available as the tiling baseline (note that
    ``DepthEstimator.inference`` of mmseg 1.2.2 falls through to ``whole``
    for ``mode='slide'``).

    All ``DepthEstimator`` arguments apply; the backbone must accept
    ``windows=`` / ``token_index=`` (``winwin_mm.RoPEViT``).
    """

    gt_field = 'gt_depth_map'
    #: depth datasets list scene types as ``classes``, not labels
    #: (read by ``DatasetConsistencyHook``)
    dataset_classes_are_labels = False

    def dropped_value(self) -> float:
        return 0.  # depth 0 is invalid for WindowSiLogLoss
