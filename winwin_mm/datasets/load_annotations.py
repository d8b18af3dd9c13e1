"""mmseg's ``LoadAnnotations`` with errors that name the label file."""
import os.path as osp

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
    Here they do, with the fix; a label map of another size than its image
    (``ori_shape``, set by ``LoadImageFromFile``) is refused the same way
    (mmseg fails later with "stack expects each tensor to be equal size").
    """

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        try:
            super()._load_seg_map(results)
        except Exception as e:  # any decoder error: name the file
            if isinstance(path, str) and not osp.exists(path):
                raise LabelFileError(
                    f'{path}: label file is missing. Restore it (re-extract '
                    'the dataset) or remove it from the split list.') from e
            raise LabelFileError(
                f'{path}: cannot be decoded as a label map '
                f'({type(e).__name__}: {e}). The file is corrupt or '
                'truncated: re-extract or re-download it, or remove it from '
                'the split list.') from e
        if results.get('gt_seg_map') is None:
            raise LabelFileError(f'{path}: decoding returned no label map')
        label_hw = tuple(results['gt_seg_map'].shape[:2])
        img_hw = tuple(results.get('ori_shape', label_hw)[:2])
        if label_hw != img_hw:
            raise LabelFileError(
                f'{path}: label map is {label_hw[0]}x{label_hw[1]} pixels but '
                f'its image {results.get("img_path")} is {img_hw[0]}x'
                f'{img_hw[1]}. The image and label lists are out of step or '
                'the label was resized: fix the file (or the split list) so '
                'every label map has its image\'s size.')
