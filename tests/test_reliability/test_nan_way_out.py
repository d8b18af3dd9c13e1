"""Issue 24: a NaN stop leaves a way out that works. A learning rate that
explodes after warm-up makes the loss NaN at iteration 3; the stop points
``last_checkpoint`` at the last good checkpoint (iter_1: iter_2 holds the
weights that gave the NaN and is renamed out of --resume's way) and prints
the command that resumes with a lower lr; that command, run with a sane lr,
resumes from iter_1, honours the lr and trains to the end with finite
weights."""
import os.path as osp
import re
import shlex

import torch

from winwin_mm.datasets.synthetic_seg import generate

from test_tools import EXTERNAL_CONFIG
from train_cli import train

EXPLODING = """
custom_hooks = [dict(type='winwin_mm.NonFiniteLossHook')]
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e36))
param_scheduler = [dict(type='LinearLR', start_factor=1e-40, by_epoch=False,
                        begin=0, end=4)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=100)
"""


def test_nan_stop_advice_resumes_from_last_finite_weights(tmp_path):
    root = generate(str(tmp_path / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root) + EXPLODING)
    work = str(tmp_path / 'work')
    code, out = train([str(cfg), '--work-dir', work], str(tmp_path / 'a.log'))
    assert code == 1, out[-3000:]
    assert 'Non-finite loss at iteration 3' in out
    good = osp.join(work, 'iter_1.pth')
    assert f'last good checkpoint: {good}' in out
    assert open(osp.join(work, 'last_checkpoint')).read() == 'iter_1.pth'
    assert not osp.exists(osp.join(work, 'iter_2.pth'))
    assert osp.exists(osp.join(work, 'iter_2.pth.nonfinite'))
    command = re.search(r'resume from it with a lower learning rate:\n  '
                        r'(python .*)', out).group(1)
    argv = shlex.split(command)
    assert argv[1].endswith('tools/train.py')
    assert argv[2:5] == [str(cfg), '--work-dir', work]
    assert '--resume' in argv
    assert 'optim_wrapper.optimizer.lr=1e+35' in argv  # a tenth
    # the user's choice of lr, in the printed command
    argv = [a if not a.startswith('optim_wrapper.optimizer.lr=') else
            'optim_wrapper.optimizer.lr=0.001' for a in argv]
    code, out = train(argv[2:], str(tmp_path / 'b.log'))
    assert code == 0, out[-3000:]
    assert 'resumed epoch: 0, iter: 1' in out
    assert ("optim_wrapper.optimizer.lr=0.001 differs from the resumed "
            "checkpoint's 1e+36") in out
    lrs = [float(x) for x in re.findall(r'Iter\(train\) \[\d/4\].*?lr: '
                                        r'(\S+)', out)]
    assert lrs and max(lrs) <= 1e-3 * 1.0001, lrs
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu',
                      weights_only=False)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())
