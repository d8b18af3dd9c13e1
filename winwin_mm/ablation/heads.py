"""Decode-head choice of the masking study (``tools/ablate.py --head``)."""
from mmengine.config import Config

HEADS = ('uper', 'dpt')


def set_head(cfg: Config, head: str) -> None:
    """Replace the config's decode head (and neck) in place."""
    if head not in HEADS:
        raise ValueError(f'Unknown head {head!r}; choose from {HEADS}.')
    raise NotImplementedError(f'--head {head} is not available yet.')
