"""Flow datasets: listing on the shared data and on synthetic layouts (empty
files: listing reads no pixels), loading through a pipeline, errors."""
import os
from pathlib import Path

import pytest
import torch
from mmengine.registry import DATASETS as MMENGINE_DATASETS

from winwin_mm.datasets import (FlowPairListDataset, FlyingChairsDataset,
                                FlyingThings3DDataset, HD1KDataset,
                                KITTI2012Dataset, KITTI2015Dataset,
                                SintelDataset, SpringDataset)
from winwin_mm.structures import FlowDataSample

DATA = Path(
    os.environ.get(
        'WINWIN_DATA',
        Path(__file__).resolve().parents[1].parent / 'shared' /
        'data')) / 'flow'
needs_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f'shared flow data not found at {DATA} (set WINWIN_DATA)')


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def rel(path, root) -> str:
    return None if path is None else str(Path(path).relative_to(root))


def listed(dataset, root):
    return [(rel(d['img1_path'], root), rel(d['img2_path'],
                                            root), rel(d['flow_fw_path'],
                                                       root))
            for d in (dataset.get_data_info(i) for i in range(len(dataset)))]


# ------------------------------------------------------ shared data
@needs_data
def test_kitti2012_shared_folder_through_a_pipeline():
    root = DATA / 'kitti2012'
    dataset = MMENGINE_DATASETS.build(
        dict(
            type='winwin_mm.KITTI2012Dataset',
            data_root=str(root),
            flow_dir='flow_noc',
            pipeline=[
                dict(type='winwin_mm.LoadFlowPair'),
                dict(
                    type='winwin_mm.FlowRandomScale',
                    log2_scale_range=(-0.2, 0.),
                    crop_size=(320, 640)),
                dict(type='winwin_mm.FlowRandomCrop', crop_size=(320, 640)),
                dict(type='winwin_mm.FlowRandomFlip'),
                dict(type='winwin_mm.FlowColorJitter'),
                dict(type='winwin_mm.PackFlowInputs'),
            ]))
    assert isinstance(dataset, KITTI2012Dataset)
    assert listed(dataset, root) == [
        ('image_0/000045_10.png', 'image_0/000045_11.png',
         'flow_noc/000045_10.png'),
        ('image_0/000157_10.png', 'image_0/000157_11.png',
         'flow_noc/000157_10.png'),
    ]
    assert dataset.get_data_info(0)['sparse'] is True
    packed = dataset[1]
    assert packed['inputs'].shape == (6, 320, 640)
    assert packed['inputs'].dtype == torch.uint8
    sample = packed['data_samples']
    assert isinstance(sample, FlowDataSample)
    assert sample.img_shape == (320, 640)
    assert sample.ori_shape == (370, 1226)
    assert sample.gt_flow_fw.data.shape == (2, 320, 640)
    valid = sample.gt_valid_fw.data
    assert valid.shape == (1, 320, 640) and 0 < valid.mean() < 0.9


@needs_data
def test_kitti2012_missing_flow_folder_is_named():
    with pytest.raises(FileNotFoundError) as err:
        KITTI2012Dataset(data_root=str(DATA / 'kitti2012'))  # no flow_occ
    message = str(err.value)
    assert str(DATA / 'kitti2012' / 'flow_occ') in message
    assert 'README.md#flow-datasets' in message


@needs_data
def test_flyingchairs_shared_folder():
    dataset = FlyingChairsDataset(data_root=str(DATA / 'flyingchairs'))
    assert len(dataset) == 5
    assert listed(dataset, DATA / 'flyingchairs')[4] == ('0000004-img0.ppm',
                                                         '0000004-img1.ppm',
                                                         '0000004-gt.flo')


@needs_data
def test_pair_list_on_sintel_pair(tmp_path):
    ann = tmp_path / 'pairs.txt'
    ann.write_text('# img1 img2 flow\n'
                   'frame_0001.png frame_0002.png frame_0001.flo\n'
                   'frame_0001.png frame_0002.png\n')
    dataset = FlowPairListDataset(
        data_root=str(DATA / 'sintel_pair'), ann_file=str(ann))
    assert listed(dataset, DATA / 'sintel_pair') == [
        ('frame_0001.png', 'frame_0002.png', 'frame_0001.flo'),
        ('frame_0001.png', 'frame_0002.png', None),
    ]
    assert dataset.get_data_info(0)['sparse'] is False


