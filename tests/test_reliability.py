"""Bad input gets a clear error; a SIGKILLed run resumes exactly; a
non-finite loss stops training with a message."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate
from winwin_mm.windows import WindowSizeError

from test_tools import EXTERNAL_CONFIG, REPO, run


def test_window_that_cannot_fit_names_sizes():
    from winwin_mm.datasets.random_windows import RandomWindows
    t = RandomWindows(num_windows=3, window_size=30, patch_size=16)
    with pytest.raises(WindowSizeError, match=r'720x1280 pixels.*3 non-'
                       r'overlapping windows of 30x30 patches.*45x80'):
        t(dict(img_shape=(720, 1280), img_path='x.jpg'))


@pytest.mark.parametrize('damage', ['truncated', 'garbage'])
def test_corrupt_label_map_names_file(tmp_path, damage):
    import cv2
    from mmengine.registry import init_default_scope
    from mmseg.registry import TRANSFORMS
    init_default_scope('mmseg')
    good = tmp_path / 'good.png'
    cv2.imwrite(str(good), (np.arange(64 * 64) % 7).reshape(64, 64)
                .astype(np.uint8))
    data = good.read_bytes()
    bad = tmp_path / f'{damage}_label.png'
    bad.write_bytes(data[:len(data) // 2] if damage == 'truncated' else
                    b'not a png at all' * 4)
    load = TRANSFORMS.build(dict(type='winwin_mm.LoadAnnotations'))
    out = load(dict(seg_map_path=str(good), reduce_zero_label=False,
                    seg_fields=[]))
    assert out['gt_seg_map'].max() == 6
    with pytest.raises(ValueError, match=rf'{damage}_label.png: cannot be '
                       r'decoded as a label map .*corrupt or truncated'):
        load(dict(seg_map_path=str(bad), reduce_zero_label=False,
                  seg_fields=[]))


def test_shipped_seg_configs_load_labels_with_named_errors():
    from mmengine.config import Config
    for name in ('winwin_vits_camvid', 'winwin_vitb_bdd100k',
                 'winwin_vitb_cityscapes', 'winwin_vitb_ade20k',
                 'winwin_demo'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', name + '.py'))
        types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
        assert 'winwin_mm.LoadAnnotations' in types, (name, types)


def test_missing_dataset_folder_says_how_to_prepare(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    with pytest.raises(FileNotFoundError, match=r'CamVid dataset folder .*'
                       r'nowhere.*README.md#camvid'):
        DATASETS.build(dict(type='winwin_mm.CamVidDataset',
                            data_root=str(tmp_path / 'nowhere'),
                            pipeline=[]))


def test_label_out_of_range_names_file():
    from mmengine.config import ConfigDict
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    init_default_scope('mmseg')
    model = MODELS.build(ConfigDict(
        type='winwin_mm.WinWinEncoderDecoder',
        backbone=dict(type='winwin_mm.RoPEViT', patch_size=8,
                      arch=dict(embed_dims=16, num_layers=1, num_heads=1),
                      out_indices=(0, )),
        decode_head=dict(type='FCNHead', in_channels=16, channels=8,
                         num_convs=1, num_classes=3, in_index=0,
                         loss_decode=dict(type='winwin_mm.WindowLoss',
                                          loss=dict(type='CrossEntropyLoss'))),
        test_cfg=dict(mode='whole')))
    s = SegDataSample(metainfo=dict(seg_map_path='labels/bad_0001.png',
                                    img_shape=(16, 16)))
    seg = torch.zeros(1, 16, 16, dtype=torch.long)
    seg[0, 0, :3] = torch.tensor([7, 255, 2])  # 7 is wrong, 255 ignored
    s.gt_sem_seg = PixelData(data=seg)
    with pytest.raises(ValueError, match=r'bad_0001.png: label values \[7\] '
                       r'are outside \[0, 3\)'):
        model.loss(torch.zeros(1, 3, 16, 16), [s])


def test_amp_on_cpu_is_refused(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/winwin_demo.py', '--amp',
         '--work-dir', str(tmp_path)], cwd=REPO, capture_output=True,
        text=True, timeout=300)
    assert proc.returncode != 0
    assert '--amp needs a CUDA GPU' in proc.stderr + proc.stdout


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    base = tmp_path_factory.mktemp('rel')
    return generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)


def _config(tmp_path, root, extra=''):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root) + extra)
    return str(cfg)


def test_num_classes_mismatch_is_reported(tmp_path, tiny_data):
    cfg = _config(tmp_path, tiny_data, """
