"""End-to-end tool paths on a tiny real case: train, test, resume, mim test,
multi-process training and testing, and a config outside the repository
that uses ``custom_imports``. Each runs the real tools in a subprocess."""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest

from winwin_mm.datasets.synthetic_seg import generate

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))

EXTERNAL_CONFIG = """
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['winwin_mm'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='winwin_mm.WinWinEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[128.] * 3,
                           std=[64.] * 3, bgr_to_rgb=True, size_divisor=16,
                           test_cfg=dict(size_divisor=16)),
    backbone=dict(type='winwin_mm.RoPEViT',
                  arch=dict(embed_dims=32, num_layers=2, num_heads=2),
                  out_indices=(0, 1)),
    decode_head=dict(type='FCNHead', in_channels=32, in_index=1, channels=16,
                     num_convs=1, num_classes=5, norm_cfg=norm_cfg,
                     loss_decode=dict(type='winwin_mm.WindowLoss',
                                      loss=dict(type='CrossEntropyLoss'))),
    test_cfg=dict(mode='whole'))
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label', 'window_boxes')
ds = dict(type='winwin_mm.WinWinDemoDataset', data_root='{root}')
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(ds, data_prefix=dict(img_path='img_dir/train',
                                      seg_map_path='ann_dir/train'),
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations'),
                           dict(type='winwin_mm.RandomWindows', num_windows=2,
                                window_size=2, patch_size=16),
                           dict(type='PackSegInputs', meta_keys=meta_keys)]))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ds, data_prefix=dict(img_path='img_dir/val',
                                      seg_map_path='ann_dir/val'),
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations'),
                           dict(type='PackSegInputs')]))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                     interval=1),
                     logger=dict(type='LoggerHook', interval=1),
                     visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
"""


def run(cmd, **kw):
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)  # must not be needed
    env['PYTHONWARNINGS'] = 'ignore'
    env['OMP_NUM_THREADS'] = '1'
    proc = subprocess.run(cmd, cwd=kw.pop('cwd', REPO), env=env,
                          capture_output=True, text=True, timeout=600, **kw)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{cmd} failed:\n{out[-4000:]}'
    return out


@pytest.fixture(scope='module')
def external(tmp_path_factory):
    """A dataset and a config outside the repository."""
    base = tmp_path_factory.mktemp('external')
    root = generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)
    cfg = base / 'my_winwin_config.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root))
    return base, str(cfg)


@pytest.fixture(scope='module')
def trained(external):
    base, cfg = external
    work = str(base / 'work')
    out = run([sys.executable, 'tools/train.py', cfg, '--work-dir', work])
    assert 'Iter(train) [2/2]' in out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    return cfg, work


def test_test_tool_evaluates_checkpoint(trained, tmp_path):
    cfg, work = trained
    out = run([sys.executable, 'tools/test.py', cfg,
               osp.join(work, 'iter_2.pth'), '--work-dir', str(tmp_path),
               '--show-dir', str(tmp_path / 'vis'), '--cfg-options',
               'default_hooks.visualization.interval=1'])
    assert re.search(r'mIoU: \d+\.\d+', out)
    assert glob.glob(str(tmp_path / '**' / '*.png'), recursive=True)


def test_resume_continues_from_last_checkpoint(trained, tmp_path):
    cfg, work = trained
    resumed = str(tmp_path / 'resumed')
    shutil.copytree(work, resumed)
    out = run([sys.executable, 'tools/train.py', cfg, '--work-dir', resumed,
               '--resume', '--cfg-options', 'train_cfg.max_iters=3'])
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/3]' in out and 'Iter(train) [1/3]' not in out
    assert osp.isfile(osp.join(resumed, 'iter_3.pth'))


def test_mim_test_on_external_config(trained, tmp_path):
    cfg, work = trained
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.exists(mim):
        pytest.skip('mim not installed in this environment')
    out = run([mim, 'test', 'mmseg', cfg, '--checkpoint',
               osp.join(work, 'iter_2.pth'), '--work-dir', str(tmp_path)],
              cwd=str(tmp_path))
    assert re.search(r'mIoU: \d+\.\d+', out)


def test_dist_train_two_processes(external, tmp_path):
    _, cfg = external
    work = str(tmp_path / 'dist')
    port = str(29500 + os.getpid() % 1000)
    out = run(['env', f'PORT={port}', f'PYTHON={sys.executable}', 'bash',
               'tools/dist_train.sh', cfg, '2', '--work-dir', work])
    assert 'Distributed launcher: pytorch' in out
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out  # MMEngine's wording for the world size
    assert 'Iter(train) [2/2]' in out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))


def _test_scores(out):
    """The ``aAcc`` and ``mIoU`` that the test loop logged last."""
    return re.findall(r'aAcc: (\d+\.\d+)\s+mIoU: (\d+\.\d+)', out)[-1]


def test_dist_test_two_processes_matches_one(trained, tmp_path):
    """Two ranks each test half of the val set; the gathered scores must be
    those of a single-process test of the same checkpoint."""
    cfg, work = trained
    ckpt = osp.join(work, 'iter_2.pth')
    single = run([sys.executable, 'tools/test.py', cfg, ckpt,
                  '--work-dir', str(tmp_path / 'single')])
    port = str(30500 + os.getpid() % 1000)
    dist = run(['env', f'PORT={port}', f'PYTHON={sys.executable}', 'bash',
                'tools/dist_test.sh', cfg, ckpt, '2',
                '--work-dir', str(tmp_path / 'dist')])
    assert 'Distributed training: True' in dist
    assert 'GPU number: 2' in dist
    assert _test_scores(dist) == _test_scores(single)


@pytest.mark.parametrize('iters', [1, 7, 600])
def test_set_max_iters_rescales_the_whole_schedule(iters):
    """tools/demo.py --iters and tools/ablate.py --iters: the demo config's
    30-iteration warm-up and poly decay fit any length, and MMEngine builds
    and steps the schedulers (it refuses end <= begin)."""
    from mmengine.registry import PARAM_SCHEDULERS
    from winwin_mm.utils.launch import set_max_iters
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'winwin_demo.py'))
    n = cfg.train_cfg.max_iters
    set_max_iters(cfg, iters)
    assert cfg.train_cfg.max_iters == iters
    warm, poly = cfg.param_scheduler
    assert warm.begin == 0 and poly.end == iters and warm.end <= poly.begin + 1
    assert warm.end == max(1, round(30 * iters / n))
    import torch
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.)
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=opt))
              for s in cfg.param_scheduler]
    for _ in range(iters):
        opt.step()
        for s in scheds:
            s.step()
    with pytest.raises(ValueError, match='iters must be >= 1'):
        set_max_iters(cfg, 0)
