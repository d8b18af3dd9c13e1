"""Checkpoints (issue 17, items 2, 3, 8): a checkpoint that does not fit is
refused by tools/test.py and mim test; unreadable files are named; a SIGKILL
during a checkpoint write never leaves a truncated file under its final name
and --resume continues from the last complete one; a copied work dir resumes
from its copy; diverged weights are not saved as "last good"; torch's
weights_only allow-list is widened only while MMEngine loads a checkpoint."""
import glob
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

import winwin_mm  # noqa: F401
from winwin_mm.datasets.synthetic_seg import generate

from test_reliability_windows import fail
from test_tools import EXTERNAL_CONFIG, REPO, run

STRICT_HOOK = "\ncustom_hooks = [dict(type='winwin_mm.CheckpointMatchHook')]\n"


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp('relckpt')
    root = generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=1)
    cfg = base / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root))
    work = str(base / 'work')
    run([sys.executable, 'tools/train.py', str(cfg), '--work-dir', work])
    return base, str(cfg), work


WIDER = ['--cfg-options', 'model.backbone.arch.embed_dims=48',
         'model.decode_head.in_channels=48']


def test_test_tool_refuses_checkpoint_of_another_model(trained, tmp_path):
    base, cfg, work = trained
    ckpt = osp.join(work, 'iter_2.pth')
    out = fail([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir',
                str(tmp_path / 't'), '--out', str(tmp_path / 'pred')] + WIDER)
    assert f'Checkpoint {ckpt} does not fit the model' in out
    assert 'shape mismatches ' in out
    assert 'backbone.patch_embed.proj.weight: checkpoint (32, 3, 16, 16) ' \
           'vs model (48, 3, 16, 16)' in out
    assert 'load_strict=False' in out
    assert not re.search(r'mIoU: \d', out)  # no random-weight evaluation
    assert not glob.glob(str(tmp_path / 'pred' / '*'))
    # the expert's opt-out: MMEngine's non-strict loading
    out = run([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir',
               str(tmp_path / 't2')] + WIDER + ['load_strict=False'])
    assert 'mIoU' in out


def test_mim_test_refuses_checkpoint_of_another_model(trained, tmp_path):
    base, cfg, work = trained
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.exists(mim):
        pytest.skip('mim not installed in this environment')
    strict = tmp_path / 'strict_cfg.py'
    strict.write_text(open(cfg).read() + STRICT_HOOK)
    ckpt = osp.join(work, 'iter_2.pth')
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [mim, 'test', 'mmseg', str(strict), '--checkpoint', ckpt,
         '--work-dir', str(tmp_path)] + WIDER, cwd=str(tmp_path), env=env,
        capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert f'Checkpoint {ckpt} does not fit the model' in out
    assert 'vs model (48, 3, 16, 16)' in out


