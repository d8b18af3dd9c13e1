"""Win-Win cannot silently switch itself off (issue 17, item 1): missing
windows, unpacked window keys, a RandomWindows patch size that is not the
backbone's, and windows in an explicit full-resolution config are refused
with the key and the fix; the shipped configs pack the window keys once."""
import glob
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate

from test_tools import EXTERNAL_CONFIG, REPO


def fail(cmd):
    """Run a tool that must fail; its output."""
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f'{cmd} succeeded:\n{out[-3000:]}'
    return out


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    base = tmp_path_factory.mktemp('relwin')
    return generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)


WINDOWS = ("dict(type='winwin_mm.RandomWindows', num_windows=2,\n"
           "                                window_size=2, patch_size=16),\n")


def test_train_without_random_windows_stops_before_any_checkpoint(
        tmp_path, tiny_data):
    text = EXTERNAL_CONFIG.replace('{root}', tiny_data)
    assert WINDOWS in text
    cfg = tmp_path / 'no_windows.py'
    cfg.write_text(text.replace(WINDOWS, ''))
    work = tmp_path / 'w'
    out = fail([sys.executable, 'tools/train.py', str(cfg), '--work-dir',
                str(work)])
    assert ('WinWinEncoderDecoder: the training batch carries no '
            'window_boxes or window_tokens') in out
    assert 'silently train on the full-resolution image' in out
    assert 'winwin_mm.RandomWindows' in out
    assert 'model.train_windows=False' in out
    assert 'img_dir/train' in out  # names the image
    assert not glob.glob(str(work / '*.pth'))


def _model(patch=8, **kw):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    return MODELS.build(dict(
        type='winwin_mm.WinWinEncoderDecoder',
        backbone=dict(type='winwin_mm.RoPEViT', patch_size=patch,
                      arch=dict(embed_dims=16, num_layers=1, num_heads=1),
                      out_indices=(0, )),
        decode_head=dict(type='FCNHead', in_channels=16, channels=8,
                         num_convs=1, num_classes=3, in_index=0,
                         loss_decode=dict(type='winwin_mm.WindowLoss',
                                          loss=dict(type='CrossEntropyLoss'))),
        test_cfg=dict(mode='whole'), **kw)).train()


def _batch(pipeline, n=2, h=64, w=96):
    """Real transforms on a synthetic image -> (inputs, data_samples)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import TRANSFORMS
    init_default_scope('mmseg')
    ts = [TRANSFORMS.build(t) for t in pipeline]
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    for i in range(n):
        r = dict(img=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                 gt_seg_map=rng.integers(0, 3, (h, w)).astype(np.uint8),
                 seg_fields=['gt_seg_map'], img_shape=(h, w),
                 ori_shape=(h, w), img_path=f'imgs/{i}.png')
        for t in ts:
            r = t(r)
        inputs.append(r['inputs'].float())
        samples.append(r['data_samples'])
    return torch.stack(inputs), samples


def test_window_keys_not_packed_is_refused():
    # RandomWindows present, but PackSegInputs drops its keys
    x, s = _batch([dict(type='winwin_mm.RandomWindows', num_windows=2,
                        window_size=3, patch_size=8),
                   dict(type='PackSegInputs')])
    with pytest.raises(ValueError, match=r'no window_boxes or window_tokens '
                       r'\(image imgs/0.png\).*PackWinWinInputs.*'
                       r"'window_boxes', 'window_tokens'"):
        _model().loss(x, s)
    # PackWinWinInputs packs them: the same batch trains on the windows
    x, s = _batch([dict(type='winwin_mm.RandomWindows', num_windows=2,
                        window_size=3, patch_size=8),
                   dict(type='winwin_mm.PackWinWinInputs')])
    assert s[0].metainfo['window_boxes'].shape == (2, 4)
    assert s[0].metainfo['window_patch_size'] == 8
    losses = _model().loss(x, s)
    assert torch.isfinite(losses['decode.loss_ce'])


def test_random_windows_patch_size_must_be_the_backbones():
    x, s = _batch([dict(type='winwin_mm.RandomWindows', num_windows=2,
                        window_size=3, patch_size=16),
                   dict(type='winwin_mm.PackWinWinInputs')])
    with pytest.raises(ValueError, match=r'RandomWindows\(patch_size=16\) '
                       r'sampled the windows of image imgs/0.png.*backbone '
                       r'has patch_size=8.*Fix: set patch_size=8 in '
                       r'RandomWindows'):
        _model(patch=8).loss(x, s)


def test_explicit_full_resolution_refuses_windows_and_trains_without():
    x, s = _batch([dict(type='winwin_mm.RandomWindows', num_windows=2,
                        window_size=3, patch_size=8),
                   dict(type='winwin_mm.PackWinWinInputs')])
    model = _model(train_windows=False)
    with pytest.raises(ValueError, match=r'train_windows=False .*carries '
                       r'window_boxes/window_tokens.*remove RandomWindows'):
        model.loss(x, s)
    x, s = _batch([dict(type='winwin_mm.PackWinWinInputs')])
    assert torch.isfinite(model.loss(x, s)['decode.loss_ce'])


def test_num_windows_zero_is_a_named_error():
    from winwin_mm.datasets.random_windows import RandomWindows
    from winwin_mm.windows import WindowSizeError
    with pytest.raises(WindowSizeError, match=r'num_windows >= 1, got 0.*'
                       r'train_windows=False'):
        RandomWindows(num_windows=0, token_fraction=0.3)


def _configs():
    return sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))


@pytest.mark.parametrize('path', _configs(), ids=osp.basename)
def test_shipped_configs_say_windows_or_full_resolution(path):
    """RandomWindows in the train pipeline <=> model.train_windows; the
    window keys are packed by the shared pack transforms, never copied."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    train = str(cfg.train_dataloader)
    has_windows = 'RandomWindows' in train
    assert cfg.model.get('train_windows', True) == has_windows, path
    assert 'window_boxes' not in open(path).read(), path
    if has_windows:
        assert ('PackWinWinInputs' in train or 'PackFlowInputs' in train), \
            path


def test_visualize_windows_refuses_windows_the_model_would_not_use(tmp_path):
    cfg = osp.join(REPO, 'configs', 'winwin_demo.py')
    out = fail([sys.executable, 'tools/visualize_windows.py', cfg,
                '--out', str(tmp_path / 'w.png'), '--cfg-options',
                'model.backbone.patch_size=8'])
    assert ('RandomWindows(patch_size=16) but the model\'s backbone has '
            'patch_size=8') in out
    assert 'Fix: set patch_size=8 in RandomWindows' in out
    out = fail([sys.executable, 'tools/visualize_windows.py', cfg, '--num',
                '0', '--out', str(tmp_path / 'w.png')])
    assert '--num (0) and --cols (2) must be >= 1' in out
    assert not (tmp_path / 'w.png').exists()
