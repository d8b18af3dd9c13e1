from .bdd100k import BDD100KDataset
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
from .load_image import ImageFileError, LoadImageFromFile
from .random_windows import (WINDOW_META_KEYS, PackWinWinInputs,
                             RandomWindows)
from .synthetic_flow import SyntheticFlowDataset

__all__ = [
    'BDD100KDataset', 'CamVidDataset', 'RandomWindows', 'PackWinWinInputs',
    'WINDOW_META_KEYS', 'FlowPairListDataset',
    'FlyingChairsDataset', 'FlyingThings3DDataset', 'HD1KDataset',
    'KITTI2012Dataset', 'KITTI2015Dataset', 'SintelDataset', 'SpringDataset',
    'FlowMixtureDataset', 'read_flow', 'LoadFlowPair', 'FlowRandomScale', 'FlowRandomFlip',
    'FlowColorJitter', 'FlowRandomCrop', 'PackFlowInputs', 'LoadAnnotations',
    'LabelFileError', 'ImageFileError', 'LoadImageFromFile',
    'WinWinDemoDataset', 'SyntheticFlowDataset'
]
