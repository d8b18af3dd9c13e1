"""Label maps are checked for size, and for range at val / test too (issue
17, item 5), with messages naming the file and the fix."""
import os.path as osp

import cv2
import numpy as np
import pytest

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate

from test_tools import EXTERNAL_CONFIG


@pytest.fixture
def data(tmp_path):
    return generate(str(tmp_path / 'data'), num_train=2, num_val=2,
                    size=(64, 128), seed=1)


def _config(tmp_path, root, extra=''):
    from mmengine.config import Config
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root) + extra)
    cfg = Config.fromfile(str(cfg))
    cfg.work_dir = str(tmp_path / 'work')
    return cfg


def test_label_map_of_another_size_names_both_files(tmp_path, data):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    label = osp.join(data, 'ann_dir', 'val', 'val_0001.png')
    cv2.imwrite(label, np.zeros((32, 128), np.uint8))
    cfg = _config(tmp_path, data)
    init_default_scope('mmseg')
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.pipeline[1]['type'] = 'winwin_mm.LoadAnnotations'
    ds = DATASETS.build(ds_cfg)
    ds[0]  # the right size passes
    with pytest.raises(ValueError, match=r'val_0001.png: label map is 32x128 '
                       r'pixels but its image .*img_dir/val/val_0001.* is '
                       r'64x128.*fix the file'):
        ds[1]


def test_out_of_range_labels_at_test_stop_the_run(tmp_path, data):
    from mmengine.runner import Runner
    for name in ('val_0000.png', 'val_0001.png'):
        cv2.imwrite(osp.join(data, 'ann_dir', 'val', name),
                    np.full((64, 128), 9, np.uint8))  # 5 classes: all wrong
    cfg = _config(tmp_path, data, """
custom_hooks = [dict(type='winwin_mm.EvalLabelCheckHook')]
""")
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'val_0000.png: test label values '
                       r'\[9\] are outside \[0, 5\) and are not '
                       r'ignore_index=255.*aAcc nan.*Fix: '):
        runner.test()


def test_labels_in_range_pass_the_eval_check(tmp_path, data):
    from mmengine.runner import Runner
    cfg = _config(tmp_path, data, """
custom_hooks = [dict(type='winwin_mm.EvalLabelCheckHook')]
""")
    metrics = Runner.from_cfg(cfg).test()
    assert 'mIoU' in metrics
