"""The environment winwin_mm sets up: mmcv-lite with a placeholder for the
compiled ops, version checks at import, and MIM packaging (``winwin_mm::``
configs, ``mim test mmseg`` / ``mim test winwin_mm``) of a regular install."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest
import torch

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate
from winwin_mm.utils.mmcv_ext import (MMCVOpsUnavailableError,
                                      mmcv_ops_available)
from winwin_mm.utils.version_check import (IncompatibleVersionError,
                                           check_versions, installed_versions,
                                           version_problems)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))


def _env(**extra):
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.update(PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1', **extra)
    return env


def test_mmcv_ops_placeholder_or_real_ops():
    """With mmcv-lite every mmcv op raises an error naming the op and the
    fix; with the full mmcv the ops are the real ones and work."""
    import mmcv.ops
    import mmseg.models  # noqa: F401  imports mmcv.ops at import time
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    if mmcv_ops_available():
        dets, keep = mmcv.ops.nms(boxes, scores, 0.5)
        assert keep.tolist() == [0, 2]
        return
    with pytest.raises(MMCVOpsUnavailableError) as e:
        mmcv.ops.nms(boxes, scores, 0.5)
    msg = str(e.value)
    assert '`nms`' in msg and 'mmcv-lite' in msg
    assert 'MMCV_FULL=1' in msg and 'mmcv==2.1.0' in msg
    # MMEngine asks the same question and must get the same answer
    from mmengine.utils.dl_utils import mmcv_full_available
    assert mmcv_full_available() is False


def test_installed_stack_passes_the_check():
    found = installed_versions()
    assert version_problems(found) == []
    check_versions(found)
    assert torch.__version__.split('+')[0] == found['torch'].split('+')[0]


@pytest.mark.parametrize('found, expected', [
    (dict(torch='2.0.1', mmengine='0.10.7', mmsegmentation='1.2.2',
          mmcv={'mmcv-lite': '2.1.0'}),
     ['torch 2.0.1 is installed but winwin_mm supports torch>=2.1.0,<2.15.0',
      'pip install torch==2.13.0']),
    (dict(torch='2.11.0+cu130', mmengine='0.10.7', mmsegmentation='1.2.2',
          mmcv={'mmcv': '2.2.0'}),
     ['mmcv 2.2.0 is installed but winwin_mm supports mmcv>=2.0.0,<2.2.0',
      'pip install mmcv==2.1.0']),
    (dict(torch='2.13.0', mmengine='0.10.7', mmsegmentation=None,
          mmcv={'mmcv-lite': '2.1.0'}),
     ['mmsegmentation is not installed', 'mmsegmentation==1.2.2']),
    (dict(torch='2.13.0', mmengine='0.10.7', mmsegmentation='1.2.2',
          mmcv={'mmcv-lite': '2.1.0', 'mmcv': '2.1.0'}),
     ['several mmcv builds are installed (mmcv-lite 2.1.0, mmcv 2.1.0)',
      'pip uninstall -y mmcv-lite mmcv']),
    (dict(torch='2.13.0', mmengine='0.10.7', mmsegmentation='1.2.2',
          mmcv={}),
     ['mmcv is not installed', 'mmcv-lite==2.1.0']),
])
def test_version_problems_name_installed_and_supported(found, expected):
    problems = version_problems(found)
    assert len(problems) == 1, problems
    for text in expected:
        assert text in problems[0]
    with pytest.raises(IncompatibleVersionError) as e:
        check_versions(found)
    assert 'WINWIN_MM_SKIP_VERSION_CHECK=1' in str(e.value)


def test_unsupported_version_fails_at_import(tmp_path):
    """A real interpreter that sees mmengine 0.9.0 (a distribution shadowing
    the installed one) gets the version message from ``import winwin_mm``,
    not a traceback from inside mmseg."""
    dist = tmp_path / 'mmengine-0.9.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: mmengine\nVersion: 0.9.0\n')
    proc = subprocess.run(
        [sys.executable, '-c', 'import winwin_mm'], cwd=str(tmp_path),
        env=_env(PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO}'),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    err = proc.stderr
    assert 'IncompatibleVersionError' in err
    assert ('mmengine 0.9.0 is installed but winwin_mm supports '
            'mmengine>=0.10.0,<0.11.0 (tested: 0.10.7)') in err
    assert 'pip install mmengine==0.10.7' in err
    assert 'mmseg' not in err.replace('mmsegmentation', '')


EXTERNAL = """
_base_ = ['winwin_mm::_base_/../winwin_demo.py']
root = '{root}'
model = dict(
    backbone=dict(arch=dict(embed_dims=32, num_layers=4, num_heads=2)),
    neck=dict(in_channels=[32] * 4, out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=16),
    auxiliary_head=dict(in_channels=32, channels=16))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=root))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
