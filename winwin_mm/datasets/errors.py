"""Clear errors for missing datasets."""
import os.path as osp


def require_dir(path: str, name: str, anchor: str) -> None:
    """Raise FileNotFoundError naming ``path`` and how to prepare ``name``."""
    if not path or not osp.isdir(path):
        raise FileNotFoundError(
            f'{name} dataset folder {path!r} does not exist. Prepare {name} '
            f'as described in README.md#{anchor} and point the config at it '
            f"(--cfg-options train_dataloader.dataset.data_root=... or "
            f"data_root=...).")
