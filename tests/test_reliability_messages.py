"""Overrides and messages that mislead, and progress (issue 17, items 6-7):
each bad input goes through the real tool or API and the message names the
problem, the file or key, and the fix."""
import os.path as osp
import sys

import numpy as np
import pytest

import winwin_mm  # noqa: F401

from test_reliability_windows import fail
from test_tools import REPO

CAMVID = osp.join(REPO, 'configs', 'winwin_vits_camvid.py')


def test_missing_dataset_names_every_dataloader_root(tmp_path):
    out = fail([sys.executable, 'tools/train.py', CAMVID, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options',
                f'train_dataloader.dataset.data_root={tmp_path}/none'])
    assert f"CamVid dataset folder '{tmp_path}/none' does not exist" in out
    assert 'README.md#camvid' in out
    for loader in ('train', 'val', 'test'):
        assert f'{loader}_dataloader.dataset.data_root=DIR' in out
    assert 'overriding it changes nothing' in out


def test_top_level_variable_override_is_refused(tmp_path):
    out = fail([sys.executable, 'tools/train.py', CAMVID, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options', 'max_iters=1'])
    assert "--cfg-options max_iters=...: 'max_iters' is a variable of the " \
           'config file' in out
    assert 'train_cfg.max_iters=...' in out
    out = fail([sys.executable, 'tools/train.py', CAMVID, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options',
                'train_cfgs.max_iters=1'])
    assert "'train_cfgs' is not a setting of this config" in out


def test_bdd100k_missing_folder_points_to_readme(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'winwin_vitb_bdd100k.py'))
    ds = cfg.train_dataloader.dataset
    ds.data_root = str(tmp_path / 'bdd')
    init_default_scope('mmseg')
    with pytest.raises(FileNotFoundError, match=r'BDD100K dataset folder .*'
                       r'bdd/images/10k/train.*README.md#datasets'):
        DATASETS.build(ds)


def test_empty_split_list_names_the_file(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    (tmp_path / 'train.txt').write_text('\n')
    init_default_scope('mmseg')
    with pytest.raises(ValueError, match=r'split list .*train.txt lists no '
                       r'images. Fix: '):
        DATASETS.build(dict(type='winwin_mm.CamVidDataset',
                            data_root=str(tmp_path), pipeline=[]))


def test_short_training_run_logs_often(tmp_path):
    from mmengine.config import Config
    from winwin_mm.utils.launch import log_progress_often
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'winwin_vitb_bdd100k.py'))
    cfg.merge_from_dict({'train_cfg.max_iters': 20})
    assert cfg.default_hooks.logger.interval == 50
    log_progress_often(cfg)
    assert cfg.default_hooks.logger.interval == 2
    cfg.merge_from_dict({'train_cfg.max_iters': 40000})
    cfg.default_hooks.logger.interval = 50
    log_progress_often(cfg)  # long runs keep the config's interval
    assert cfg.default_hooks.logger.interval == 50


def test_predict_flow_without_checkpoint_is_refused(tmp_path):
    import cv2
    img = np.zeros((32, 48, 3), np.uint8)
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(tmp_path / name), img)
    out = fail([sys.executable, 'tools/predict_flow.py',
                str(tmp_path / 'a.png'), str(tmp_path / 'b.png'), '--config',
                osp.join(REPO, 'configs', 'winwin_vitti_flow_demo.py'),
                '--out-dir', str(tmp_path / 'o'), '--device', 'cpu'])
    assert 'No --checkpoint given' in out and '--random-weights' in out
    assert not (tmp_path / 'o').exists()


def test_corrupt_image_names_file_and_fix(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import TRANSFORMS
    from winwin_mm.datasets import ImageFileError
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\x00' * 20)
    cfg = Config.fromfile(CAMVID)  # the shipped pipelines use it
    load = cfg.train_dataloader.dataset.pipeline[0]
    assert load['type'] == 'winwin_mm.LoadImageFromFile'
    init_default_scope('mmseg')
    with pytest.raises(ImageFileError, match=r'broken.png: cannot be decoded '
                       r'as an image .*corrupt or truncated: re-extract'):
        TRANSFORMS.build(load)(dict(img_path=str(bad)))