"""


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A regular (non-editable) ``pip install .`` of this checkout into an
    environment that borrows the other packages of the running one."""
    base = tmp_path_factory.mktemp('mim')
    src = base / 'src'
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', '.wheels', 'data', 'work_dirs', 'build', '.mim',
        '__pycache__', '*.egg-info', 'out'))
    venv = base / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)],
                   check=True)
    py = str(venv / 'bin' / 'python')
    site = subprocess.run(
        [py, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
        capture_output=True, text=True, check=True).stdout.strip()
    # the running environment's packages (torch, mmseg, ...) after our own
    with open(osp.join(site, '_borrowed.pth'), 'w') as f:
        f.write(sysconfig.get_path('purelib') + '\n')
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--target', site, str(src)],
        capture_output=True, text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(osp.join(site, 'winwin_mm', '.mim', 'configs',
                               'winwin_demo.py'))
    assert not osp.islink(osp.join(site, 'winwin_mm', '.mim', 'configs'))
    work = base / 'user'
    work.mkdir()
    root = generate(str(work / 'data'), num_train=4, num_val=2,
                    size=(192, 384), seed=1)
    cfg = work / 'my_config.py'
    cfg.write_text(EXTERNAL.replace('{root}', root))
    return py, site, work, str(cfg)


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=str(cwd), env=_env(), capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{cmd} failed:\n{out[-4000:]}'
    return out


def test_installed_package_scope_and_mim(installed):
    """A config outside the repository inherits a shipped config through
    ``winwin_mm::``, trains with the installed ``tools/train.py``, and tests
    with ``mim test mmseg`` (MMSegmentation's tool parses the config before
    anything imports winwin_mm) and ``mim test winwin_mm``; ``mim train winwin_mm`` trains it too."""
    py, site, work, cfg = installed
    # a new interpreter knows the scope without importing torch or winwin_mm
    out = _run([py, '-c', 'import sys, mmengine.config.utils as u; '
                'print(u.MODULE2PACKAGE["winwin_mm"], "torch" in sys.modules,'
                ' "winwin_mm" in sys.modules)'], work)
    assert out.split() == ['winwin_mm', 'False', 'False']
    train = osp.join(site, 'winwin_mm', '.mim', 'tools', 'train.py')
    out = _run([py, train, cfg, '--work-dir', str(work / 'train')], work)
    assert 'Iter(train) [2/2]' in out
    ckpt = str(work / 'train' / 'iter_2.pth')
    assert osp.isfile(ckpt)
    scores = re.findall(r'aAcc: (\d+\.\d+)\s+mIoU: (\d+\.\d+)', out)[-1]
    for pkg in ('mmseg', 'winwin_mm'):
        out = _run([py, '-m', 'mim', 'test', pkg, cfg, '--checkpoint', ckpt,
                    '--work-dir', str(work / f'test_{pkg}')], work)
        assert re.findall(r'aAcc: (\d+\.\d+)\s+mIoU: (\d+\.\d+)',
                          out)[-1] == scores, pkg
    out = _run([py, '-m', 'mim', 'train', 'winwin_mm', cfg, '--work-dir',
                str(work / 'mim_train'), '--cfg-options',
                'train_cfg.max_iters=1'], work)
    assert 'Iter(train) [1/1]' in out
