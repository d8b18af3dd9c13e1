"""Test-only: a training process SIGKILLs itself at a named moment.

``WINWIN_KILL_AT=POINT@N`` (unset: the hook does nothing), imported through
``custom_imports`` with this folder on ``PYTHONPATH``. Points, for the
1-based iteration ``N``:

* ``forward``: inside the model's forward of training iteration N (the
  backbone and the head's convolutions have run, its classifier is next);
* ``save``: half-way through writing the checkpoint of iteration N (half
  of its bytes are on disk under the name being written, then the kill);
* ``rename``: the checkpoint of iteration N is complete and renamed into
  place, ``last_checkpoint`` not yet updated;
* ``after_val``: the validation after iteration N has finished (all its
  hooks ran);
* ``val_iter``: during the validation after iteration N, after its first
  batch.
"""
import os
import os.path as osp
import signal

from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

POINTS = ('forward', 'save', 'rename', 'after_val', 'val_iter')


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillAtHook(Hook):
    priority = 'LOWEST'

    def __init__(self) -> None:
        spec = os.environ.get('WINWIN_KILL_AT')
        self.point, self.iter = None, None
        if spec:
            point, n = spec.split('@')
            assert point in POINTS, spec
            self.point, self.iter = point, int(n)

    def before_train(self, runner) -> None:
        if self.point == 'forward':
            model = runner.model.module if is_model_wrapper(runner.model) \
                else runner.model

            def pre(module, args):
                if module.training and runner.iter + 1 == self.iter:
                    die()

            model.decode_head.conv_seg.register_forward_pre_hook(pre)
        elif self.point == 'save':
            put, name = LocalBackend.put, f'iter_{self.iter}.pth'

            def half_then_die(backend, obj, filepath):
                if osp.basename(str(filepath)).startswith(name):
                    with open(filepath, 'wb') as f:
                        f.write(obj[:len(obj) // 2])
                        f.flush()
                        os.fsync(f.fileno())
                    die()
                put(backend, obj, filepath)

            LocalBackend.put = half_then_die
        elif self.point == 'rename':
            from winwin_mm.engine import checkpoint_hooks
            replace = checkpoint_hooks._fsync_replace

            def rename_then_die(tmp, final):
                replace(tmp, final)
                if osp.basename(final) == f'iter_{self.iter}.pth':
                    die()

            checkpoint_hooks._fsync_replace = rename_then_die

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        if self.point == 'val_iter' and runner.iter == self.iter \
                and batch_idx == 0:
            die()

    def after_val(self, runner) -> None:
        if self.point == 'after_val' and runner.iter == self.iter:
            die()
