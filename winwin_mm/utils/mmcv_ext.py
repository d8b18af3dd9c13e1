"""Stand in for mmcv's compiled ops when only mmcv-lite is installed.

mmseg 1.2.2 imports ``mmcv.ops`` at import time (a few heads and losses use
them), and ``mmcv.ops`` loads the compiled extension ``mmcv._ext``, which
mmcv-lite (the official pure-Python build) does not ship. winwin_mm's models
call no mmcv op, so :func:`install_mmcv_ext_placeholder` registers a module
``mmcv._ext`` whose every attribute is a function that raises
:class:`MMCVOpsUnavailableError` naming the op and the fix. Where the full mmcv
is installed this module does nothing and its ops work.
"""
import importlib.machinery
import importlib.util
import sys
import types

PLACEHOLDER_FLAG = '__winwin_mm_placeholder__'

HOW_TO_GET_FULL_MMCV = (
    'Install the full mmcv 2.1.0 build: `MMCV_FULL=1 make test` (or '
    '`MMCV_FULL=1 bash tools/install_env.sh`; WHEELHOUSE=<folder> uses a '
    'prebuilt wheel, otherwise it is compiled once, about 30 minutes), or in '
    'your own environment `pip uninstall -y mmcv-lite && pip install '
    'mmcv==2.1.0` (OpenMMLab publishes CUDA wheels for some torch versions: '
    'see https://mmcv.readthedocs.io/en/2.x/get_started/installation.html).')


class MMCVOpsUnavailableError(RuntimeError):
    """An mmcv compiled op was called but only mmcv-lite is installed."""


def _make_op(name: str):

    def op(*args, **kwargs):
        raise MMCVOpsUnavailableError(
            f'mmcv op `{name}` needs the full mmcv build with compiled ops, '
            f'but this environment has mmcv-lite (no `mmcv._ext`); winwin_mm '
            f'itself needs no mmcv op, so something in your config does. '
            f'{HOW_TO_GET_FULL_MMCV}')

    op.__name__ = op.__qualname__ = name
    return op


class _PlaceholderExt(types.ModuleType):
    """``mmcv._ext`` for mmcv-lite: any attribute is a raising op."""

    def __getattr__(self, name: str):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        op = _make_op(name)
        setattr(self, name, op)
        return op


def mmcv_ops_available() -> bool:
    """Whether the real compiled ``mmcv._ext`` is importable."""
    mod = sys.modules.get('mmcv._ext')
    if mod is not None:
        return not getattr(mod, PLACEHOLDER_FLAG, False)
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except ModuleNotFoundError:  # no mmcv at all
        return False


def install_mmcv_ext_placeholder() -> bool:
    """Register the placeholder ``mmcv._ext`` if the real one is absent.

    Returns:
        bool: True if the placeholder was installed (now or earlier).
    """
    if mmcv_ops_available():
        return False
    if importlib.util.find_spec('mmcv') is None:
        return False  # the version check reports the missing mmcv
    if 'mmcv._ext' not in sys.modules:
        ext = _PlaceholderExt('mmcv._ext', 'placeholder for mmcv compiled '
                              'ops (mmcv-lite); see winwin_mm.utils.mmcv_ext')
        setattr(ext, PLACEHOLDER_FLAG, True)
        # a spec without a loader: importlib/pkgutil lookups work and report
        # no loadable extension (MMEngine's `mmcv_full_available()` -> False)
        ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
        sys.modules['mmcv._ext'] = ext
    return True
