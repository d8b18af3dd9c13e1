"""Hooks that make long runs trustworthy: exact resume, no silent NaN,
config/dataset consistency."""
import glob
import math
import os
import os.path as osp
import random
import re
import shlex
import sys
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from winwin_mm.registry import HOOKS
from .checkpoint_hooks import write_text_atomic

NONFINITE = '.nonfinite'


def capture_rng() -> dict:
    """Every global random state training draws from."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    if 'python' in state:
        random.setstate(state['python'])
    if 'numpy' in state:
        np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreBeforeNext:
    """The train loop's data iterator, which restores the saved random
    states (and re-runs the pending validation) just before the first
    batch after MMEngine's replay of the ``skip`` batches already trained."""

    def __init__(self, iterator, skip: int, action) -> None:
        self._iterator, self._skip, self._action = iterator, skip, action

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0 and self._action is not None:
            action, self._action = self._action, None
            action()
        self._skip -= 1
        return next(self._iterator)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` exact: a run killed at any point and resumed ends
    with the same weights as an uninterrupted one (on CPU with deterministic
    settings: bitwise; ``tests/test_reliability/test_resume_kills.py`` kills
    with SIGKILL mid-iteration, mid-save, after a rename, after and during a
    validation).

    * Every checkpoint holds the python, numpy, torch and CUDA random
      states. On resume MMEngine rebuilds the data loader and replays the
      batches already trained (the sampler, the worker seeds and the
      workers' transforms follow the same path as before); the saved states
      are restored right after that replay, before the next batch is drawn.
    * Validation does not consume the training random state: it is saved
      before a validation and restored after it (building the validation
      loader's iterator alone draws from torch's generator), so the training
      of a run that validated equals that of one resumed after it.
    * A checkpoint is written before the validation of its iteration, so a
      run resumed at a validation iteration runs that validation (again)
      before training on: it may have been interrupted, and what it updates
      (best checkpoint, metric-driven schedules) is not in the checkpoint.
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._val_state: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['rng_state'] = capture_rng()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('meta', {}).get('rng_state')

    def before_train(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if not hasattr(loop, 'dataloader_iterator'):
            return  # restored at before_train_epoch
        state, self._pending = self._pending, None
        loop.dataloader_iterator = _RestoreBeforeNext(
            loop.dataloader_iterator, loop.iter,
            lambda: self._resume_point(runner, state))

    def before_train_epoch(self, runner) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            restore_rng(state)

    @staticmethod
    def _resume_point(runner, state: dict) -> None:
        restore_rng(state)
        loop, it = runner.train_loop, runner.train_loop.iter
        if (runner.val_loop is not None and it >= loop.val_begin
                and (it % loop.val_interval == 0 or it == loop.max_iters)):
            runner.val_loop.run()
            runner.model.train()

    def before_val(self, runner) -> None:
        self._val_state = capture_rng()

    def after_val(self, runner) -> None:
        if self._val_state is not None:
            state, self._val_state = self._val_state, None
            restore_rng(state)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss, naming the iteration, the
    loss terms and the last good checkpoint (runs before the checkpoint hook,
    so no corrupted checkpoint is written). The checkpoint saved just before
    the failing iteration holds the weights that gave the non-finite loss,
    so the last good one is the one before it; ``last_checkpoint`` is
    pointed at it for ``--resume`` (``AtomicCheckpointHook`` keeps it until
    the next iteration's loss is finite). With ``AmpOptimWrapper`` an
    overflow inside the scaled backward is handled by dynamic loss scaling
    as usual; only a non-finite loss *value* stops the run."""
    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not outputs:
            return
        terms = {k: float(v.detach()) if isinstance(v, torch.Tensor) else
                 float(v) for k, v in outputs.items()
                 if 'loss' in k and isinstance(v, (int, float, torch.Tensor))}
        if all(math.isfinite(v) for v in terms.values()):
            return
        it = runner.iter + 1
        good, suspect = last_good_checkpoint(runner.work_dir, it)
        if suspect is not None:
            # kept for inspection, out of --resume's way (it resumes the
            # newest complete iter_N.pth)
            os.replace(suspect, suspect + NONFINITE)
            suspect += NONFINITE
        if good is not None:
            write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'),
                              osp.basename(good))
        lr = _base_lr(runner)
        raise FloatingPointError(
            f'Non-finite loss at iteration {it}: '
            + ', '.join(f'{k}={v}' for k, v in terms.items())
            + f'. Training stopped; last good checkpoint: '
            f'{good or "none saved yet"}'
            + (f' ({suspect} holds the weights that gave this loss, renamed '
               'so that --resume does not use it)' if suspect else '')
            + '. Lower the learning rate, enable gradient clipping '
            '(optim_wrapper.clip_grad) or check the data, then '
            + (f'resume from it with a lower learning rate:\n  '
               f'{resume_command(lr / 10 if lr else None)}' if good else
               'train again with a lower learning rate '
               '(--cfg-options optim_wrapper.optimizer.lr=...).'))


def _base_lr(runner) -> Optional[float]:
    cfg = getattr(runner, 'cfg', None) or {}
    lr = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('lr')
    return float(lr) if isinstance(lr, (int, float)) else None


def resume_command(lr: Optional[float], argv=None) -> str:
    """The command line that resumes this ``tools/train.py`` run with
    ``optim_wrapper.optimizer.lr=lr`` (honoured on resume:
    :class:`winwin_mm.engine.resume.ResumeLearningRateHook`)."""
    argv = list(sys.argv if argv is None else argv)
    if not argv or not argv[0].endswith('train.py'):
        return ('python tools/train.py CONFIG --work-dir WORK_DIR --resume '
                f'--cfg-options optim_wrapper.optimizer.lr={lr or "..."}')
    out, i, options = [], 1, []
    while i < len(argv):
        a = argv[i]
        if a == '--resume':
            if i + 1 < len(argv) and (argv[i + 1] == 'auto'
                                      or argv[i + 1].endswith('.pth')):
                i += 1
        elif a == '--cfg-options':
            while i + 1 < len(argv) and not argv[i + 1].startswith('--'):
                i += 1
                if not argv[i].startswith('optim_wrapper.optimizer.lr='):
                    options.append(argv[i])
        else:
            out.append(a)
        i += 1
    options.append(f'optim_wrapper.optimizer.lr={lr:g}' if lr else
                   'optim_wrapper.optimizer.lr=...')
    return shlex.join(['python', argv[0]] + out + ['--resume',
                                                    '--cfg-options']
                      + options)


def last_good_checkpoint(work_dir: str, failed_iter: int):
    """``(good, suspect)`` checkpoint paths after a non-finite loss at
    iteration ``failed_iter`` (1-based): ``iter_{failed_iter-1}.pth`` holds
    the weights that produced it (suspect); the newest older
    ``iter_N.pth`` gave a finite loss afterwards (good)."""
    steps = {}
    for path in glob.glob(osp.join(work_dir, 'iter_*.pth')):
        m = re.fullmatch(r'iter_(\d+)\.pth', osp.basename(path))
        if m:
            steps[int(m.group(1))] = path
    older = [n for n in steps if n < failed_iter - 1]
    return (steps[max(older)] if older else None,
            steps.get(failed_iter - 1))


@HOOKS.register_module()
class DatasetConsistencyHook(Hook):
    """Before training/testing, check that the heads' ``num_classes`` equal
    the number of classes of the datasets the runner uses.

    Models whose dataset ``classes`` are not their labels (depth datasets
    list scene types) declare ``dataset_classes_are_labels = False``."""
    priority = 'VERY_HIGH'

    def _check(self, runner, loader_name: str) -> None:
        loader = getattr(runner, loader_name, None)
        ds = getattr(loader, 'dataset', None)
        classes = getattr(ds, 'metainfo', {}).get('classes')
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        if classes is None or not getattr(model, 'dataset_classes_are_labels',
                                          True):
            return
        for name in ('decode_head', 'auxiliary_head'):
            heads = getattr(model, name, None)
            heads = heads if isinstance(heads, torch.nn.ModuleList) else [heads]
            for head in heads:
                n = getattr(head, 'num_classes', None)
                if n is None:
                    continue
                if n != len(classes):
                    raise ValueError(
                        f'model.{name}.num_classes={n} but the '
                        f'{type(ds).__name__} of {loader_name} has '
                        f'{len(classes)} classes {tuple(classes)}. Set '
                        f'num_classes={len(classes)} in the config (or the '
                        'dataset\'s metainfo classes).')

    def before_train(self, runner) -> None:
        self._check(runner, 'train_dataloader')

    def before_test(self, runner) -> None:
        self._check(runner, 'test_dataloader')


@HOOKS.register_module()
class EvalLabelCheckHook(Hook):
    """At validation and test, stop at the first label map with values
    outside ``[0, num_classes)`` that are not ``ignore_index`` (IoUMetric
    would report aAcc nan and mIoU 0.00 for them and exit 0). Training
    labels are checked by the segmentor."""
    priority = 'VERY_HIGH'

    def _check(self, runner, outputs, loop: str) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        head = getattr(model, 'decode_head', None)
        n = getattr(head, 'num_classes', None)
        if n is None or not outputs:
            return
        ignore = getattr(head, 'ignore_index', 255)
        for sample in outputs:
            gt = getattr(sample, 'gt_sem_seg', None)
            if gt is None:
                continue
            wrong = ((gt.data < 0) | (gt.data >= n)) & (gt.data != ignore)
            if bool(wrong.any()):
                values = torch.unique(gt.data[wrong]).tolist()[:10]
                raise ValueError(
                    f'{sample.metainfo.get("seg_map_path", "a label map")}: '
                    f'{loop} label values {values} are outside [0, {n}) and '
                    f'are not ignore_index={ignore}; the metrics would be '
                    'meaningless (aAcc nan, mIoU 0). Fix: point the '
                    f'{loop}_dataloader at the right label maps, or set '
                    'num_classes / the dataset\'s label_map, '
                    'reduce_zero_label or ignore_index.')

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._check(runner, outputs, 'val')

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._check(runner, outputs, 'test')
