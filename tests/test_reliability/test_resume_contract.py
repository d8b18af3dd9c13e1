"""Issue 24, acceptance 3: ``--resume`` with nothing usable fails naming the
work dir and what it holds (``--resume auto`` starts from scratch instead);
the newest complete checkpoint is resumed whatever ``last_checkpoint``
says; a new run never overwrites or deletes an earlier run's checkpoints."""
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from winwin_mm.datasets.synthetic_seg import generate

from test_tools import EXTERNAL_CONFIG, REPO
from train_cli import train

SHORT = """
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=100)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                     interval=1, max_keep_ckpts=1),
                     logger=dict(type='LoggerHook', interval=1))
"""


@pytest.fixture(scope='module')
def earlier(tmp_path_factory):
    """A config and the work dir of a run stopped after 2 of 3 iterations
    (iter_1.pth was removed by max_keep_ckpts=1)."""
    base = tmp_path_factory.mktemp('contract')
    root = generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)
    cfg = base / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root) + SHORT)
    work = str(base / 'work')
    code, out = train([str(cfg), '--work-dir', work, '--cfg-options',
                       'train_cfg.max_iters=2'], str(base / 'first.log'))
    assert code == 0, out[-3000:]
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    return str(cfg), work


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def test_resume_on_missing_work_dir_fails(earlier, tmp_path):
    cfg, _ = earlier
    missing = str(tmp_path / 'work_dirs' / 'mistyped')
    proc = subprocess.run(  # the real command line, in a fresh interpreter
        [sys.executable, 'tools/train.py', cfg, '--work-dir', missing,
         '--resume'], cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1',
                 PYTHONWARNINGS='ignore'))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert f'the work dir {missing} does not exist' in out
    assert '--resume auto' in out
    assert not osp.exists(missing)


@pytest.mark.parametrize('content', [None, '', 'iter_9.pth'])
def test_resume_on_work_dir_without_checkpoint_fails(earlier, tmp_path,
                                                     content):
    cfg, _ = earlier
    work = tmp_path / 'work'
    work.mkdir()
    if content is not None:
        (work / 'last_checkpoint').write_text(content)
    code, out = train([cfg, '--work-dir', str(work), '--resume'],
                      str(tmp_path / 'log'))
    assert code != 0, out[-3000:]
    said = {None: 'no last_checkpoint file', '': 'an empty last_checkpoint',
            'iter_9.pth': 'last_checkpoint naming iter_9.pth (missing)'}
    assert (f'the work dir {work} holds no complete checkpoint '
            f'({said[content]}; no checkpoint file)') in out
    assert 'Iter(train)' not in out


def test_resume_auto_starts_from_scratch_when_nothing_to_resume(
        earlier, tmp_path):
    cfg, _ = earlier
    work = str(tmp_path / 'work')
    code, out = train([cfg, '--work-dir', work, '--resume', 'auto'],
                      str(tmp_path / 'log'))
    assert code == 0, out[-3000:]
    assert (f'--resume auto: nothing to resume (the work dir {work} does '
            'not exist); training from scratch.') in out
    assert 'Iter(train) [3/3]' in out and osp.isfile(osp.join(work,
                                                              'iter_3.pth'))


def test_empty_last_checkpoint_resumes_the_checkpoint_beside_it(earlier,
                                                               tmp_path):
    cfg, work0 = earlier
    work = tmp_path / 'work'
    shutil.copytree(work0, work)
    (work / 'last_checkpoint').write_text('')
    code, out = train([cfg, '--work-dir', str(work), '--resume'],
                      str(tmp_path / 'log'))
    assert code == 0, out[-3000:]
    assert ('an empty last_checkpoint; resuming from the newest complete '
            f'checkpoint {work / "iter_2.pth"}') in out
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [1/3]' not in out and 'Iter(train) [3/3]' in out


def test_incomplete_newest_checkpoint_resumes_the_one_before(earlier,
                                                            tmp_path):
    cfg, work0 = earlier
    work = tmp_path / 'work'
    shutil.copytree(work0, work)
    data = (work / 'iter_2.pth').read_bytes()
    (work / 'iter_3.pth').write_bytes(data[:len(data) // 2])  # cut short
    (work / 'last_checkpoint').write_text('iter_3.pth')
    code, out = train([cfg, '--work-dir', str(work), '--resume',
                       '--cfg-options', 'train_cfg.max_iters=4'],
                      str(tmp_path / 'log'))
    assert code == 0, out[-3000:]
    assert ('last_checkpoint names iter_3.pth; iter_3.pth incomplete; '
            'resuming from the newest complete checkpoint') in out
    assert 'resumed epoch: 0, iter: 2' in out


def test_new_run_never_overwrites_earlier_checkpoints(earlier, tmp_path):
    cfg, work0 = earlier
    work = tmp_path / 'work'
    shutil.copytree(work0, work)
    (work / 'last_checkpoint').write_text('')
    before = digest(work / 'iter_2.pth')
    code, out = train([cfg, '--work-dir', str(work)], str(tmp_path / 'log'))
    assert code != 0, out[-3000:]
    assert (f'{work} holds checkpoints of an earlier run (iter_2.pth); this '
            'run starts from scratch and would overwrite or delete them. To '
            'continue that run add --resume') in out
    assert 'Iter(train)' not in out
    assert digest(work / 'iter_2.pth') == before
    assert sorted(p.name for p in work.iterdir()
                  if p.suffix == '.pth') == ['iter_2.pth']
