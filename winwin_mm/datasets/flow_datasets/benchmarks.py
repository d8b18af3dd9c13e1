"""Benchmark flow datasets: MPI-Sintel, KITTI 2012/2015, Spring, HD1K."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from winwin_mm.registry import DATASETS
from .base import (BaseFlowDataset, consecutive_pairs, flow_pair_info,
                   frame_number, list_images)


@DATASETS.register_module()
class SintelDataset(BaseFlowDataset):
    """MPI-Sintel (Butler et al., ECCV 2012).

    Layout: ``training/{clean,final}/SCENE/frame_XXXX.png``,
    ``training/flow/SCENE/frame_XXXX.flo``; ``test/{clean,final}/...``
    without flow.

    Args:
        split (str): ``'training'`` or ``'test'`` (no ground truth).
        pass_style (str): ``'clean'`` or ``'final'``.
        scenes (sequence of str, optional): keep only these scenes.
    """

    LAYOUT = ('{training,test}/{clean,final}/SCENE/frame_XXXX.png and '
              'training/flow/SCENE/frame_XXXX.flo')

    def __init__(self,
                 split: str = 'training',
                 pass_style: str = 'clean',
                 scenes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if split not in ('training', 'test'):
            raise ValueError(
                f"split must be 'training' or 'test', got {split!r}")
        if pass_style not in ('clean', 'final'):
            raise ValueError(
                f"pass_style must be 'clean' or 'final', got {pass_style!r}")
        self.split = split
        self.pass_style = pass_style
        self.scenes = None if scenes is None else tuple(scenes)
        super().__init__(**kwargs)

    def list_pairs(self) -> List[dict]:
        img_root = self.require_dir(self.data_root, self.split,
                                    self.pass_style)
        flow_root = None
        if self.split == 'training':
            flow_root = self.require_dir(self.data_root, self.split, 'flow')
        scenes = self.scenes or sorted(os.listdir(img_root))
        data_list = []
        for scene in scenes:
            img_dir = self.require_dir(img_root, scene, what='scene folder')
            flow_dir = None
            if flow_root is not None:
                flow_dir = self.require_dir(
                    flow_root, scene, what='flow scene folder')
            data_list += consecutive_pairs(img_dir, flow_dir, scene=scene)
        return data_list


class _KITTIFlowDataset(BaseFlowDataset):
    """KITTI-style layout: ``IMG_DIR/NNNNNN_10.png``, ``NNNNNN_11.png`` and
    ``FLOW_DIR/NNNNNN_10.png`` (16-bit PNG, sparse).

    ``data_root`` is the folder that holds the image and flow folders
    (``training`` or ``testing`` of the official archive).

    Args:
        img_dir (str, optional): image folder; by default the first of
            ``IMG_DIRS`` that exists.
        flow_dir (str, optional): ``'flow_occ'`` (all pixels) or
            ``'flow_noc'`` (non-occluded only); ``None`` for the testing
            split (no ground truth).
    """

    IMG_DIRS: Tuple[str, ...] = ()

    def __init__(self,
                 img_dir: Optional[str] = None,
                 flow_dir: Optional[str] = 'flow_occ',
                 **kwargs) -> None:
        self.img_dir = img_dir
        self.flow_dir = flow_dir
        super().__init__(**kwargs)

    def _img_dir(self) -> str:
        if self.img_dir is not None:
            return self.require_dir(self.data_root, self.img_dir)
        for name in self.IMG_DIRS:
            if osp.isdir(osp.join(self.data_root, name)):
                return osp.join(self.data_root, name)
        raise self.missing(
            osp.join(self.data_root, '{' + ','.join(self.IMG_DIRS) + '}'),
            'image folder')

    def list_pairs(self) -> List[dict]:
        img_dir = self._img_dir()
        flow_dir = None
        if self.flow_dir is not None:
            flow_dir = self.require_dir(self.data_root, self.flow_dir)
        data_list = []
        for name in sorted(os.listdir(img_dir)):
            if not name.endswith('_10.png'):
                continue
            img2 = osp.join(img_dir, name[:-len('_10.png')] + '_11.png')
            flow = None if flow_dir is None else osp.join(flow_dir, name)
            data_list.append(
                flow_pair_info(
                    osp.join(img_dir, name), img2, flow, sparse=True))
        return data_list


@DATASETS.register_module()
class KITTI2012Dataset(_KITTIFlowDataset):
    """KITTI 2012 flow (Geiger et al., CVPR 2012): ``colored_0`` (or the
    grey ``image_0``) with ``flow_occ`` / ``flow_noc``. See
    :class:`_KITTIFlowDataset` for the arguments."""

    IMG_DIRS = ('colored_0', 'image_0')
    LAYOUT = ('{colored_0,image_0}/NNNNNN_1{0,1}.png and '
              '{flow_occ,flow_noc}/NNNNNN_10.png')


@DATASETS.register_module()
class KITTI2015Dataset(_KITTIFlowDataset):
    """KITTI 2015 flow (Menze and Geiger, CVPR 2015): ``image_2`` with
    ``flow_occ`` / ``flow_noc``. See :class:`_KITTIFlowDataset`."""

    IMG_DIRS = ('image_2', )
    LAYOUT = 'image_2/NNNNNN_1{0,1}.png and {flow_occ,flow_noc}/NNNNNN_10.png'


@DATASETS.register_module()
class SpringDataset(BaseFlowDataset):
    """Spring (Mehl et al., CVPR 2023), https://spring-benchmark.org.

    Layout: ``{train,test}/SCENE/frame_{left,right}/frame_left_XXXX.png``
    (1920x1080) and ``train/SCENE/flow_{FW,BW}_left/flow_FW_left_XXXX.flo5``.
    The ground truth has **twice** the image resolution (3840x2160, flow in
    image pixels); data infos carry ``gt_scale=2`` and ``LoadFlowPair``
    subsamples it or keeps it for ``FlowMetric(mode='spring')``.

    Args:
        split (str): ``'train'`` (train folder minus ``val_scenes``),
            ``'val'`` (only ``val_scenes``) or ``'test'`` (test folder, no
            ground truth).
        val_scenes (sequence of str): scene names held out for validation,
            e.g. ``('0041', '0045')``; integers are zero-padded to 4 digits.
        cameras (sequence of str): ``'left'`` and/or ``'right'``.
        directions (sequence of str): ``'FW'`` (t -> t+1) and/or ``'BW'``
            (t -> t-1).
    """

    LAYOUT = ('{train,test}/SCENE/frame_left/frame_left_XXXX.png and '
              'train/SCENE/flow_FW_left/flow_FW_left_XXXX.flo5')
    GT_SCALE = 2

    def __init__(self,
                 split: str = 'train',
                 val_scenes: Sequence = (),
                 cameras: Sequence[str] = ('left', ),
                 directions: Sequence[str] = ('FW', ),
                 **kwargs) -> None:
        if split not in ('train', 'val', 'test'):
            raise ValueError(
                f"split must be 'train', 'val' or 'test', got {split!r}")
        if split == 'val' and not val_scenes:
            raise ValueError("split='val' needs val_scenes")
        if not set(directions) <= {'FW', 'BW'}:
            raise ValueError(f"directions are 'FW'/'BW', got {directions}")
        self.split = split
        self.val_scenes = {
            f'{int(s):04d}' if str(s).isdigit() else str(s)
            for s in val_scenes
        }
        self.cameras = tuple(cameras)
        self.directions = tuple(directions)
        super().__init__(**kwargs)

    def _scenes(self, split_root: str) -> List[str]:
        scenes = sorted(
            s for s in os.listdir(split_root)
            if osp.isdir(osp.join(split_root, s)))
        if self.split == 'train':
            return [s for s in scenes if s not in self.val_scenes]
        if self.split == 'val':
            absent = self.val_scenes.difference(scenes)
            if absent:
                raise self.missing(
                    osp.join(split_root,
                             sorted(absent)[0]), 'val scene')
            return [s for s in scenes if s in self.val_scenes]
        return scenes

    def list_pairs(self) -> List[dict]:
        folder = 'test' if self.split == 'test' else 'train'
        split_root = self.require_dir(self.data_root, folder)
        with_gt = self.split != 'test'
        data_list = []
        for scene in self._scenes(split_root):
            for cam in self.cameras:
                img_dir = self.require_dir(split_root, scene, f'frame_{cam}')
                frames = {frame_number(f): f for f in list_images(img_dir)}
                for direction in self.directions:
                    step = 1 if direction == 'FW' else -1
                    flow_dir = osp.join(split_root, scene,
                                        f'flow_{direction}_{cam}')
                    for t in sorted(frames):
                        if t + step not in frames:
                            continue
                        flow = osp.join(
                            flow_dir, f'flow_{direction}_{cam}_{t:04d}.flo5'
                        ) if with_gt else None
                        data_list.append(
                            flow_pair_info(
                                osp.join(img_dir, frames[t]),
                                osp.join(img_dir, frames[t + step]),
                                flow,
                                gt_scale=self.GT_SCALE,
                                scene=scene))
        return data_list


@DATASETS.register_module()
class HD1KDataset(BaseFlowDataset):
    """HD1K (Kondermann et al., CVPRW 2016): sparse KITTI-format ground
    truth for consecutive frames of driving sequences.

    Layout: ``hd1k_input/image_2/SSSSSS_FFFF.png`` and
    ``hd1k_flow_gt/flow_occ/SSSSSS_FFFF.png`` (flow from frame ``FFFF`` to
    ``FFFF + 1`` of sequence ``SSSSSS``).
    """

    LAYOUT = ('hd1k_input/image_2/SSSSSS_FFFF.png and '
              'hd1k_flow_gt/flow_occ/SSSSSS_FFFF.png')

    def list_pairs(self) -> List[dict]:
        img_dir = self.require_dir(self.data_root, 'hd1k_input', 'image_2')
        flow_dir = self.require_dir(self.data_root, 'hd1k_flow_gt', 'flow_occ')
        images = set(os.listdir(img_dir))
        data_list = []
        for name in sorted(os.listdir(flow_dir)):
            if not name.endswith('.png'):
                continue
            seq, frame = osp.splitext(name)[0].rsplit('_', 1)
            img2 = f'{seq}_{int(frame) + 1:0{len(frame)}d}.png'
            if name in images and img2 in images:
                data_list.append(
                    flow_pair_info(
                        osp.join(img_dir, name),
                        osp.join(img_dir, img2),
                        osp.join(flow_dir, name),
                        sparse=True))
        return data_list
