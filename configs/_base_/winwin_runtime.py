# MMSegmentation's default runtime plus winwin_mm's reliability hooks:
# exact resume (random states in checkpoints), stop at the first non-finite
# loss, and a num_classes / dataset consistency check.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['winwin_mm'], allow_failed_imports=False)
custom_hooks = [
    dict(type='winwin_mm.RNGStateHook'),
    dict(type='winwin_mm.NonFiniteLossHook'),
    dict(type='winwin_mm.DatasetConsistencyHook'),
]
