"""CamVid in the SegNet layout (``train.txt``: ``img ann`` per line)."""
import os.path as osp
from typing import List

from mmengine.fileio import get_local_path
from mmseg.datasets import BaseSegDataset

from winwin_mm.registry import DATASETS
from .errors import require_dir


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid, 11 classes; label 11 ("void") is mapped to 255 (ignored).

    Layout (SegNet tutorial copy)::

        data_root/
          train/ trainannot/ val/ valannot/ test/ testannot/
          train.txt  val.txt  test.txt   # "train/x.png trainannot/x.png"

    ``ann_file`` is the split list, relative to ``data_root``; each line holds
    an image path and a label path. Absolute ``/SegNet/CamVid/...`` paths of
    the original lists are made relative to ``data_root``.
    """
    METAINFO = dict(
        classes=('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128],
                 [128, 64, 128], [60, 40, 222], [128, 128, 0],
                 [192, 128, 128], [64, 64, 128], [64, 0, 128],
                 [64, 64, 0], [0, 128, 192]])
    VOID = 11

    def __init__(self, ann_file: str = 'train.txt', **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix='.png',
                         seg_map_suffix='.png', **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None):
        label_map = super().get_label_map(new_classes) or {}
        label_map.setdefault(cls.VOID, 255)
        return label_map

    def load_data_list(self) -> List[dict]:
        require_dir(self.data_root, 'CamVid', 'camvid')
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'CamVid split list {self.ann_file} not found. Expected the '
                'SegNet layout (train.txt / val.txt with "img ann" lines); '
                'see README.md#datasets.')
        data_list = []
        with get_local_path(self.ann_file) as local, open(local) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2:
                    raise ValueError(f'{self.ann_file}:{n}: expected "image '
                                     f'label", got {line.strip()!r}.')
                img, ann = (self._rel(p) for p in parts)
                data_list.append(
                    dict(img_path=osp.join(self.data_root, img),
                         seg_map_path=osp.join(self.data_root, ann),
                         label_map=self.label_map,
                         reduce_zero_label=self.reduce_zero_label,
                         seg_fields=[]))
        if not data_list:
            raise ValueError(
                f'CamVid split list {self.ann_file} lists no images. Fix: '
                'one "image label" line per sample (SegNet layout, see '
                'README.md#camvid), or point ann_file at another split.')
        return data_list

    @staticmethod
    def _rel(path: str) -> str:
        if path.startswith('/SegNet/CamVid/'):
            return path[len('/SegNet/CamVid/'):]
        return path.lstrip('/')

