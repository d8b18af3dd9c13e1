"""winwin_mm's own registry scope.

Every registry here is a child of the matching MMEngine root, with scope
``winwin_mm`` (the MMYOLO pattern). Configs can therefore keep
``default_scope='mmseg'`` and name our parts ``winwin_mm.RoPEViT``,
``winwin_mm.RandomWindows`` and so on: MMEngine resolves the ``winwin_mm.``
prefix by searching the children of its root registries, with or without a
default scope.

A config inherited through ``winwin_mm::`` is built by MMEngine in the
``winwin_mm`` scope, where MMSegmentation's components (``SegDataPreProcessor``,
``IoUMetric``, ...) are neither ours nor the root's. Each registry therefore
falls back to MMSegmentation's registry of the same kind for an unprefixed
name it does not hold (:class:`WinWinRegistry`).
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
from mmseg import registry as mmseg_registry


class WinWinRegistry(Registry):
    """A registry that, for a plain name it and its parents lack, asks
    MMSegmentation's registry of the same kind (``fallback``)."""

    def __init__(self, *args, fallback: Registry, **kwargs):
        super().__init__(*args, **kwargs)
        self._fallback = fallback

    def get(self, key: str):
        obj = super().get(key)
        if obj is None and isinstance(key, str) and '.' not in key:
            obj = self._fallback.get(key)
        return obj


def _registry(name, parent, fallback, location):
    return WinWinRegistry(name, parent=parent, scope='winwin_mm',
                          locations=[location], fallback=fallback)


MODELS = _registry('model', MMENGINE_MODELS, mmseg_registry.MODELS,
                   'winwin_mm.models')
DATASETS = _registry('dataset', MMENGINE_DATASETS, mmseg_registry.DATASETS,
                     'winwin_mm.datasets')
TRANSFORMS = _registry('transform', MMENGINE_TRANSFORMS,
                       mmseg_registry.TRANSFORMS, 'winwin_mm.datasets')
METRICS = _registry('metric', MMENGINE_METRICS, mmseg_registry.METRICS,
                    'winwin_mm.evaluation')
HOOKS = _registry('hook', MMENGINE_HOOKS, mmseg_registry.HOOKS,
                  'winwin_mm.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _registry(
    'optimizer wrapper constructor', MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    mmseg_registry.OPTIM_WRAPPER_CONSTRUCTORS, 'winwin_mm.engine')
VISUALIZERS = _registry('visualizer', MMENGINE_VISUALIZERS,
                        mmseg_registry.VISUALIZERS, 'winwin_mm.visualization')
