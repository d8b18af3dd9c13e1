"""Load MMEngine checkpoints under torch >= 2.6, safely and with errors
that name the file.

torch 2.6 made ``torch.load(weights_only=True)`` the default; MMEngine 0.10.7
calls ``torch.load`` without the argument, so ``load_from``, ``resume``,
``tools/test.py`` and ``mim test`` fail on MMEngine's own checkpoints
(``Unsupported global: ... HistoryBuffer``). :func:`install_checkpoint_loading`
(run when ``winwin_mm`` is imported) makes MMEngine's ``CheckpointLoader``
allow exactly the globals those checkpoints contain, **only while it loads a
checkpoint** (``torch.serialization.safe_globals``); every other
``torch.load`` of the program keeps torch's default allow-list. A file that
is no checkpoint (text, truncated download) raises
:class:`CheckpointFileError` naming the file and the fix.
"""
import builtins
import contextlib
import os.path as osp
import pickle
import zipfile

import numpy as np
import torch

_INSTALLED = '_winwin_mm_scoped_globals'


class CheckpointFileError(RuntimeError):
    """A checkpoint file that cannot be read (names the file)."""


def checkpoint_safe_globals() -> list:
    """The globals MMEngine 0.10.7 checkpoints pickle besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    entries = [
        HistoryBuffer, np.ndarray, np.dtype, builtins.getattr,
        # checkpoints written under numpy 1.x name numpy.core.*
        (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
        (multiarray.scalar, 'numpy.core.multiarray.scalar'),
        multiarray._reconstruct, multiarray.scalar,
    ]
    entries += [getattr(np.dtypes, n) for n in dir(np.dtypes)
                if n.endswith('DType')]
    return entries


@contextlib.contextmanager
def checkpoint_globals_allowed():
    """Context in which ``torch.load`` also accepts
    :func:`checkpoint_safe_globals` (and nothing else)."""
    scoped = getattr(torch.serialization, 'safe_globals', None)
    if scoped is None:  # torch < 2.5: weights_only is not the default
        yield
        return
    with scoped(checkpoint_safe_globals()):
        yield


def _describe(filename: str) -> str:
    with open(filename, 'rb') as f:
        head = f.read(512)
    if osp.getsize(filename) == 0:
        return 'is empty'
    if head[:2] == b'PK' or head[:1] == b'\x80':
        return ('is truncated or corrupt (an interrupted download or '
                'copy, or a write killed half-way)')
    try:
        head.decode('utf-8')
        return 'is a text file, not a PyTorch checkpoint'
    except UnicodeDecodeError:
        return 'is not a PyTorch checkpoint'


def load_local_checkpoint(filename: str, map_location=None):
    """``torch.load`` of a local MMEngine / PyTorch checkpoint with the
    MMEngine globals allowed for this call only.

    Raises:
        FileNotFoundError: no such file.
        CheckpointFileError: the file is empty, text, truncated or corrupt
            (names the file and the fix). A pickle that needs globals outside
            the allow-list keeps torch's ``UnpicklingError``.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename} can not be found.')
    try:
        with checkpoint_globals_allowed():
            return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError as e:
        if 'Unsupported global' in str(e):
            raise  # a pickle wanting more than weights: refused, as torch
        err = e
    except (RuntimeError, EOFError, KeyError, ValueError, OSError,
            zipfile.BadZipFile) as e:
        err = e
    raise CheckpointFileError(
        f'Checkpoint {filename} {_describe(filename)} ({type(err).__name__}: '
        f'{str(err)[:200]}). Fix: pass a .pth file written by tools/train.py'
        ' (iter_N.pth in the work dir) or download the checkpoint again '
        'completely.') from err


def install_checkpoint_loading() -> None:
    """Idempotent; run when ``winwin_mm`` is imported. MMEngine's
    ``CheckpointLoader`` (``load_from``, ``resume``, ``init_cfg``
    ``Pretrained``, tools/test.py, ``mim test``) loads local files with
    :func:`load_local_checkpoint` and every other scheme inside
    :func:`checkpoint_globals_allowed`."""
    from mmengine.runner.checkpoint import CheckpointLoader
    if getattr(CheckpointLoader, _INSTALLED, False):
        return
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    original = CheckpointLoader.load_checkpoint.__func__

    def load_checkpoint(cls, filename, map_location=None, logger='current'):
        with checkpoint_globals_allowed():
            return original(cls, filename, map_location, logger)

    CheckpointLoader.load_checkpoint = classmethod(load_checkpoint)
    setattr(CheckpointLoader, _INSTALLED, True)
