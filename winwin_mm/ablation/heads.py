"""Decode-head choice of the masking study (``tools/ablate.py --head``)."""
from mmengine.config import Config, ConfigDict

HEADS = ('uper', 'dpt')


def backbone_channels(model: ConfigDict) -> int:
    """Channels of the backbone's output layers (the neck's input)."""
    src = model.get('neck') or model.decode_head
    chans = set(src['in_channels'])
    if len(chans) != 1:
        raise ValueError(f'Expected one channel count for the backbone '
                         f'layers, got {sorted(chans)}.')
    return chans.pop()


def dpt_head(model: ConfigDict) -> dict:
    """A :class:`DPTSegHead` config replacing ``model``'s neck and decode
    head: same classes, width (``channels``), norm and loss."""
    old, dims = model.decode_head, backbone_channels(model)
    return dict(
        type='winwin_mm.DPTSegHead', in_channels=[dims] * 4,
        in_index=(0, 1, 2, 3), channels=old['channels'],
        hidden_channels=(dims // 8, dims // 4, dims // 2, dims),
        num_classes=old['num_classes'], norm_cfg=old.get('norm_cfg'),
        dropout_ratio=old.get('dropout_ratio', 0.1), align_corners=False,
        loss_decode=old['loss_decode'])


def set_head(cfg: Config, head: str) -> None:
    """Use ``head`` (``'uper'``: check the config has it; ``'dpt'``: swap in
    the DPT head, no neck, the auxiliary head on the backbone's layer)."""
    if head not in HEADS:
        raise ValueError(f'Unknown head {head!r}; choose from {HEADS}.')
    model = cfg.model
    have = str(model.decode_head.get('type'))
    if head == 'uper':
        if not have.endswith('UPerHead'):
            raise ValueError(f'--head uper: the config\'s decode head is '
                             f'{have}; use --head config or a UPerHead '
                             'config.')
        return
    if have.endswith('DPTSegHead'):
        return
    dims = backbone_channels(model)
    model.decode_head = ConfigDict(dpt_head(model))
    model.neck = None
    if model.get('auxiliary_head'):
        model.auxiliary_head.in_channels = dims
