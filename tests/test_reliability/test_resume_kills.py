"""Issue 24, acceptance 2: a run SIGKILLed (a) mid-iteration, (b) mid-save,
(c) between the rename of a checkpoint and the update of
``last_checkpoint``, (d) after a validation, (e) during a validation, then
resumed with ``--resume``, ends with exactly the weights and optimizer state
of an uninterrupted run (CPU, bitwise). Training draws from torch (dropout)
and numpy (random windows); validation runs every 2 iterations, at the
iterations that also save checkpoints, so every resume crosses one."""
import os.path as osp
import signal

import pytest
import torch

from winwin_mm.datasets.synthetic_seg import generate

from test_tools import EXTERNAL_CONFIG
from train_cli import train

KILL_CONFIG = """
custom_imports = dict(imports=['winwin_mm', 'kill_points'],
                      allow_failed_imports=False)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=6, val_interval=2)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                     interval=2, max_keep_ckpts=1),
                     logger=dict(type='LoggerHook', interval=1))
custom_hooks = [dict(type='winwin_mm.RNGStateHook'), dict(type='KillAtHook')]
randomness = dict(seed=0, deterministic=True)
model['decode_head']['dropout_ratio'] = 0.5   # training draws from torch
"""


@pytest.fixture(scope='module')
def kill_cfg(tmp_path_factory):
    base = tmp_path_factory.mktemp('kill')
    root = generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)
    cfg = base / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root) + KILL_CONFIG)
    return str(cfg)


def final_state(work):
    ckpt = torch.load(osp.join(work, 'iter_6.pth'), map_location='cpu',
                      weights_only=False)
    opt = {f'optimizer.{i}.{k}': v for i, s in
           ckpt['optimizer']['state'].items() for k, v in s.items()}
    return dict(ckpt['state_dict'], **opt)


@pytest.fixture(scope='module')
def uninterrupted(kill_cfg, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('full') / 'work')
    code, out = train([kill_cfg, '--work-dir', work], osp.join(work + '.log'))
    assert code == 0, out[-3000:]
    return final_state(work)


@pytest.mark.parametrize('point, at, resumed_at', [
    ('forward', 5, 4),     # (a) mid-iteration
    ('save', 4, 2),        # (b) mid-save: iter_4 half written
    ('rename', 4, 4),      # (c) iter_4.pth in place, last_checkpoint old
    ('after_val', 4, 4),   # (d) after the validation of iteration 4
    ('val_iter', 4, 4),    # (e) during it
])
def test_sigkill_then_resume_is_bitwise_exact(kill_cfg, uninterrupted,
                                              tmp_path, point, at,
                                              resumed_at):
    work = str(tmp_path / 'work')
    code, out = train([kill_cfg, '--work-dir', work],
                      str(tmp_path / 'killed.log'),
                      env=dict(WINWIN_KILL_AT=f'{point}@{at}'))
    assert code == -signal.SIGKILL, out[-3000:]
    last = open(osp.join(work, 'last_checkpoint')).read()
    if point == 'save':
        assert osp.getsize(osp.join(work, 'iter_4.pth.partial')) > 0
        assert not osp.exists(osp.join(work, 'iter_4.pth'))
    if point in ('save', 'rename'):
        assert last == 'iter_2.pth'
        assert osp.exists(osp.join(work, 'iter_2.pth'))
    if point == 'rename':
        assert osp.exists(osp.join(work, 'iter_4.pth'))
    assert not osp.exists(osp.join(work, 'iter_6.pth'))

    code, out = train([kill_cfg, '--work-dir', work, '--resume'],
                      str(tmp_path / 'resumed.log'))
    assert code == 0, out[-3000:]
    assert f'resumed epoch: 0, iter: {resumed_at}' in out
    if point == 'rename':
        assert ('last_checkpoint names iter_2.pth; resuming from the newest '
                f'complete checkpoint {osp.join(work, "iter_4.pth")}') in out
    # the validation of the resumed iteration runs (again) before training
    # goes on: it may have been interrupted, and what it updates is not in
    # the checkpoint written before it
    first_train = out.index(f'Iter(train) [{resumed_at + 1}/6]')
    assert 'Iter(val) [2/2]' in out[:first_train]
    assert 'Iter(train) [1/6]' not in out
    resumed = final_state(work)
    assert resumed.keys() == uninterrupted.keys()
    differ = [k for k in resumed
              if not torch.equal(resumed[k], uninterrupted[k])]
    assert not differ, f'{len(differ)} of {len(resumed)} tensors differ'
