"""BDD100K 10k segmentation: mmseg's dataset with errors that point to the
README."""
from typing import List

from mmseg.datasets import BDD100KDataset as MMSegBDD100KDataset

from winwin_mm.registry import DATASETS
from .errors import require_dir


@DATASETS.register_module()
class BDD100KDataset(MMSegBDD100KDataset):
    """mmseg's ``BDD100KDataset`` (same arguments and layout:
    ``images/10k/{train,val}/*.jpg``, ``labels/sem_seg/masks/{train,val}/
    *.png``); a missing image folder or a folder without images raises an
    error naming it, the README section and the override to use."""

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img_path', '')
        require_dir(img_dir, 'BDD100K', 'datasets')
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(
                f'BDD100K image folder {img_dir} holds no *{self.img_suffix} '
                'images. Fix: point data_root / data_prefix.img_path at the '
                'images (README.md#datasets).')
        return data_list
