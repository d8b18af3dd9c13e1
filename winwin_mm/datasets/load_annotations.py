"""mmseg's ``LoadAnnotations`` with errors that name the label file."""
from mmseg.datasets.transforms import LoadAnnotations as MMSegLoadAnnotations

from winwin_mm.registry import TRANSFORMS


class LabelFileError(ValueError):
    """A label map cannot be decoded; the message starts with its path."""


@TRANSFORMS.register_module()
class LoadAnnotations(MMSegLoadAnnotations):
    """Drop-in for mmseg's ``LoadAnnotations`` (same arguments and output:
    ``gt_seg_map`` (H, W) uint8/int).

    mmseg decodes label maps with Pillow, whose errors for a corrupt or
    truncated PNG ("image file is truncated", "cannot identify image file
    <_io.BytesIO ...>") do not say which of a dataset's files is broken.
    Here they do, with the fix.
    """

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        try:
            super()._load_seg_map(results)
        except Exception as e:  # any decoder error: name the file
            raise LabelFileError(
                f'{path}: cannot be decoded as a label map '
                f'({type(e).__name__}: {e}). The file is corrupt or '
                'truncated: re-extract or re-download it, or remove it from '
                'the split list.') from e
        if results.get('gt_seg_map') is None:
            raise LabelFileError(f'{path}: decoding returned no label map')
