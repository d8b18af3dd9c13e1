"""winwin_mm: Win-Win high-resolution ViT training as OpenMMLab components.

Importing the package (what ``custom_imports=dict(imports=['winwin_mm'])``,
our tools and ``mim`` runs do first):

1. checks that torch, mmengine, mmcv and mmsegmentation are in the supported
   ranges (:mod:`winwin_mm.utils.version_check`);
2. lets mmseg import with mmcv-lite, by standing in for mmcv's compiled ops
   with ops that raise a clear error if called
   (:mod:`winwin_mm.utils.mmcv_ext`); with the full mmcv nothing changes;
3. registers every component in the ``winwin_mm`` registry scope and the
   ``winwin_mm::`` config scope (:mod:`winwin_mm.utils.mim_scope`).
"""
from .utils.version_check import check_versions
from .version import __version__

check_versions()

from .utils.mmcv_ext import install_mmcv_ext_placeholder  # noqa: E402

install_mmcv_ext_placeholder()

from .utils.torch_compat import register_checkpoint_safe_globals  # noqa: E402

register_checkpoint_safe_globals()

from .utils.mim_scope import register_mim_scope  # noqa: E402

register_mim_scope()

from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
               visualization)

__all__ = ['__version__']
