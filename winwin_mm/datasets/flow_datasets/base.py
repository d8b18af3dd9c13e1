"""Optical-flow datasets (MMEngine ``BaseDataset`` subclasses).

Each dataset lists frame pairs; it reads no pixels. Every data info holds:

* ``img1_path``, ``img2_path`` (str): the two frames;
* ``flow_fw_path`` (str or None): forward flow from frame 1 to frame 2,
  ``None`` where the split has no ground truth;
* ``sparse`` (bool): whether the ground truth is sparse (KITTI, HD1K), which
  changes how ``FlowRandomScale`` resizes it;
* ``gt_scale`` (int): ground-truth resolution / image resolution (2 for
  Spring, 1 otherwise).

``LoadFlowPair`` then reads the files. A missing ``data_root`` or layout
folder raises ``FileNotFoundError`` naming the folder, the expected layout
and the README section that says how to prepare the dataset.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

README_HINT = 'see README.md#flow-datasets'
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.ppm')


def flow_pair_info(img1_path: str,
                   img2_path: str,
                   flow_fw_path: Optional[str],
                   sparse: bool = False,
                   **extra) -> dict:
    """One data info in the format every flow dataset here produces."""
    return dict(
        img1_path=img1_path,
        img2_path=img2_path,
        flow_fw_path=flow_fw_path,
        sparse=sparse,
        gt_scale=extra.pop('gt_scale', 1),
        **extra)


def frame_number(filename: str) -> int:
    """The trailing integer of a file stem: ``frame_0012.png`` -> 12."""
    stem = osp.splitext(filename)[0]
    digits = stem[len(stem.rstrip('0123456789')):]
    if not digits:
        raise ValueError(f'{filename}: no frame number at the end of the name')
    return int(digits)


def list_images(folder: str) -> List[str]:
    return sorted(
        f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))


class BaseFlowDataset(BaseDataset):
    """Common behaviour of the flow datasets: folder checks, data infos.

    Subclasses implement :meth:`list_pairs` and set ``LAYOUT`` (shown in
    error messages).

    Args:
        data_root (str): dataset folder.
        pipeline (list): transforms, ``LoadFlowPair`` ... ``PackFlowInputs``.
        test_mode (bool): passed to ``BaseDataset``.
        **kwargs: other ``BaseDataset`` arguments (``indices``,
            ``serialize_data``, ``lazy_init``, ``metainfo``...).
    """

    LAYOUT = ''

    def __init__(self,
                 data_root: str = '',
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    def missing(self,
                path: str,
                what: str,
                problem: str = 'does not exist') -> FileNotFoundError:
        """The error for a folder or file of the layout that is absent."""
        name = type(self).__name__
        return FileNotFoundError(
            f'{name}: {what} {path!r} {problem}. Expected layout under '
            f'data_root: {self.LAYOUT or "(see docstring)"}. To prepare the '
            f'dataset, {README_HINT}.')

    def require_dir(self, *parts: str, what: str = 'folder') -> str:
        """Join ``parts`` and check that the folder exists."""
        path = osp.join(*parts)
        if not osp.isdir(path):
            raise self.missing(path, what)
        return path

    def load_data_list(self) -> List[dict]:
        if not self.data_root or not osp.isdir(self.data_root):
            raise self.missing(self.data_root, 'data_root')
        data_list = self.list_pairs()
        if not data_list:
            raise self.missing(self.data_root, 'data_root',
                               'holds no frame pair')
        return data_list

    def list_pairs(self) -> List[dict]:
        """Return the data infos (see :func:`flow_pair_info`)."""
        raise NotImplementedError


def consecutive_pairs(img_dir: str,
                       flow_dir: Optional[str] = None,
                       flow_suffix: str = '.flo',
                       **extra) -> List[dict]:
    """Pairs (t, t+1) of the numbered frames in ``img_dir``; the flow of a
    pair is ``flow_dir/<stem of frame t><flow_suffix>`` (None without
    ``flow_dir``)."""
    frames = {frame_number(f): f for f in list_images(img_dir)}
    data_list = []
    for t in sorted(frames):
        if t + 1 not in frames:
            continue
        flow = None
        if flow_dir is not None:
            flow = osp.join(flow_dir, osp.splitext(frames[t])[0] + flow_suffix)
        data_list.append(
            flow_pair_info(
                osp.join(img_dir, frames[t]), osp.join(img_dir, frames[t + 1]),
                flow, **extra))
    return data_list
