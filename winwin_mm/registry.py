"""winwin_mm's own registry scope.

Every registry here is a child of the matching MMEngine root, with scope
``winwin_mm`` (the MMYOLO pattern). Configs can therefore keep
``default_scope='mmseg'`` and name our parts ``winwin_mm.RoPEViT``,
``winwin_mm.RandomWindows`` and so on: MMEngine resolves the ``winwin_mm.``
prefix by searching the children of its root registries.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='winwin_mm',
    locations=['winwin_mm.models'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope='winwin_mm',
    locations=['winwin_mm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope='winwin_mm',
    locations=['winwin_mm.datasets'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope='winwin_mm',
    locations=['winwin_mm.evaluation'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope='winwin_mm',
    locations=['winwin_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope='winwin_mm',
    locations=['winwin_mm.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope='winwin_mm',
    locations=['winwin_mm.visualization'])
