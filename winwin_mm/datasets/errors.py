"""Clear errors for missing datasets."""
import os.path as osp


def require_dir(path: str, name: str, anchor: str) -> None:
    """Raise FileNotFoundError naming ``path`` and how to prepare ``name``."""
    if not path or not osp.isdir(path):
        raise FileNotFoundError(
            f'{name} dataset folder {path!r} does not exist. Prepare {name} '
            f'as described in README.md#{anchor} and point every dataloader '
            'that reads it at it: --cfg-options '
            'train_dataloader.dataset.data_root=DIR '
            'val_dataloader.dataset.data_root=DIR '
            'test_dataloader.dataset.data_root=DIR (the config\'s top-level '
            'data_root is read when the file is parsed: overriding it '
            'changes nothing).')
