# MMSegmentation's default runtime plus winwin_mm's shared runtime
# (iter_runtime.py: exact resume, stop at the first non-finite loss), mmseg's
# segmentation drawing (tools/test.py --show-dir) and a num_classes / dataset
# consistency check.
_base_ = ['mmseg::_base_/default_runtime.py', './iter_runtime.py']
custom_imports = dict(imports=['winwin_mm'], allow_failed_imports=False)
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
custom_hooks = _base_.custom_hooks + [
    dict(type='winwin_mm.DatasetConsistencyHook'),
]
# torch.compile of the training step (MMEngine's Runner option): off by
# default; turn it on with `--cfg-options compile=True` (GPU; the window path
# compiles without graph breaks once token selection is sync-free, see
# issue 15) or a dict of torch.compile arguments; dict(mode='reduce-overhead')
# also captures the compiled step in CUDA graphs (GPU only: tools/train.py
# refuses it without CUDA).
compile = False
