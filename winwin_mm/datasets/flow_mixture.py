"""A training mixture of flow datasets that share one pipeline."""
import copy
from typing import Sequence

from mmengine.dataset import ConcatDataset, RepeatDataset

from winwin_mm.registry import DATASETS


@DATASETS.register_module()
class FlowMixtureDataset(ConcatDataset):
    """Concatenation of flow datasets, each repeated ``repeats[i]`` times
    (RAFT-style balancing), all with the same ``pipeline``.

    One ``pipeline`` argument for the whole mixture lets a config change the
    pipeline once (e.g. add ``RandomWindows`` on top of a full-resolution
    base) instead of rewriting every member.

    Args:
        datasets (list[dict]): member dataset configs, without ``pipeline``.
        repeats (list[int]): repeat factor of each member (>= 1).
        pipeline (list[dict]): transforms of every member.
        **kwargs: ``ConcatDataset`` arguments (e.g. ``lazy_init``).
    """

    def __init__(self, datasets: Sequence[dict], repeats: Sequence[int],
                 pipeline: Sequence[dict], **kwargs) -> None:
        if len(datasets) != len(repeats):
            raise ValueError(
                f'FlowMixtureDataset: {len(datasets)} datasets but '
                f'{len(repeats)} repeats; give one repeat factor per dataset.')
        members = []
        for cfg, times in zip(datasets, repeats):
            if 'pipeline' in cfg:
                raise ValueError(
                    f'FlowMixtureDataset member {cfg.get("type")} sets its own '
                    'pipeline; remove it (the mixture pipeline applies).')
            if int(times) < 1:
                raise ValueError(f'repeat factors must be >= 1, got {times}.')
            ds = DATASETS.build(dict(copy.deepcopy(cfg),
                                     pipeline=copy.deepcopy(list(pipeline))))
            # ConcatDataset takes datasets or configs (not wrapper
            # instances): a config whose type is the class needs no lookup
            members.append(ds if times == 1 else dict(
                type=RepeatDataset, times=int(times), dataset=ds))
        super().__init__(members, **kwargs)