model['decode_head']['num_classes'] = 7
custom_hooks = [dict(type='winwin_mm.DatasetConsistencyHook')]
""")
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', cfg, '--work-dir',
         str(tmp_path / 'w')], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode != 0
    assert ('model.decode_head.num_classes=7 but the WinWinDemoDataset of '
            'train_dataloader has 5 classes') in proc.stderr


def _final_state(work):
    ckpt = torch.load(osp.join(work, 'iter_6.pth'), map_location='cpu')
    return ckpt['state_dict']


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, tiny_data):
    extra = """
train_cfg = dict(type='IterBasedTrainLoop', max_iters=6, val_interval=100)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                     interval=2))
custom_hooks = [dict(type='winwin_mm.RNGStateHook')]
randomness = dict(seed=0, deterministic=True)
model['decode_head']['dropout_ratio'] = 0.5   # RNG-dependent training
"""
    cfg = _config(tmp_path, tiny_data, extra)
    full = str(tmp_path / 'full')
    run([sys.executable, 'tools/train.py', cfg, '--work-dir', full])

    killed = str(tmp_path / 'killed')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', killed],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.exists(osp.join(killed, 'iter_4.pth')):
        assert proc.poll() is None, 'training ended before it was killed'
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not osp.exists(osp.join(killed, 'iter_6.pth'))
    out = run([sys.executable, 'tools/train.py', cfg, '--work-dir', killed,
               '--resume'])
    assert 'resumed epoch: 0, iter:' in out
    a, b = _final_state(full), _final_state(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


class NaNAfterTwoCalls(torch.nn.Module):
    """Cross-entropy that turns NaN from its third call on."""
    loss_name = 'loss_flaky'
    calls = 0

    def forward(self, pred, target, reduction_override=None, **kw):
        type(self).calls += 1
        per = torch.nn.functional.cross_entropy(pred, target,
                                                reduction='none',
                                                ignore_index=255)
        return per * float('nan') if type(self).calls > 2 else per


@pytest.fixture
def flaky_loss():
    """Register the test-only loss for one test and remove it afterwards
    (no global registration leaks into other tests)."""
    from winwin_mm.registry import MODELS
    name = NaNAfterTwoCalls.__name__
    assert name not in MODELS.module_dict
    MODELS.register_module(module=NaNAfterTwoCalls)
    NaNAfterTwoCalls.calls = 0
    yield name
    MODELS.module_dict.pop(name)


def test_nan_loss_stops_with_iteration_terms_and_checkpoint(tmp_path,
                                                            tiny_data,
                                                            flaky_loss):
    """A loss that turns NaN at iteration 3 stops the run there."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(_config(tmp_path, tiny_data, """
model['decode_head']['loss_decode'] = dict(
    type='winwin_mm.WindowLoss', loss=dict(type='NaNAfterTwoCalls'))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=5, val_interval=100)
custom_hooks = [dict(type='winwin_mm.NonFiniteLossHook')]
"""))
    cfg.work_dir = str(tmp_path / 'nan')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError) as e:
        runner.train()
    msg = str(e.value)
    assert 'Non-finite loss at iteration 3' in msg
    assert 'decode.loss_flaky=nan' in msg
    assert 'iter_2.pth' in msg
    assert not osp.exists(osp.join(cfg.work_dir, 'iter_3.pth'))