# ------------------------------------------------ missing folders
def test_missing_data_root_says_how_to_prepare(tmp_path):
    missing = tmp_path / 'nowhere'
    for cls in (FlyingChairsDataset, SintelDataset, SpringDataset,
                KITTI2015Dataset, HD1KDataset, FlyingThings3DDataset):
        with pytest.raises(FileNotFoundError) as err:
            cls(data_root=str(missing))
        message = str(err.value)
        assert cls.__name__ in message and str(missing) in message
        assert 'README.md#flow-datasets' in message


def test_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='holds no frame pair'):
        FlyingChairsDataset(data_root=str(tmp_path))


def test_missing_sub_folder_is_named(tmp_path):
    touch(tmp_path, 'training/clean/alley_1/frame_0001.png')
    with pytest.raises(FileNotFoundError, match='training/flow'):
        SintelDataset(data_root=str(tmp_path))


# ---------------------------------------------- synthetic layouts
def test_flyingchairs_release_naming_and_split_file(tmp_path):
    for i in (1, 2, 3):
        touch(tmp_path, f'data/{i:05d}_img1.ppm', f'data/{i:05d}_img2.ppm',
              f'data/{i:05d}_flow.flo')
    (tmp_path / 'FlyingChairs_train_val.txt').write_text('1\n2\n1\n')
    kwargs = dict(
        data_root=str(tmp_path), split_file='FlyingChairs_train_val.txt')
    train = FlyingChairsDataset(split='train', **kwargs)
    val = FlyingChairsDataset(split='val', **kwargs)
    assert [p[0] for p in listed(train, tmp_path)
            ] == ['data/00001_img1.ppm', 'data/00003_img1.ppm']
    assert listed(val, tmp_path) == [
        ('data/00002_img1.ppm', 'data/00002_img2.ppm', 'data/00002_flow.flo')
    ]


def test_sintel_layout(tmp_path):
    touch(
        tmp_path,
        *(f'{split}/{p}/alley_1/frame_000{i}.png'
          for split in ('training', 'test') for p in ('clean', 'final')
          for i in (1, 2, 3)))
    touch(tmp_path, 'training/flow/alley_1/frame_0001.flo',
          'training/flow/alley_1/frame_0002.flo')
    final = SintelDataset(data_root=str(tmp_path), pass_style='final')
    assert listed(final, tmp_path) == [
        ('training/final/alley_1/frame_0001.png',
         'training/final/alley_1/frame_0002.png',
         'training/flow/alley_1/frame_0001.flo'),
        ('training/final/alley_1/frame_0002.png',
         'training/final/alley_1/frame_0003.png',
         'training/flow/alley_1/frame_0002.flo'),
    ]
    test = SintelDataset(data_root=str(tmp_path), split='test')
    assert [p[2] for p in listed(test, tmp_path)] == [None, None]


def test_flyingthings3d_layout(tmp_path):
    seq = 'TRAIN/A/0000'
    touch(tmp_path,
          *(f'frames_cleanpass/{seq}/left/{i:04d}.png' for i in (6, 7, 8)))
    touch(tmp_path, f'optical_flow/{seq}/into_future/left/x.pfm')
    future = FlyingThings3DDataset(data_root=str(tmp_path))
    assert listed(future,
                  tmp_path)[0] == (f'frames_cleanpass/{seq}/left/0006.png',
                                   f'frames_cleanpass/{seq}/left/0007.png',
                                   f'optical_flow/{seq}/into_future/left/'
                                   'OpticalFlowIntoFuture_0006_L.pfm')
    past = FlyingThings3DDataset(data_root=str(tmp_path), into_future=False)
    assert listed(past, tmp_path)[-1] == (
        f'frames_cleanpass/{seq}/left/0008.png',
        f'frames_cleanpass/{seq}/left/0007.png',
        f'optical_flow/{seq}/into_past/left/OpticalFlowIntoPast_0008_L.pfm')


