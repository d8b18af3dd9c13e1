"""The rendered training datasets: FlyingChairs and FlyingThings3D."""
import os
import os.path as osp
from typing import List, Optional, Sequence

from winwin_mm.registry import DATASETS
from .base import (BaseFlowDataset, flow_pair_info, frame_number,
                   list_images)


@DATASETS.register_module()
class FlyingChairsDataset(BaseFlowDataset):
    """FlyingChairs (Dosovitskiy et al., ICCV 2015).

    Recognised file namings (one per folder), ``N`` a zero-padded index:

    * ``N_img1.ppm``, ``N_img2.ppm``, ``N_flow.flo`` (the original release);
    * ``N-img0.ppm``, ``N-img1.ppm``, ``N-gt.flo``;
    * ``N-img_0.png``, ``N-img_1.png``, ``N-flow_01.flo`` (FlyingChairs2).

    Args:
        data_subdir (str, optional): the folder holding the files, relative
            to ``data_root``. By default ``data`` when it exists (the release
            layout ``FlyingChairs_release/data``), else ``data_root`` itself.
        split_file (str, optional): ``FlyingChairs_train_val.txt``: one line
            per pair in index order, ``1`` = train, ``2`` = val. Without it
            every pair is listed.
        split (str): ``'train'`` or ``'val'``, used with ``split_file``.
    """

    LAYOUT = '[data/]00001_img1.ppm, 00001_img2.ppm, 00001_flow.flo, ...'
    NAMINGS = (('_img1.ppm', '_img2.ppm',
                '_flow.flo'), ('-img0.ppm', '-img1.ppm', '-gt.flo'),
               ('-img_0.png', '-img_1.png', '-flow_01.flo'))
    SPLIT_IDS = dict(train='1', val='2')

    def __init__(self,
                 data_subdir: Optional[str] = None,
                 split_file: Optional[str] = None,
                 split: str = 'train',
                 **kwargs) -> None:
        if split not in self.SPLIT_IDS:
            raise ValueError(f'split must be one of {tuple(self.SPLIT_IDS)}, '
                             f'got {split!r}')
        self.data_subdir = data_subdir
        self.split_file = split_file
        self.split = split
        super().__init__(**kwargs)

    def _folder(self) -> str:
        if self.data_subdir is not None:
            return self.require_dir(self.data_root, self.data_subdir)
        release = osp.join(self.data_root, 'data')
        return release if osp.isdir(release) else self.data_root

    def _split_mask(self, num_pairs: int) -> Optional[List[bool]]:
        if self.split_file is None:
            return None
        path = osp.join(self.data_root, self.split_file)
        if not osp.isfile(path):
            raise self.missing(path, 'split_file')
        with open(path) as f:
            ids = f.read().split()
        if len(ids) != num_pairs:
            raise ValueError(f'{path}: {len(ids)} entries for {num_pairs} '
                             'pairs found on disk')
        return [i == self.SPLIT_IDS[self.split] for i in ids]

    def list_pairs(self) -> List[dict]:
        folder = self._folder()
        names = set(os.listdir(folder))
        for suffix1, suffix2, flow_suffix in self.NAMINGS:
            stems = sorted(
                n[:-len(suffix1)] for n in names
                if n.endswith(suffix1) and n[:-len(suffix1)].isdigit())
            if stems:
                break
        data_list = []
        for stem in stems:
            files = [stem + s for s in (suffix1, suffix2, flow_suffix)]
            for name in files[1:]:
                if name not in names:
                    raise self.missing(osp.join(folder, name), 'file')
            data_list.append(
                flow_pair_info(*(osp.join(folder, n) for n in files)))
        mask = self._split_mask(len(data_list))
        if mask is not None:
            data_list = [d for d, keep in zip(data_list, mask) if keep]
        return data_list


@DATASETS.register_module()
class FlyingThings3DDataset(BaseFlowDataset):
    """FlyingThings3D (Mayer et al., CVPR 2016), full "Scene Flow" release.

    Layout::

        frames_cleanpass/TRAIN/A/0000/left/0006.png
        optical_flow/TRAIN/A/0000/into_future/left/
            OpticalFlowIntoFuture_0006_L.pfm
        optical_flow/TRAIN/A/0000/into_past/left/
            OpticalFlowIntoPast_0007_L.pfm

    Args:
        split (str): ``'train'`` or ``'test'`` (``TRAIN``/``TEST`` folders).
        pass_style (str): ``'clean'`` or ``'final'``.
        cameras (sequence of str): ``'left'`` and/or ``'right'``.
        into_future (bool): forward pairs (t, t+1) with the ``into_future``
            flow if True, else (t, t-1) with the ``into_past`` flow.
    """

    LAYOUT = ('frames_{clean,final}pass/{TRAIN,TEST}/{A,B,C}/NNNN/{left,right}'
              '/NNNN.png and optical_flow/{TRAIN,TEST}/{A,B,C}/NNNN/'
              '{into_future,into_past}/{left,right}/'
              'OpticalFlowIntoFuture_NNNN_L.pfm')

    def __init__(self,
                 split: str = 'train',
                 pass_style: str = 'clean',
                 cameras: Sequence[str] = ('left', ),
                 into_future: bool = True,
                 **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if pass_style not in ('clean', 'final'):
            raise ValueError(
                f"pass_style must be 'clean' or 'final', got {pass_style!r}")
        self.split = split
        self.pass_style = pass_style
        self.cameras = tuple(cameras)
        self.into_future = into_future
        super().__init__(**kwargs)

    def list_pairs(self) -> List[dict]:
        split = self.split.upper()
        frames_root = self.require_dir(self.data_root,
                                       f'frames_{self.pass_style}pass', split)
        flow_root = self.require_dir(self.data_root, 'optical_flow', split)
        step = 1 if self.into_future else -1
        direction = 'into_future' if self.into_future else 'into_past'
        prefix = 'OpticalFlowIntoFuture' if self.into_future \
            else 'OpticalFlowIntoPast'
        data_list = []
        for subset in sorted(os.listdir(frames_root)):
            for seq in sorted(os.listdir(osp.join(frames_root, subset))):
                for cam in self.cameras:
                    img_dir = osp.join(frames_root, subset, seq, cam)
                    if not osp.isdir(img_dir):
                        continue
                    frames = {
                        frame_number(f): f
                        for f in list_images(img_dir)
                    }
                    flow_dir = osp.join(flow_root, subset, seq, direction, cam)
                    for t in sorted(frames):
                        if t + step not in frames:
                            continue
                        flow = f'{prefix}_{t:04d}_{cam[0].upper()}.pfm'
                        data_list.append(
                            flow_pair_info(
                                osp.join(img_dir, frames[t]),
                                osp.join(img_dir, frames[t + step]),
                                osp.join(flow_dir, flow)))
        return data_list
