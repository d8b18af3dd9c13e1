"""winwin_mm's own registry scope.

Every registry here is a child of MMSegmentation's matching registry (itself
a child of MMEngine's root), with scope ``winwin_mm``. Configs can therefore
keep ``default_scope='mmseg'`` and name our parts ``winwin_mm.RoPEViT``,
``winwin_mm.RandomWindows`` and so on (MMEngine resolves the ``winwin_mm.``
prefix by searching the children of its root registries), and a config
inherited through ``winwin_mm::`` (whose dicts MMEngine builds in the
``winwin_mm`` scope) still finds MMSegmentation's components through the
parent (each registry's ``locations`` also names MMSegmentation's modules, so
that they are imported before such a lookup).
"""
from mmengine.registry import Registry
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS

MODELS = Registry(
    'model', parent=MMSEG_MODELS, scope='winwin_mm',
    locations=['winwin_mm.models', 'mmseg.models'])
DATASETS = Registry(
    'dataset', parent=MMSEG_DATASETS, scope='winwin_mm',
    locations=['winwin_mm.datasets', 'mmseg.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope='winwin_mm',
    locations=['winwin_mm.datasets', 'mmseg.datasets'])
METRICS = Registry(
    'metric', parent=MMSEG_METRICS, scope='winwin_mm',
    locations=['winwin_mm.evaluation', 'mmseg.evaluation'])
HOOKS = Registry(
    'hook', parent=MMSEG_HOOKS, scope='winwin_mm',
    locations=['winwin_mm.engine', 'mmseg.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS, scope='winwin_mm',
    locations=['winwin_mm.engine', 'mmseg.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=MMSEG_VISUALIZERS, scope='winwin_mm',
    locations=['winwin_mm.visualization', 'mmseg.visualization'])
