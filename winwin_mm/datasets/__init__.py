from .camvid import CamVidDataset
from .synthetic_seg import WinWinDemoDataset
from .flow_datasets import (FlowPairListDataset, FlyingChairsDataset,
                            FlyingThings3DDataset, HD1KDataset,
                            KITTI2012Dataset, KITTI2015Dataset, SintelDataset,
                            SpringDataset)
from .flow_io import read_flow
from .flow_mixture import FlowMixtureDataset
from .flow_transforms import (FlowColorJitter, FlowRandomCrop, FlowRandomFlip,
                              FlowRandomScale, LoadFlowPair, PackFlowInputs)
from .load_annotations import LabelFileError, LoadAnnotations
from .random_windows import RandomWindows
from .synthetic_flow import SyntheticFlowDataset

__all__ = [
    'CamVidDataset', 'RandomWindows', 'FlowPairListDataset',
    'FlyingChairsDataset', 'FlyingThings3DDataset', 'HD1KDataset',
    'KITTI2012Dataset', 'KITTI2015Dataset', 'SintelDataset', 'SpringDataset',
    'FlowMixtureDataset', 'read_flow', 'LoadFlowPair', 'FlowRandomScale', 'FlowRandomFlip',
    'FlowColorJitter', 'FlowRandomCrop', 'PackFlowInputs', 'LoadAnnotations',
    'LabelFileError', 'WinWinDemoDataset', 'SyntheticFlowDataset'
]
