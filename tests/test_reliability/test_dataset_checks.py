"""Dataset checks before training (issue 24): reduce_zero_label on CamVid,
all-void, missing, RGB and 16-bit labels are refused before the first
iteration by tools/train.py, and tools/visualize_windows.py refuses them
too; each trained silently or failed mid-run before."""
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate

from conftest import shared_data
from test_reliability_windows import fail
from test_tools import EXTERNAL_CONFIG, REPO

CAMVID_CFG = osp.join(REPO, 'configs', 'winwin_vits_camvid.py')


def _camvid(tmp_path, lines=3, extra_line=None):
    """A CamVid data root of real files (symlinked folders) with a short
    split list."""
    real = shared_data('seg', 'camvid')
    root = tmp_path / 'camvid'
    root.mkdir()
    for d in ('train', 'trainannot', 'val', 'valannot'):
        os.symlink(osp.join(real, d), root / d)
    for split in ('train', 'val'):
        rows = open(osp.join(real, f'{split}.txt')).read().split('\n')[:lines]
        if extra_line and split == 'train':
            rows.append(extra_line)
        (root / f'{split}.txt').write_text('\n'.join(rows) + '\n')
    return str(root)


def _camvid_options(root, *more):
    return ['--cfg-options'] + [
        f'{d}_dataloader.dataset.data_root={root}'
        for d in ('train', 'val', 'test')] + [
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False'] + list(more)


def test_reduce_zero_label_on_camvid_is_refused(tmp_path):
    root = _camvid(tmp_path)
    out = fail([sys.executable, 'tools/train.py', CAMVID_CFG, '--work-dir',
                str(tmp_path / 'w')] + _camvid_options(
        root, 'train_dataloader.dataset.reduce_zero_label=True'))
    assert ("reduce_zero_label=True on CamVidDataset, whose label 0 is a "
            "class ('Sky')") in out
    assert "value 11 becomes 'Bicyclist'" in out
    assert 'Fix: remove reduce_zero_label=True' in out
    assert 'Traceback' not in out
    assert not (tmp_path / 'w').exists() or not any(
        n.endswith('.pth') for n in os.listdir(tmp_path / 'w'))


def test_missing_camvid_file_is_named_before_training(tmp_path):
    root = _camvid(tmp_path, extra_line='train/gone.png trainannot/gone.png')
    out = fail([sys.executable, 'tools/train.py', CAMVID_CFG, '--work-dir',
                str(tmp_path / 'w')] + _camvid_options(root))
    assert '2 file(s) of the split are missing' in out
    assert f'{root}/train/gone.png' in out
    assert 'Iter(train)' not in out


def test_missing_file_in_the_loader_says_missing(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import TRANSFORMS
    from winwin_mm.datasets import ImageFileError, LabelFileError
    init_default_scope('mmseg')
    with pytest.raises(ImageFileError, match=r'x.png: image file is missing'):
        TRANSFORMS.build(dict(type='winwin_mm.LoadImageFromFile'))(
            dict(img_path=str(tmp_path / 'x.png')))
    with pytest.raises(LabelFileError, match=r'y.png: label file is missing'):
        TRANSFORMS.build(dict(type='winwin_mm.LoadAnnotations'))(
            dict(seg_map_path=str(tmp_path / 'y.png'),
                 reduce_zero_label=False, seg_fields=[]))


@pytest.fixture
def demo(tmp_path):
    root = generate(str(tmp_path / 'data'), num_train=3, num_val=1,
                    size=(64, 128), seed=1)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root))
    return root, str(cfg)


def _labels(root, write):
    for split in ('train', 'val'):
        d = osp.join(root, 'ann_dir', split)
        for name in sorted(os.listdir(d)):
            write(osp.join(d, name))


@pytest.mark.parametrize('kind,want', [
    ('void', 'every label map checked (3) is entirely void'),
    ('rgb', 'label maps must be single-channel class indices'),
    ('16bit', "are 16-bit: "),
])
def test_bad_label_maps_stop_train_and_visualize(demo, tmp_path, kind, want):
    root, cfg = demo

    def write(path):
        if kind == 'void':
            cv2.imwrite(path, np.full((64, 128), 255, np.uint8))
        elif kind == 'rgb':
            cv2.imwrite(path, np.full((64, 128, 3), 2, np.uint8))
        else:
            cv2.imwrite(path, np.full((64, 128), 258, np.uint16))

    _labels(root, write)
    out = fail([sys.executable, 'tools/train.py', cfg, '--work-dir',
                str(tmp_path / 'w')])
    assert want in out and 'Fix: ' in out
    assert 'ann_dir/train/train_0000.png' in out
    assert 'Iter(train)' not in out and 'Traceback' not in out
    if kind == '16bit':
        assert 'values 258..258' in out and 'modulo 256' in out
    out = fail([sys.executable, 'tools/visualize_windows.py', cfg, '--out',
                str(tmp_path / 'v.png')])
    assert want in out
    assert not (tmp_path / 'v.png').exists()


def test_label_values_beyond_num_classes_are_named(demo, tmp_path):
    root, cfg = demo
    path = osp.join(root, 'ann_dir', 'train', 'train_0001.png')
    seg = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    seg[0, :4] = 7  # 5 classes
    cv2.imwrite(path, seg)
    out = fail([sys.executable, 'tools/train.py', cfg, '--work-dir',
                str(tmp_path / 'w')])
    assert 'label values outside [0, 5)' in out
    assert 'train_0001.png (values [7])' in out
