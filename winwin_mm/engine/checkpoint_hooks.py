"""Checkpoints that survive a kill and are refused when they do not fit.

* :class:`AtomicCheckpointHook`: a checkpoint is written to
  ``NAME.partial``, flushed to disk and renamed, so no truncated file ever
  lies under a final name; older checkpoints (``max_keep_ckpts``) are removed
  only after the new one is complete *and* the next iteration's loss was
  finite; ``last_checkpoint`` holds the name relative to the work dir;
  weights that are not finite are never saved.
* A new run (not resumed) refuses to start in a work dir that holds
  checkpoints of an earlier run: it would overwrite or delete them.
* :func:`resolve_last_checkpoint`: what ``--resume`` resumes from
  (:mod:`winwin_mm.engine.resume`: the newest complete checkpoint; a work
  dir copied elsewhere resumes from its own copy), installed in place of
  MMEngine's ``find_latest_checkpoint``.
* :class:`CheckpointMatchHook`: ``load_from``, ``--resume``, tools/test.py
  and ``mim test`` stop with the key report when the checkpoint does not fit
  the model (MMEngine loads non-strictly and would go on with random
  weights). Experts opt out with the top-level ``load_strict = False``.
"""
import glob
import os
import os.path as osp
import re
import shutil
from typing import Optional

import torch
from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from winwin_mm.registry import HOOKS
from .resume import STEP, find_resume_checkpoint, resume_checkpoint

PARTIAL = '.partial'


