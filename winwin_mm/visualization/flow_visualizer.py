"""An mmengine visualizer for optical flow: frame, ground truth, prediction
and error side by side."""
from typing import Optional, Tuple

import cv2
import numpy as np
from mmengine.visualization import Visualizer

from winwin_mm.datasets.flow_io import gt_scale_factor
from winwin_mm.registry import VISUALIZERS
from .flow_vis import draw_error_colorbar, flow_error_map, flow_to_color
from .panel_layout import tile_grid


def match_resolution(gt: np.ndarray, valid: Optional[np.ndarray],
                     hw: Tuple[int, int]
                     ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Bring ground truth at an integer multiple ``k`` of the frame
    resolution (Spring's 2x) to ``hw`` the way ``LoadFlowPair(highres_gt=
    'subsample')`` does: every k-th pixel, vectors unchanged (they are in
    frame pixels)."""
    k = gt_scale_factor(gt.shape, hw)
    if k is None:
        raise ValueError(f'ground truth {gt.shape[0]}x{gt.shape[1]} is '
                         f'neither the frame size {hw[0]}x{hw[1]} nor an '
                         'integer multiple of it')
    if k == 1:
        return gt, valid
    return gt[::k, ::k], None if valid is None else valid[::k, ::k]


def flow_panel(frame1: np.ndarray,
               pred: np.ndarray,
               gt: Optional[np.ndarray] = None,
               valid: Optional[np.ndarray] = None,
               max_flow: Optional[float] = None) -> np.ndarray:
    """Frame 1 | ground truth over prediction | error, as titled tiles.

    Both flows are coloured with the same ``max_flow`` (default: the largest
    valid ground-truth magnitude, else the prediction's) so that their
    colours compare; the ground truth's footer says that magnitude. The
    prediction's footer gives the mean end-point error (EPE) and the
    share of valid pixels off by more than 1 px; the error tile is
    ``flow_error_map`` (log2 EPE) with its colour bar in px below it.
    ``PanelLayout.for_tile(H, W)`` gives where each tile lands.

    Args:
        frame1: (H, W, 3) uint8 RGB.
        pred: (H, W, 2) predicted flow.
        gt: (H, W, 2) or (kH, kW, 2) ground truth (optional).
        valid: (H, W) or (kH, kW) validity (optional).
        max_flow: magnitude shown fully saturated.

    Returns:
        np.ndarray: uint8 RGB, 2 x 2 tiles (frame, ground truth /
        prediction, error) with ground truth, 1 x 2 (frame, prediction)
        without, each tile with a title band above and a footer below.
    """
    hw = pred.shape[:2]
    if frame1.shape[:2] != hw:
        raise ValueError(f'frame {frame1.shape[:2]} and prediction {hw} '
                         'differ in size')
    size = f'{hw[1]} x {hw[0]}'
    if gt is None:
        shown = max_flow if max_flow is not None else float(
            np.nan_to_num(np.linalg.norm(pred, axis=2)).max())
        return tile_grid([frame1, flow_to_color(pred, max_flow)],
                         ['frame 1', 'predicted flow'],
                         [size, f'colour saturates at {shown:.1f} px'])
    gt, valid = match_resolution(gt, valid, hw)
    mask = np.isfinite(gt).all(axis=2)
    if valid is not None:
        mask &= valid > 0.5
    if max_flow is None and mask.any():
        max_flow = float(np.linalg.norm(gt[mask], axis=1).max())
    gt_show = np.where(mask[..., None], gt, np.nan)
    epe = np.linalg.norm(pred - np.nan_to_num(gt), axis=2)[mask]
    score = (f'EPE {epe.mean():.2f} px, {100 * (epe > 1).mean():.1f} % '
             'of pixels > 1 px off' if epe.size else 'no valid ground truth')
    return tile_grid(
        [frame1, flow_to_color(gt_show, max_flow),
         flow_to_color(pred, max_flow), flow_error_map(pred, gt, mask)],
        ['frame 1', 'ground-truth flow', 'predicted flow',
         'end-point error (log scale)'],
        [f'{size}, {int(mask.sum())} valid pixels',
         f'colour saturates at {max_flow or 0:.1f} px (both flows)', score,
         draw_error_colorbar])


@VISUALIZERS.register_module()
class FlowLocalVisualizer(Visualizer):
    """Draws a :class:`~winwin_mm.structures.FlowDataSample` as
    :func:`flow_panel` and hands it to the vis backends (local files,
    TensorBoard) or a window, like mmseg's ``SegLocalVisualizer``.

    Args:
        max_flow (float, optional): magnitude shown fully saturated
            (default: per image, the largest valid ground-truth magnitude).
        Others: see :class:`mmengine.visualization.Visualizer`.
    """

    def __init__(self, name: str = 'visualizer',
                 max_flow: Optional[float] = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.max_flow = max_flow

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw frame 1 of ``data_sample`` with its flows.

        Args:
            image: (H, W, 3) uint8 RGB first frame.
            data_sample: a ``FlowDataSample`` with ``pred_flow_fw`` and
                optionally ``gt_flow_fw`` / ``gt_valid_fw``.

        Returns:
            np.ndarray: the drawn RGB panel (see :func:`flow_panel`).
        """
        if data_sample is None or 'pred_flow_fw' not in data_sample:
            raise ValueError('FlowLocalVisualizer needs a data sample with '
                             'pred_flow_fw (run the model in predict mode)')
        pred = data_sample.pred_flow_fw.data.detach().cpu().numpy()
        gt = valid = None
        if draw_gt and 'gt_flow_fw' in data_sample:
            gt = data_sample.gt_flow_fw.data.detach().cpu().numpy()
            gt = gt.transpose(1, 2, 0)
            if 'gt_valid_fw' in data_sample:
                valid = data_sample.gt_valid_fw.data.detach().cpu().numpy()[0]
        drawn = flow_panel(image, pred.transpose(1, 2, 0), gt, valid,
                           self.max_flow)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            cv2.imwrite(out_file, drawn[..., ::-1])
        else:
            self.add_image(name, drawn, step)
        return drawn
