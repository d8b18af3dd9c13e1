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
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Optional

import numpy as np
import torch

_INSTALLED = '_winwin_mm_scoped_globals'


class CheckpointFileError(RuntimeError):
    """A checkpoint file that cannot be read (names the file)."""


class CheckpointCodeError(CheckpointFileError, pickle.UnpicklingError):
    """A checkpoint whose pickle calls code outside torch's allow-list."""


def _code_in(err: Exception) -> Optional[str]:
    """The global a refused pickle wanted (``posix.system``), or None."""
    m = re.search(r'(?:unsupported GLOBAL|Unsupported global: GLOBAL)\s+'
                  r'([\w.]+)', str(err))
    return m.group(1) if m else None


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


def directory_message(path: str) -> str:
    """The error for a directory given as checkpoint, naming its .pth
    files."""
    found = sorted(n for n in os.listdir(path) if n.endswith('.pth'))
    return (f'Checkpoint {path} is a directory, not a checkpoint file. Fix: '
            'pass one of its .pth files' + (
                f' (it holds {", ".join(found[-5:])})' if found else
                ' (it holds none)') + '.')


def _pickle_code(filename: str) -> Optional[str]:
    """The first global outside torch / numpy / collections that a plain
    (non-zip) pickle file names, read with ``pickletools`` (nothing runs);
    None if there is none or the file is no readable pickle."""
    import pickletools
    try:
        with open(filename, 'rb') as f:
            data = f.read()
        if data[:2] == b'PK':
            return None
        strings = []
        for op, arg, _ in pickletools.genops(data):
            if op.name == 'GLOBAL':
                name = str(arg).replace(' ', '.')
            elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                name = f'{strings[-2]}.{strings[-1]}'
            else:
                if isinstance(arg, str):
                    strings.append(arg)
                continue
            if not name.startswith(('torch.', 'collections.', 'numpy.',
                                    '_codecs.', 'mmengine.')):
                return name
    except Exception:  # truncated or not a pickle: described elsewhere
        return None
    return None


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
    if osp.isdir(filename):
        raise IsADirectoryError(directory_message(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename} can not be found.')
    try:
        with checkpoint_globals_allowed():
            return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError as e:
        code = _code_in(e) or _pickle_code(filename)
        if code is not None:  # refused before anything ran
            raise CheckpointCodeError(
                f'Checkpoint {filename} refused: it contains code ({code}), '
                'which loading would run. Load only files you trust with '
                f'torch.load({filename!r}, weights_only=False) and save '
                'their state_dict again with torch.save. torch\'s reason: '
                f'{e}') from e
        err = e
    except (RuntimeError, EOFError, KeyError, ValueError, OSError,
            zipfile.BadZipFile) as e:
        err = e
    raise CheckpointFileError(
        f'Checkpoint {filename} {_describe(filename)} ({type(err).__name__}: '
        f'{err}). Fix: pass a .pth file written by tools/train.py'
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
