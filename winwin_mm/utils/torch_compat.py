"""Let torch >= 2.6 load the checkpoints MMEngine 0.10.7 writes.

torch 2.6 made ``torch.load(weights_only=True)`` the default; MMEngine 0.10.7
calls ``torch.load`` without the argument, so ``load_from``, ``resume``,
``tools/test.py`` and ``mim test`` fail on MMEngine's own checkpoints
(``Unsupported global: ... HistoryBuffer``). Allow-listing exactly the globals
those checkpoints contain fixes it without weakening ``weights_only`` further
and without environment variables.
"""
import builtins

import numpy as np
import torch


def _safe_globals() -> list:
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


def register_checkpoint_safe_globals() -> None:
    """Idempotent; called when ``winwin_mm`` is imported."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(_safe_globals())
