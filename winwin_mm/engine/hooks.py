"""Hooks that make long runs trustworthy: exact resume, no silent NaN,
config/dataset consistency."""
import glob
import math
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook

from winwin_mm.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` exact: a run killed at any point and resumed ends
    with the same weights as an uninterrupted one (on CPU with deterministic
    settings: bitwise; ``tests/test_reliability.py`` kills with SIGKILL).

    * The model-side random state (torch and CUDA generators: dropout, drop
      path) is saved in every checkpoint and restored just before the first
      iteration after resuming, i.e. after MMEngine has rebuilt the
      dataloader iterator (which itself draws from the torch generator).
    * The data-side state (the window sampler and the other numpy-based
      transforms, in the main process or in dataloader workers) is restored
      by MMEngine's resume, which re-seeds the workers and replays the
      already-seen batches through the pipeline; restoring numpy here would
      be wrong, since the next batch is drawn before any hook runs.
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(torch=torch.get_rng_state())
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('meta', {}).get('rng_state')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss, naming the iteration, the
    loss terms and the last good checkpoint (runs before the checkpoint hook,
    so no corrupted checkpoint is written). With ``AmpOptimWrapper`` an
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
        ckpts = sorted(glob.glob(osp.join(runner.work_dir, '*.pth')),
                       key=osp.getmtime)
        last = ckpts[-1] if ckpts else 'none saved yet'
        raise FloatingPointError(
            f'Non-finite loss at iteration {runner.iter + 1}: '
            + ', '.join(f'{k}={v}' for k, v in terms.items())
            + f'. Training stopped; last good checkpoint: {last}. Lower the '
            'learning rate, enable gradient clipping (optim_wrapper.clip_grad)'
            ' or check the data, then resume with --resume.')


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