def test_spring_layout_and_val_scenes(tmp_path):
    for split in ('train', 'test'):
        for scene in ('0001', '0002'):
            touch(
                tmp_path,
                *(f'{split}/{scene}/frame_left/'
                  f'frame_left_{i:04d}.png' for i in (1, 2, 3)))
    train = SpringDataset(data_root=str(tmp_path), val_scenes=[2])
    val = SpringDataset(
        data_root=str(tmp_path),
        split='val',
        val_scenes=['0002'],
        directions=('FW', 'BW'))
    test = SpringDataset(data_root=str(tmp_path), split='test')
    assert listed(train, tmp_path) == [
        ('train/0001/frame_left/frame_left_0001.png',
         'train/0001/frame_left/frame_left_0002.png',
         'train/0001/flow_FW_left/flow_FW_left_0001.flo5'),
        ('train/0001/frame_left/frame_left_0002.png',
         'train/0001/frame_left/frame_left_0003.png',
         'train/0001/flow_FW_left/flow_FW_left_0002.flo5'),
    ]
    assert len(val) == 4 and listed(
        val, tmp_path)[2] == ('train/0002/frame_left/frame_left_0002.png',
                              'train/0002/frame_left/frame_left_0001.png',
                              'train/0002/flow_BW_left/flow_BW_left_0002.flo5')
    assert len(test) == 4 and all(p[2] is None for p in listed(test, tmp_path))
    assert train.get_data_info(0)['gt_scale'] == 2


def test_kitti2015_and_hd1k_layouts(tmp_path):
    touch(tmp_path, 'image_2/000000_10.png', 'image_2/000000_11.png',
          'flow_occ/000000_10.png')
    kitti = KITTI2015Dataset(data_root=str(tmp_path))
    assert listed(kitti, tmp_path) == [
        ('image_2/000000_10.png', 'image_2/000000_11.png',
         'flow_occ/000000_10.png')
    ]
    testing = KITTI2015Dataset(data_root=str(tmp_path), flow_dir=None)
    assert listed(testing, tmp_path)[0][2] is None
    touch(tmp_path,
          *(f'hd1k_input/image_2/000003_{i:04d}.png' for i in range(3)))
    touch(tmp_path,
          *(f'hd1k_flow_gt/flow_occ/000003_{i:04d}.png' for i in range(3)))
    hd1k = HD1KDataset(data_root=str(tmp_path))
    assert len(hd1k) == 2 and hd1k.get_data_info(1)['sparse'] is True
    assert listed(hd1k,
                  tmp_path)[1] == ('hd1k_input/image_2/000003_0001.png',
                                   'hd1k_input/image_2/000003_0002.png',
                                   'hd1k_flow_gt/flow_occ/000003_0001.png')


# ------------------------------------------------ training mixture
@needs_data
def test_flow_mixture_repeats_members_with_one_pipeline():
    """FlowMixtureDataset = ConcatDataset of RepeatDataset members, every
    member with the mixture's pipeline (the Sintel-stage configs use it)."""
    from mmengine.dataset import ConcatDataset, RepeatDataset
    from mmengine.registry import DefaultScope

    from winwin_mm.registry import DATASETS
    with DefaultScope.overwrite_default_scope('winwin_mm'):
        _check_mixture(DATASETS, ConcatDataset, RepeatDataset)


def _check_mixture(DATASETS, ConcatDataset, RepeatDataset):
    pipeline = [dict(type='winwin_mm.LoadFlowPair'),
                dict(type='winwin_mm.FlowRandomCrop', crop_size=(64, 96)),
                dict(type='winwin_mm.PackFlowInputs')]
    kitti = dict(type='winwin_mm.KITTI2012Dataset',
                 data_root=str(DATA / 'kitti2012'), flow_dir='flow_noc')
    pair = dict(type='winwin_mm.FlowPairListDataset',
                data_root=str(DATA / 'sintel_pair'),
                pairs=[('frame_0001.png', 'frame_0002.png',
                        'frame_0001.flo')])
    mix = DATASETS.build(dict(
        type='winwin_mm.FlowMixtureDataset', datasets=[kitti, pair],
        repeats=[1, 3], pipeline=pipeline))
    assert isinstance(mix, ConcatDataset)
    assert isinstance(mix.datasets[1], RepeatDataset)
    assert len(mix) == 2 + 3 * 1
    names = [Path(mix.get_data_info(i)['img1_path']).name
             for i in range(len(mix))]
    assert names == ['000045_10.png', '000157_10.png'] + \
        ['frame_0001.png'] * 3
    for i in (0, 4):  # one pipeline for every member
        out = mix[i]
        assert out['inputs'].shape == (6, 64, 96)
    with pytest.raises(ValueError, match='2 datasets but 1 repeats'):
        DATASETS.build(dict(
            type='winwin_mm.FlowMixtureDataset', datasets=[kitti, pair],
            repeats=[1], pipeline=pipeline))
    with pytest.raises(ValueError, match='sets its own pipeline'):
        DATASETS.build(dict(
            type='winwin_mm.FlowMixtureDataset',
            datasets=[dict(kitti, pipeline=pipeline)], repeats=[1],
            pipeline=pipeline))
