"""Run :func:`winwin_mm.datasets.checks.check_seg_dataset` on the training
and validation splits before the first iteration."""
from mmengine.hooks import Hook

from winwin_mm.datasets.checks import check_seg_dataset
from winwin_mm.registry import HOOKS


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Checks the files and labels of the train (and val) split before
    training; ``tools/train.py`` adds it to every config.

    Args:
        max_values (int): label maps per split decoded for the value
            checks (every file's header is read). Default: 200.
    """
    priority = 'VERY_HIGH'

    def __init__(self, max_values: int = 200) -> None:
        self.max_values = max_values

    def before_train(self, runner) -> None:
        from mmseg.datasets import BaseSegDataset
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        if not getattr(model, 'dataset_classes_are_labels', True):
            return  # depth maps: their values are not classes
        head = getattr(model, 'decode_head', None)
        num_classes = getattr(head, 'num_classes', None)
        ignore = getattr(head, 'ignore_index', 255)
        loaders = [('train_dataloader', runner.train_dataloader)]
        val_loop = getattr(runner, '_val_loop', None)
        if val_loop is not None and hasattr(val_loop, 'dataloader'):
            loaders.append(('val_dataloader', val_loop.dataloader))
        for name, loader in loaders:
            ds = getattr(loader, 'dataset', None)
            if isinstance(ds, BaseSegDataset):
                check_seg_dataset(ds, f'{name}.dataset '
                                  f'({type(ds).__name__})', num_classes,
                                  ignore, self.max_values)
