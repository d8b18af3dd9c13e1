"""Checks of a segmentation split before training: every image and label
file exists and opens (a header read), label maps are single-channel 8-bit,
``reduce_zero_label`` fits the dataset, and the label values (on a sample
of the label maps) are classes or ``ignore_index`` and are not all void.

Each problem raises :class:`DatasetCheckError` naming the file(s), the
values and the fix, before the first iteration (the loaders find a missing
or broken file only when the sampler draws it, hours into a run).
"""
import inspect
import os.path as osp
import time
from typing import List, Optional

import numpy as np
from mmengine.logging import print_log

SINGLE_CHANNEL = ('L', 'P', '1')
SIXTEEN_BIT = ('I;16', 'I;16B', 'I;16L', 'I', 'F')


class DatasetCheckError(ValueError):
    """A split that training would misread; the message names the files."""


def _default_reduce_zero_label(cls) -> Optional[bool]:
    """The ``reduce_zero_label`` default of ``cls`` along its MRO."""
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        p = inspect.signature(init).parameters.get('reduce_zero_label')
        if p is not None and p.default is not p.empty:
            return bool(p.default)
    return None


def check_reduce_zero_label(dataset, where: str) -> None:
    """``reduce_zero_label=True`` on a dataset class whose label 0 is one
    of its classes (its own default is False) shifts every label by one."""
    from mmseg.datasets import BaseSegDataset
    cls = type(dataset)
    if not getattr(dataset, 'reduce_zero_label', False) or \
            cls is BaseSegDataset or _default_reduce_zero_label(cls) is not \
            False:
        return
    classes = dataset.metainfo.get('classes') or ()
    first = f' ({classes[0]!r})' if classes else ''
    last = (f' and value {len(classes)} becomes {classes[-1]!r}'
            if classes else '')
    raise DatasetCheckError(
        f'{where}: reduce_zero_label=True on {cls.__name__}, whose label 0 '
        f'is a class{first}: every label would be shifted down by one, 0 '
        f'ignored{last}. {cls.__name__} is read with reduce_zero_label='
        'False (its void label is mapped to ignore_index by the dataset). '
        'Fix: remove reduce_zero_label=True from the dataset config.')


def _open(path: str, kind: str, problems: dict):
    from PIL import Image
    if not osp.isfile(path):
        problems.setdefault('missing', []).append(path)
        return None
    try:
        img = Image.open(path)  # reads the header only
        img.size
        return img
    except Exception as e:
        problems.setdefault('unreadable', []).append(
            f'{path} ({type(e).__name__}: {e})')
        return None


def _labels(img, info: dict) -> np.ndarray:
    """The label map as mmseg's LoadAnnotations gives it (reduce_zero_label
    then label_map)."""
    seg = np.asarray(img).astype(np.int64)
    if info.get('reduce_zero_label'):
        seg = seg.copy()
        seg[seg == 0] = 255
        seg -= 1
        seg[seg == 254] = 255
    label_map = info.get('label_map') or {}
    if label_map:
        out = seg.copy()
        for old, new in label_map.items():
            out[seg == old] = new
        seg = out
    return seg


def check_seg_dataset(dataset, where: str, num_classes: Optional[int] = None,
                      ignore_index: int = 255, max_values: int = 200,
                      progress_every: float = 10.) -> None:
    """All checks of the module docstring on a built mmseg dataset;
    ``max_values`` label maps spread over the split are decoded for the
    value checks (headers of all files are read)."""
    check_reduce_zero_label(dataset, where)
    n = len(dataset)
    problems: dict = {}
    voids: List[str] = []
    sample = set(np.linspace(0, n - 1, min(n, max_values)).astype(int)
                 .tolist()) if n else set()
    checked_values = 0
    start = last = time.time()
    for i in range(n):
        info = dataset.get_data_info(i)
        for key in ('img_path', 'seg_map_path'):
            if info.get(key):
                img = _open(info[key], key, problems)
                if img is None or key == 'img_path':
                    continue
                path = info[key]
                if img.mode not in SINGLE_CHANNEL + SIXTEEN_BIT:
                    problems.setdefault('rgb', []).append(
                        f'{path} (mode {img.mode})')
                    continue
                if img.mode in SIXTEEN_BIT:
                    v = np.asarray(img)
                    problems.setdefault('16bit', []).append(
                        f'{path} (values {int(v.min())}..{int(v.max())})')
                    continue
                if i not in sample:
                    continue
                seg = _labels(img, info)
                checked_values += 1
                valid = seg != ignore_index
                if not valid.any():
                    voids.append(path)
                elif num_classes is not None:
                    bad = valid & ((seg < 0) | (seg >= num_classes))
                    if bad.any():
                        problems.setdefault('range', []).append(
                            f'{path} (values {np.unique(seg[bad])[:8].tolist()}'
                            ')')
        if time.time() - last > progress_every:
            last = time.time()
            print_log(f'{where}: checked {i + 1}/{n} files '
                      f'({last - start:.0f} s)', logger='current')
    _raise(problems, voids, checked_values, where, num_classes, ignore_index)


def _list(paths: list) -> str:
    more = f' and {len(paths) - 5} more' if len(paths) > 5 else ''
    return ', '.join(paths[:5]) + more


def _raise(problems, voids, checked, where, num_classes, ignore) -> None:
    if 'missing' in problems:
        raise DatasetCheckError(
            f'{where}: {len(problems["missing"])} file(s) of the split are '
            f'missing: {_list(problems["missing"])}. Fix: restore them (re-'
            'extract the dataset) or remove their lines from the split list '
            '/ the files from the folders.')
    if 'unreadable' in problems:
        raise DatasetCheckError(
            f'{where}: {len(problems["unreadable"])} file(s) cannot be '
            f'opened as images: {_list(problems["unreadable"])}. They are '
            'corrupt or truncated: re-extract or re-download them, or remove'
            ' them from the split.')
    if 'rgb' in problems:
        raise DatasetCheckError(
            f'{where}: label maps must be single-channel class indices (PNG '
            f'mode L or P), but {len(problems["rgb"])} are colour images: '
            f'{_list(problems["rgb"])}. Fix: convert the colour-coded labels '
            'to class indices (one uint8 value per pixel, e.g. with the '
            'dataset\'s palette) before training.')
    if '16bit' in problems:
        raise DatasetCheckError(
            f'{where}: {len(problems["16bit"])} label map(s) are 16-bit: '
            f'{_list(problems["16bit"])}. mmseg\'s LoadAnnotations reads '
            'labels as uint8, i.e. modulo 256, which would turn these values '
            'into other classes. Fix: save the labels as 8-bit PNGs (values '
            f'0..{(num_classes or 256) - 1}, {ignore} for void).')
    if 'range' in problems:
        raise DatasetCheckError(
            f'{where}: label values outside [0, {num_classes}) that are not '
            f'ignore_index={ignore}: {_list(problems["range"])}. Fix: set '
            'num_classes to the dataset\'s class count, or map these values '
            '(dataset label_map / reduce_zero_label / ignore_index).')
    if checked and len(voids) == checked:
        raise DatasetCheckError(
            f'{where}: every label map checked ({checked}) is entirely void '
            f'(ignore_index={ignore} after the dataset\'s label mapping), e.g. '
            f'{_list(voids)}: training would see no labelled pixel (loss 0, '
            'accuracy 100 %, mIoU nan). Fix: point the dataset at the label '
            'folder (data_prefix.seg_map_path / the split list), or check '
            'reduce_zero_label / label_map / ignore_index.')
