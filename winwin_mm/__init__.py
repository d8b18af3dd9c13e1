"""winwin_mm: Win-Win high-resolution ViT training as OpenMMLab components.

Importing the package registers every component (what
``custom_imports=dict(imports=['winwin_mm'])`` relies on) and lets torch >= 2.6
load MMEngine checkpoints.
"""
from .utils.torch_compat import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()

from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
               visualization)

__all__ = ['__version__']
