"""Messages that name the cause (issue 24): a checkpoint that holds code, a
directory given as checkpoint, a segmentation checkpoint given to
predict_flow, the demo config before `make demo`."""
import os
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch

import winwin_mm  # noqa: F401

from test_reliability_windows import fail
from test_tools import REPO


class Code:
    def __reduce__(self):
        return (os.system, ('touch PWNED',))


@pytest.mark.parametrize('writer', ['torch', 'pickle'])
def test_checkpoint_with_code_is_refused_as_code(tmp_path, writer):
    from mmengine.runner.checkpoint import _load_checkpoint
    from winwin_mm.utils.torch_compat import CheckpointCodeError
    path = tmp_path / 'evil.pth'
    if writer == 'torch':
        torch.save({'state_dict': Code()}, path)
    else:
        pickle.dump({'state_dict': Code()}, open(path, 'wb'))
    with pytest.raises(CheckpointCodeError) as e:
        _load_checkpoint(str(path), map_location='cpu')
    msg = str(e.value)
    assert f'Checkpoint {path} refused: it contains code (posix.system)' \
        in msg
    assert 'Load only files you trust with torch.load(' in msg
    assert "torch's reason: Weights only load failed" in msg
    assert 'truncated' not in msg
    assert not (tmp_path / 'PWNED').exists() and not osp.exists(
        osp.join(REPO, 'PWNED'))


def test_directory_as_checkpoint(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    (tmp_path / 'iter_2.pth').write_bytes(b'')
    with pytest.raises(IsADirectoryError, match=r'is a directory, not a '
                       r'checkpoint file. Fix: pass one of its .pth files '
                       r'\(it holds iter_2.pth\)'):
        _load_checkpoint(str(tmp_path), map_location='cpu')
    out = fail([sys.executable, 'tools/test.py',
                osp.join(REPO, 'configs', 'winwin_demo.py'), str(tmp_path)])
    assert f'Checkpoint {tmp_path} is a directory' in out
    assert 'it holds iter_2.pth' in out


def test_predict_flow_names_the_task_of_a_segmentation_checkpoint(tmp_path):
    import cv2
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    seg = Config.fromfile(osp.join(REPO, 'configs', 'winwin_demo.py'))
    ckpt = tmp_path / 'seg.pth'
    torch.save({'state_dict': MODELS.build(seg.model).state_dict(),
                'meta': {}}, ckpt)
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(tmp_path / name), np.zeros((32, 48, 3), np.uint8))
    out = fail([sys.executable, 'tools/predict_flow.py',
                str(tmp_path / 'a.png'), str(tmp_path / 'b.png'), '--config',
                osp.join(REPO, 'configs', 'winwin_vitti_flow_demo.py'),
                '--checkpoint', str(ckpt), '--out-dir', str(tmp_path / 'o'),
                '--device', 'cpu'])
    assert f'Checkpoint {ckpt} is for segmentation or depth' in out
    assert 'Fix: pass a checkpoint trained with a flow config' in out
    assert 'Traceback' not in out and out.count('\n') < 40


def test_demo_config_before_make_demo_says_how_data_is_made(tmp_path):
    if osp.exists(osp.join(REPO, 'data', 'winwin_demo')):
        pytest.skip('the demo data exists in this checkout')
    out = fail([sys.executable, 'tools/train.py', 'configs/winwin_demo.py',
                '--work-dir', str(tmp_path / 'w')])
    assert 'The demo dataset is not there' in out
    assert 'run `make demo`' in out and 'generate(' in out


def test_one_window_batch_one_batchnorm_names_the_fix(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    from test_reliability_windows import _batch
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'winwin_demo.py'))
    cfg.model.backbone.arch = dict(embed_dims=32, num_layers=4, num_heads=1)
    cfg.model.neck.in_channels = [32] * 4
    cfg.model.neck.out_channels = 32
    cfg.model.auxiliary_head.in_channels = 32
    cfg.model.decode_head.in_channels = [32] * 4
    model = MODELS.build(cfg.model).train()
    x, s = _batch([dict(type='winwin_mm.RandomWindows', num_windows=1,
                        window_size=3, patch_size=16),
                   dict(type='winwin_mm.PackWinWinInputs')], n=1)
    with pytest.raises(ValueError, match=r'heads see 1 sample\(s\) per step'
                       r'.*Fix: use train_dataloader.batch_size >= 2 or '
                       r'num_windows >= 2'):
        model.loss(x, s)


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (needs the right to mount; skipped otherwise)."""
    import subprocess
    mnt = tmp_path / 'disk'
    mnt.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs',
                       str(mnt)], capture_output=True).returncode != 0:
        pytest.skip('cannot mount a small tmpfs here')
    yield mnt
    subprocess.run(['umount', str(mnt)])


def test_full_disk_names_the_checkpoint_file(tmp_path, small_disk):
    from winwin_mm.datasets.synthetic_seg import generate
    from test_tools import EXTERNAL_CONFIG
    root = generate(str(tmp_path / 'data'), num_train=2, num_val=1,
                    size=(64, 128), seed=1)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root))
    out = fail([sys.executable, 'tools/train.py', str(cfg), '--work-dir',
                str(small_disk)])
    assert f'Writing checkpoint {small_disk}/iter_1.pth failed: No space ' \
        'left on device' in out
    assert 'Fix: free disk space' in out
    assert not list(small_disk.glob('*.partial'))
