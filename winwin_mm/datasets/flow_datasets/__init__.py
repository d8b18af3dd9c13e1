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
from .base import BaseFlowDataset, flow_pair_info
from .benchmarks import (HD1KDataset, KITTI2012Dataset, KITTI2015Dataset,
                         SintelDataset, SpringDataset)
from .pair_list import FlowPairListDataset
from .rendered import FlyingChairsDataset, FlyingThings3DDataset

__all__ = [
    'BaseFlowDataset', 'flow_pair_info', 'FlowPairListDataset',
    'FlyingChairsDataset', 'FlyingThings3DDataset', 'SintelDataset',
    'KITTI2012Dataset', 'KITTI2015Dataset', 'SpringDataset', 'HD1KDataset'
]
