"""MMSegmentation's visualization hook, drawing what tools/test.py
--show-dir promises."""
import os.path as osp

import mmcv
from mmengine import fileio
from mmseg.engine.hooks import SegVisualizationHook as MMSegVisHook

from winwin_mm.registry import HOOKS


@HOOKS.register_module()
class SegVisualizationHook(MMSegVisHook):
    """``mmseg``'s ``SegVisualizationHook`` (same arguments) that

    * at test draws every ``test_interval``-th batch (default: every image;
      mmseg draws every 50th, so nothing on a test set of fewer than 50);
    * at val keeps ``interval`` (default 50) and names the drawings by the
      training iteration;
    * at test names them by the batch index, never reading ``runner.iter``
      (which builds the *training* dataloader: a test with only the test
      data root given crashed on the missing training folder).

    Drawings go to ``SAVE_DIR/vis_data/vis_image`` (``--show-dir``).
    """

    def __init__(self, *args, test_interval: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.test_interval = test_interval

    def after_val_iter(self, runner, batch_idx, data_batch, outputs) -> None:
        self._draw(runner, batch_idx, outputs, 'val', self.interval,
                   runner.iter)

    def after_test_iter(self, runner, batch_idx, data_batch,
                        outputs) -> None:
        self._draw(runner, batch_idx, outputs, 'test', self.test_interval,
                   batch_idx)

    def _draw(self, runner, batch_idx, outputs, mode, interval,
              step) -> None:
        if not self.draw or not self.every_n_inner_iters(batch_idx,
                                                         interval):
            return
        for output in outputs:
            img = mmcv.imfrombytes(
                fileio.get(output.img_path, backend_args=self.backend_args),
                channel_order='rgb')
            self._visualizer.add_datasample(
                f'{mode}_{osp.basename(output.img_path)}', img,
                data_sample=output, show=self.show, wait_time=self.wait_time,
                step=step)
