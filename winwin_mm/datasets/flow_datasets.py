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
from typing import List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset

from winwin_mm.registry import DATASETS

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


def _frame_number(filename: str) -> int:
    """The trailing integer of a file stem: ``frame_0012.png`` -> 12."""
    stem = osp.splitext(filename)[0]
    digits = stem[len(stem.rstrip('0123456789')):]
    if not digits:
        raise ValueError(f'{filename}: no frame number at the end of the name')
    return int(digits)


def _list_images(folder: str) -> List[str]:
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


@DATASETS.register_module()
class FlowPairListDataset(BaseFlowDataset):
    """Pairs given explicitly, as a list or as an annotation file.

    The annotation file has one pair per line, ``img1 img2 [flow]``,
    whitespace separated, paths relative to ``data_root`` (or absolute);
    ``#`` starts a comment. Example for ``../shared/data/flow/sintel_pair``::

        FlowPairListDataset(
            data_root='../shared/data/flow/sintel_pair',
            pairs=[('frame_0001.png', 'frame_0002.png', 'frame_0001.flo')])

    Args:
        ann_file (str): the annotation file (relative to ``data_root``).
        pairs (list, optional): ``(img1, img2)`` or ``(img1, img2, flow)``
            tuples, used instead of ``ann_file``.
        sparse (bool, optional): sparse ground truth; by default True for
            KITTI-style ``.png`` flow files and False otherwise.
    """

    LAYOUT = 'any; pairs listed in ann_file or pairs'

    def __init__(self,
                 ann_file: str = '',
                 pairs: Optional[Sequence[Sequence[str]]] = None,
                 sparse: Optional[bool] = None,
                 **kwargs) -> None:
        if bool(ann_file) == (pairs is not None):
            raise ValueError('FlowPairListDataset needs exactly one of '
                             'ann_file or pairs.')
        self.pairs = None if pairs is None else [tuple(p) for p in pairs]
        self.sparse = sparse
        super().__init__(ann_file=ann_file, **kwargs)

    def _read_ann_file(self) -> List[Tuple[str, ...]]:
        if not osp.isfile(self.ann_file):
            raise self.missing(self.ann_file, 'ann_file')
        pairs = []
        with open(self.ann_file) as f:
            for lineno, line in enumerate(f, 1):
                fields = line.split('#', 1)[0].split()
                if not fields:
                    continue
                if len(fields) not in (2, 3):
                    raise ValueError(
                        f'{self.ann_file}:{lineno}: expected "img1 img2 '
                        f'[flow]", got {line.strip()!r}')
                pairs.append(tuple(fields))
        return pairs

    def list_pairs(self) -> List[dict]:
        pairs = self._read_ann_file() if self.pairs is None else self.pairs
        data_list = []
        for pair in pairs:
            if len(pair) not in (2, 3):
                raise ValueError(f'a pair is (img1, img2[, flow]), got {pair}')
            img1, img2 = (osp.join(self.data_root, p) for p in pair[:2])
            flow = osp.join(self.data_root, pair[2]) if len(pair) == 3 \
                else None
            sparse = self.sparse
            if sparse is None:
                sparse = flow is not None and flow.lower().endswith('.png')
            data_list.append(flow_pair_info(img1, img2, flow, sparse))
        return data_list


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
                        _frame_number(f): f
                        for f in _list_images(img_dir)
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


def _consecutive_pairs(img_dir: str,
                       flow_dir: Optional[str] = None,
                       flow_suffix: str = '.flo',
                       **extra) -> List[dict]:
    """Pairs (t, t+1) of the numbered frames in ``img_dir``; the flow of a
    pair is ``flow_dir/<stem of frame t><flow_suffix>`` (None without
    ``flow_dir``)."""
    frames = {_frame_number(f): f for f in _list_images(img_dir)}
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
            data_list += _consecutive_pairs(img_dir, flow_dir, scene=scene)
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
                frames = {_frame_number(f): f for f in _list_images(img_dir)}
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
