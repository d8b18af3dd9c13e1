"""Register the ``winwin_mm::`` config scope before any config is parsed.

MMEngine 0.10.7 resolves ``_base_ = ['pkg::dir/config.py']`` only for the
packages in its hard-coded ``mmengine.config.utils.MODULE2PACKAGE`` table,
and parses a config's ``_base_`` before its ``custom_imports``. So
``mim test mmseg my_config.py``, where MMSegmentation's own tool parses a
config that inherits ``winwin_mm::...``, cannot rely on ``import winwin_mm``.

The file ``winwin_mm_mim_scope.pth`` installed next to this module imports it
at interpreter start-up; it costs one ``sys.meta_path`` entry and imports
nothing else. When (and only when) ``mmengine.config.utils`` is first
imported, the entry ``'winwin_mm': 'winwin_mm'`` is added to that table and
the entry removes itself.
"""
import importlib.abc
import importlib.util
import sys

TARGET = 'mmengine.config.utils'


def register(module) -> None:
    """Add winwin_mm to MMEngine's table of config packages (idempotent)."""
    module.MODULE2PACKAGE.setdefault('winwin_mm', 'winwin_mm')


class _ScopeFinder(importlib.abc.MetaPathFinder):
    """Wraps the loading of ``mmengine.config.utils`` once."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)  # the real finders take over from here
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            register(module)

        spec.loader.exec_module = exec_and_register
        return spec


def install() -> None:
    """Called from the .pth file at start-up."""
    module = sys.modules.get(TARGET)
    if module is not None:
        register(module)
    elif not any(isinstance(f, _ScopeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ScopeFinder())
