"""The windows of a training batch, checked against the model's config, so
Win-Win cannot silently switch itself off (shared by the segmentation, depth
and flow models)."""
from typing import Optional, Sequence, Tuple

from torch import Tensor

from winwin_mm.windows import stack_meta

PACK_FIX = ('put winwin_mm.RandomWindows(patch_size=<backbone patch size>) '
            'after the geometric transforms of '
            'train_dataloader.dataset.pipeline and pack with '
            'winwin_mm.PackWinWinInputs (flow: winwin_mm.PackFlowInputs), or '
            "add 'window_boxes', 'window_tokens', 'window_patch_size' to the "
            'meta_keys of your pack transform')


def _image(samples) -> str:
    meta = samples[0].metainfo if len(samples) else {}
    return str(meta.get('img_path') or meta.get('img1_path') or '?')


def training_windows(data_samples: Sequence, train_windows: bool,
                     patch_size: int, owner: str
                     ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """``(window_boxes (B, N, 4), window_tokens (B, K))`` of a training
    batch (each None when absent).

    Raises:
        ValueError: ``train_windows=True`` (Win-Win) and the batch carries
            neither key (no ``RandomWindows``, or its keys not packed);
            ``train_windows=False`` (explicit full-resolution training) and
            the batch carries windows; or the windows were sampled on another
            patch grid than the model's (``window_patch_size``).
    """
    boxes = stack_meta(data_samples, 'window_boxes')
    tokens = stack_meta(data_samples, 'window_tokens')
    has = boxes is not None or tokens is not None
    if not train_windows:
        if has:
            raise ValueError(
                f'{owner} has train_windows=False (full-resolution training) '
                'but the training batch carries window_boxes/window_tokens '
                f'from RandomWindows (image {_image(data_samples)}). Fix: '
                'remove RandomWindows from the train pipeline, or set '
                'model.train_windows=True to train on the windows.')
        return None, None
    if not has:
        raise ValueError(
            f'{owner}: the training batch carries no window_boxes or '
            f'window_tokens (image {_image(data_samples)}), so Win-Win would '
            'silently train on the full-resolution image. Fix: '
            f'{PACK_FIX}. For full-resolution training on purpose set '
            'model.train_windows=False.')
    sizes = {int(s.metainfo['window_patch_size']) for s in data_samples
             if 'window_patch_size' in s.metainfo}
    if sizes - {int(patch_size)}:
        raise ValueError(
            f'RandomWindows(patch_size={sorted(sizes)[0]}) sampled the '
            f'windows of image {_image(data_samples)} on a '
            f'{sorted(sizes)[0]}-pixel grid, but the {owner} backbone has '
            f'patch_size={patch_size}: the windows would land on the wrong '
            'tokens. Fix: set patch_size='
            f'{patch_size} in RandomWindows of the train pipeline.')
    return boxes, tokens