@pytest.mark.parametrize('kind', ['text', 'truncated', 'empty'])
def test_unreadable_checkpoint_names_file(trained, tmp_path, kind):
    from mmengine.runner.checkpoint import _load_checkpoint
    from winwin_mm.utils.torch_compat import CheckpointFileError
    _, cfg, work = trained
    data = open(osp.join(work, 'iter_2.pth'), 'rb').read()
    bad = tmp_path / f'{kind}.pth'
    bad.write_bytes({'text': b'iteration 2: mIoU 0.9\n' * 20,
                     'truncated': data[:len(data) // 2],
                     'empty': b''}[kind])
    want = {'text': 'is a text file, not a PyTorch checkpoint',
            'truncated': 'is truncated or corrupt',
            'empty': 'is empty'}[kind]
    with pytest.raises(CheckpointFileError,
                       match=rf'(?s){bad}.*{want}.*Fix: '):
        _load_checkpoint(str(bad), map_location='cpu')
    if kind == 'text':  # and through the real tool
        out = fail([sys.executable, 'tools/test.py', cfg, str(bad),
                    '--work-dir', str(tmp_path / 't')])
        assert f'Checkpoint {bad} {want}' in out


def test_segmentor_checkpoint_as_backbone_init_says_prefix(trained):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    _, _, work = trained
    ckpt = osp.join(work, 'iter_2.pth')
    init_default_scope('mmseg')
    cfg = dict(type='winwin_mm.RoPEViT',
               arch=dict(embed_dims=32, num_layers=2, num_heads=2),
               out_indices=(0, 1),
               init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(RuntimeError, match=r"(?s)holds a whole model "
                       r"\(backbone keys under 'backbone.'\).*Fix: add prefix="
                       r"'backbone.' to the backbone init_cfg"):
        MODELS.build(cfg).init_weights()
    cfg['init_cfg']['prefix'] = 'backbone.'
    MODELS.build(cfg).init_weights()  # the fix works


def test_plain_torch_load_keeps_default_allow_list(tmp_path):
    """After ``import winwin_mm`` a crafted file using builtins.getattr is
    refused by torch.load; MMEngine checkpoints still load (scoped)."""
    import builtins
    import collections
    import pickle
    from winwin_mm.utils.torch_compat import checkpoint_globals_allowed

    class Crafted:
        def __reduce__(self):
            return (getattr, (collections.OrderedDict, '__name__'))

    path = tmp_path / 'crafted.pth'
    torch.save({'x': Crafted()}, path)
    assert builtins.getattr not in torch.serialization.get_safe_globals()
    with pytest.raises(pickle.UnpicklingError,
                       match='GLOBAL getattr was not an allowed global'):
        torch.load(path)
    with checkpoint_globals_allowed():  # the widened set would accept it
        assert torch.load(path)['x'] == 'OrderedDict'
    assert builtins.getattr not in torch.serialization.get_safe_globals()


def test_mmengine_checkpoint_loads_through_checkpoint_loader(trained):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint
    _, _, work = trained
    ckpt = _load_checkpoint(osp.join(work, 'iter_2.pth'), map_location='cpu')
    assert 'state_dict' in ckpt and 'message_hub' in ckpt
    assert HistoryBuffer not in torch.serialization.get_safe_globals()


BIG_CHECKPOINT_HOOK = '''
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class BigCheckpointHook(Hook):
    """Pads every checkpoint with 96 MB so that its write takes long
    enough to be killed in the middle of it."""

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint['meta']['padding'] = torch.ones(24 * 2 ** 20)
'''


def test_sigkill_during_checkpoint_write_then_resume(trained, tmp_path):
    base, cfg_path, _ = trained
    (tmp_path / 'bigckpt.py').write_text(BIG_CHECKPOINT_HOOK)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(open(cfg_path).read() + """
custom_imports = dict(imports=['winwin_mm', 'bigckpt'],
                      allow_failed_imports=False)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=100)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                     interval=1, max_keep_ckpts=1))
custom_hooks = [dict(type='BigCheckpointHook')]
""")
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO}')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    partial = work / 'iter_2.pth.partial'
    deadline = time.time() + 400
    while not partial.exists():
        assert proc.poll() is None, 'training ended before it was killed'
        assert time.time() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # killed while writing iter_2 (or, rarely, just after its rename): the
    # old checkpoint goes only after the new one is complete, and no
    # truncated file lies under a final name
    done = (work / 'iter_2.pth').exists()
    last = 'iter_2.pth' if done else 'iter_1.pth'
    assert (work / 'last_checkpoint').read_text() == last
    assert (work / last).exists()
    for f in glob.glob(str(work / 'iter_*.pth')):
        torch.load(f, map_location='cpu', weights_only=False)
    resumed = subprocess.run(
        [sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work),
         '--resume'], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=600)
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-3000:]
    assert f'resumed epoch: 0, iter: {2 if done else 1}' in out
    assert 'Iter(train) [4/4]' in out, out[-3000:]
    assert 'Iter(train) [1/4]' not in out
    assert (work / 'iter_4.pth').exists()
    assert not glob.glob(str(work / '*.partial'))
    assert sorted(glob.glob(str(work / 'iter_*.pth'))) == [
        str(work / 'iter_4.pth')]  # max_keep_ckpts=1


def test_copied_work_dir_resumes_from_its_copy(trained, tmp_path):
    _, cfg, work = trained
    assert open(osp.join(work, 'last_checkpoint')).read() == 'iter_2.pth'
    copy = tmp_path / 'copy'
    shutil.copytree(work, copy)
    # as MMEngine's own hook writes it: an absolute path into the original
    (copy / 'last_checkpoint').write_text(osp.join(work, 'iter_2.pth'))
    out = run([sys.executable, 'tools/train.py', cfg, '--work-dir',
               str(copy), '--resume', '--cfg-options',
               'train_cfg.max_iters=3'])
    assert f'resuming from the copy in this work dir, {copy}' in out
    assert 'resumed epoch: 0, iter: 2' in out
    assert (copy / 'iter_3.pth').exists()
    assert not osp.exists(osp.join(work, 'iter_3.pth'))


def test_diverged_weights_are_not_saved(trained, tmp_path):
    """A finite loss whose gradient is NaN leaves NaN weights after the
    step: the checkpoint of that iteration is refused."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    from winwin_mm.registry import MODELS

    @MODELS.register_module(force=True)
    class FiniteLossNaNGrad(torch.nn.Module):
        loss_name = 'loss_nangrad'

        def forward(self, pred, target, reduction_override=None, **kw):
            per = torch.nn.functional.cross_entropy(
                pred, target, reduction='none', ignore_index=255)
            # value: per + 0; gradient: 0 * d sqrt(x)/dx at 0 = 0 * inf
            return per + 0 * torch.sqrt((pred * 0).sum())

    base, cfg_path, _ = trained
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = str(tmp_path / 'div')
    cfg.model.decode_head.loss_decode = dict(
        type='winwin_mm.WindowLoss', loss=dict(type='FiniteLossNaNGrad'))
    cfg.default_hooks.checkpoint.type = 'winwin_mm.AtomicCheckpointHook'
    cfg.custom_hooks = [dict(type='winwin_mm.NonFiniteLossHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError, match=r'Iteration 1: the weights '
                       r".*are not finite; iter_1.pth is not written"):
        runner.train()
    assert not glob.glob(osp.join(cfg.work_dir, 'iter_*'))


def test_last_good_checkpoint_after_non_finite_loss(tmp_path):
    from winwin_mm.engine.hooks import last_good_checkpoint
    for n in (2, 4, 5):
        (tmp_path / f'iter_{n}.pth').write_bytes(b'x')
    good, suspect = last_good_checkpoint(str(tmp_path), 6)
    assert good.endswith('iter_4.pth') and suspect.endswith('iter_5.pth')
    good, suspect = last_good_checkpoint(str(tmp_path), 7)
    assert good.endswith('iter_5.pth') and suspect is None
