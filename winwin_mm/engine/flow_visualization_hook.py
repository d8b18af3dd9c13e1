"""Draw flow predictions during validation and testing (``--show-dir``)."""
import os.path as osp
import warnings
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.visualization import Visualizer

from winwin_mm.registry import HOOKS


def sample_name(mode: str, img_path: str) -> str:
    """``<mode>_<parent folder>_<file stem>``: unique for Sintel-like trees
    where every scene has a ``frame_0001.png``."""
    parent = osp.basename(osp.dirname(img_path))
    stem = osp.splitext(osp.basename(img_path))[0]
    return '_'.join(p for p in (mode, parent, stem) if p)


@HOOKS.register_module()
class FlowVisualizationHook(Hook):
    """The flow counterpart of mmseg's ``SegVisualizationHook``.

    Hands each drawn :class:`~winwin_mm.structures.FlowDataSample` with
    frame 1 to the current visualizer (``winwin_mm.FlowLocalVisualizer``:
    frame | ground truth | prediction | log error), which writes it through
    its vis backends (``<save_dir>/vis_data/vis_image/<name>_<step>.png``
    with ``LocalVisBackend``; ``tools/test.py --show-dir DIR`` sets
    ``save_dir``) or shows it.

    Args:
        draw (bool): draw at all (``tools/test.py --show-dir`` sets it).
        interval (int): during validation, draw every ``interval``-th batch.
        test_interval (int): the same during testing (default: every one).
        show (bool): show in a window instead of writing files.
        wait_time (float): seconds each shown image stays.
    """

    def __init__(self, draw: bool = False, interval: int = 50,
                 test_interval: int = 1, show: bool = False,
                 wait_time: float = 0.) -> None:
        self._visualizer: Visualizer = Visualizer.get_current_instance()
        self.draw = draw
        self.interval = interval
        self.test_interval = test_interval
        self.show = show
        self.wait_time = wait_time
        if show:
            self._visualizer._vis_backends = {}
            warnings.warn('FlowVisualizationHook(show=True) only displays '
                          'the results; nothing is written.')

    def _draw(self, runner, batch_idx: int, outputs: Sequence, mode: str,
              interval: int) -> None:
        if not self.draw or not self.every_n_inner_iters(batch_idx, interval):
            return
        from winwin_mm.datasets.flow_io import read_image
        for output in outputs:
            path = output.metainfo['img1_path']
            step = runner.iter if mode == 'val' else batch_idx
            self._visualizer.add_datasample(
                sample_name(mode, path), read_image(path), data_sample=output,
                show=self.show, wait_time=self.wait_time, step=step)

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        self._draw(runner, batch_idx, outputs, 'val', self.interval)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        self._draw(runner, batch_idx, outputs, 'test', self.test_interval)