def _fsync_replace(tmp: str, final: str) -> None:
    """Flush ``tmp`` to disk, rename it to ``final`` (atomic on POSIX) and
    flush the directory entry."""
    with open(tmp, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    try:
        fd = os.open(osp.dirname(osp.abspath(final)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str, text: str) -> None:
    tmp = path + PARTIAL
    with open(tmp, 'w') as f:
        f.write(text)
    _fsync_replace(tmp, path)


def resolve_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` resumes from, or None
    (:func:`winwin_mm.engine.resume.find_resume_checkpoint`)."""
    return find_resume_checkpoint(work_dir)[0]


def install_resume_resolver() -> None:
    """Make MMEngine's auto-resume (``resume=True`` without ``load_from``)
    use :func:`winwin_mm.engine.resume.resume_checkpoint`: the newest
    complete checkpoint, or an error naming the work dir."""
    import mmengine.runner.runner as runner_module
    runner_module.find_latest_checkpoint = resume_checkpoint


def earlier_checkpoints(out_dir: str) -> list:
    """Checkpoint files of ``out_dir`` (``iter_N.pth``, ``epoch_N.pth``,
    ``best_*.pth``), complete or not."""
    names = (osp.basename(p) for p in glob.glob(osp.join(out_dir, '*.pth')))
    return sorted(n for n in names if STEP.match(n) or n.startswith('best_'))


def _remove_partial(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _write_failure(out_dir: str, filename: str, err: OSError) -> str:
    """Why a checkpoint could not be written, naming the file, the free
    space and the fix (the earlier checkpoints are untouched)."""
    try:
        free = f'{shutil.disk_usage(out_dir).free / 2**20:.1f} MiB free'
    except OSError:
        free = 'free space unknown'
    return (f'Writing checkpoint {osp.join(out_dir, filename)} failed: '
            f'{err.strerror or err} ({free} in {out_dir}). Earlier '
            'checkpoints are kept. Fix: free disk space (or pass --work-dir '
            'on a disk with room), then continue with --resume.')


def _nonfinite_weights(runner) -> list:
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    return [k for k, v in model.state_dict().items()
            if v.is_floating_point() and not bool(torch.isfinite(v).all())]


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` (same arguments) made safe against a
    kill at any moment and against saving diverged weights (see the module
    docstring). With a non-local ``out_dir`` backend the writes are
    MMEngine's (no atomic rename there). After a crash one checkpoint more
    than ``max_keep_ckpts`` may remain: the newest is kept until the next
    iteration shows its weights give a finite loss."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stale = []

    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not self._local():
            return
        if runner.iter == 0:  # a new run, not a resumed one
            earlier = earlier_checkpoints(self.out_dir)
            if earlier:
                raise RuntimeError(
                    f'{self.out_dir} holds checkpoints of an earlier run '
                    f'({", ".join(earlier[:6])}); this run starts from '
                    'scratch and would overwrite or delete them. To continue '
                    'that run add --resume; to start a new one use another '
                    '--work-dir, or move those files away first.')
        if is_main_process():
            for f in glob.glob(osp.join(self.out_dir, '*' + PARTIAL)):
                os.remove(f)  # left by a killed run; never a final name

    def _atomic_save(self, runner, save, out_dir, filename, *args, **kw):
        if not self._local():
            return save(out_dir, filename, *args, **kw)
        bad = _nonfinite_weights(runner)
        if bad:
            raise FloatingPointError(
                f'Iteration {runner.iter + 1}: the weights {bad[:5]} are not '
                f'finite; {filename} is not written. Lower the learning rate '
                'or enable gradient clipping (optim_wrapper.clip_grad), then '
                'resume from the last checkpoint with --resume.')
        try:
            save(out_dir, filename + PARTIAL, *args, **kw)
        except OSError as e:  # disk full, quota, read-only: name the file
            _remove_partial(osp.join(out_dir, filename + PARTIAL))
            raise OSError(e.errno, _write_failure(out_dir, filename, e)) \
                from e
        if is_main_process():
            _fsync_replace(osp.join(out_dir, filename + PARTIAL),
                           osp.join(out_dir, filename))

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                self._stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._atomic_save(
            runner, runner.save_checkpoint, self.out_dir, ckpt_filename,
            self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        name = self.last_ckpt
        if self._local():
            rel = osp.relpath(osp.abspath(name), osp.abspath(runner.work_dir))
            name = name if rel.startswith('..') else rel
            write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'),
                              name)
        else:
            with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
                f.write(name)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        save = runner.save_checkpoint
        runner.save_checkpoint = lambda out_dir, filename, *a, **kw: \
            self._atomic_save(runner, save, out_dir, filename, *a, **kw)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del runner.save_checkpoint

    def _remove_stale(self) -> None:
        stale, self._stale = self._stale, []
        if not is_main_process():
            return
        for step in stale:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        # this iteration's loss was finite (NonFiniteLossHook runs first):
        # the newest checkpoint is good, the ones it replaces may go
        self._remove_stale()
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train(self, runner) -> None:
        self._remove_stale()
        super().after_train(runner)


def _source(runner) -> str:
    src = getattr(runner, '_load_from', None)
    return str(src or resolve_last_checkpoint(runner.work_dir))


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Stop when a loaded checkpoint (``load_from``, ``--resume``,
    tools/test.py, ``mim test``) does not fit the model, with the missing,
    unexpected and mis-shaped keys. Set the top-level config key
    ``load_strict = False`` (``--cfg-options load_strict=False``) to load
    the matching keys only, as MMEngine does by default."""
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from winwin_mm.models.backbones.checkpoint_mapping import \
            key_mismatch
        cfg = getattr(runner, 'cfg', None) or {}
        if not cfg.get('load_strict', True):
            return
        state = checkpoint.get('state_dict', checkpoint)
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        report = key_mismatch(model.state_dict(), state, limit=8)
        if not report:
            return
        raise RuntimeError(
            f'Checkpoint {_source(runner)} does not fit the model '
            f'({type(model).__name__} of '
            f'{getattr(cfg, "filename", None) or "the config"})'
            f':\n{report}Fix: use the checkpoint trained with this config, '
            'or the config it was trained with. To load only the matching '
            'keys (the rest stays randomly initialised) add --cfg-options '
            'load_strict=False.')
