"""A flow dataset from an explicit list of frame pairs."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from winwin_mm.registry import DATASETS
from .base import BaseFlowDataset, flow_pair_info


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
