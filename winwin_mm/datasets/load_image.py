"""mmcv's ``LoadImageFromFile`` with an error that names the image file and
the fix."""
import os.path as osp

from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from winwin_mm.registry import TRANSFORMS


class ImageFileError(ValueError):
    """An image cannot be decoded; the message starts with its path."""


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """Drop-in for mmcv's ``LoadImageFromFile`` (same arguments and
    output). A corrupt or truncated image raises :class:`ImageFileError`
    naming the file and the fix, where mmcv raises ``AssertionError:
    failed to load image`` (``ignore_empty=True`` still skips it)."""

    def transform(self, results: dict):
        try:
            out = super().transform(results)
        except Exception as e:
            path = results.get('img_path')
            if isinstance(path, str) and not osp.exists(path):
                raise ImageFileError(
                    f'{path}: image file is missing. Restore it (re-extract '
                    'the dataset) or remove it from the split list.') from e
            raise ImageFileError(
                f'{results.get("img_path")}: cannot be decoded as an image '
                f'({type(e).__name__}: {e}). The file is corrupt or '
                'truncated: re-extract or re-download it, or remove it from '
                'the split list.') from e
        return out
