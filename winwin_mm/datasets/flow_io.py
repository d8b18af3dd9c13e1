"""Readers and writers for optical-flow files and the frames that go with them.

Every reader returns arrays in image layout, rows first: a flow field is an
``(H, W, 2)`` float32 array holding ``(u, v)`` = (displacement along x, to the
right; displacement along y, downwards), in pixels of the image it belongs to.

Formats (written from their specifications, not from another project's code):

* ``.flo`` (Middlebury / Sintel / FlyingChairs): the 4 bytes ``PIEH`` (the
  float 202021.25 in little endian), int32 width, int32 height, then
  ``H * W * 2`` little-endian float32 values, ``u`` and ``v`` interleaved,
  row by row. Values with magnitude above 1e9 mean "unknown"; they are read as
  NaN here and NaN is written back as 1e10.
* ``.pfm`` (FlyingThings3D): a text header ``PF`` (3 channels) or ``Pf``
  (1 channel), ``width height``, and a scale whose sign gives the byte order
  (negative: little endian), each followed by one whitespace character; then
  float32 rows stored **bottom row first**.
* KITTI ``.png``: 16-bit 3-channel PNG, ``u = (R - 2**15) / 64``,
  ``v = (G - 2**15) / 64``, ``valid = B > 0``. OpenCV decodes it as BGR.
* ``.flo5`` (Spring): an HDF5 file with a dataset ``flow`` of shape
  ``(H, W, 2)``; NaN marks pixels without ground truth.

Malformed files raise :class:`FlowFileError` (a ``ValueError``) whose message
starts with the file path and names the problem, e.g.
``"/x/a.flo: truncated, expected 20012 bytes, got 812"``.
"""
import os
import os.path as osp
import re
from typing import Optional, Tuple, Union

import cv2
import h5py
import numpy as np

PathLike = Union[str, os.PathLike]

FLO_MAGIC = b'PIEH'
FLO_UNKNOWN_THRESHOLD = 1e9
FLO_UNKNOWN_VALUE = 1e10
KITTI_FLOW_OFFSET = 2.0**15
KITTI_FLOW_SCALE = 64.0
FLO5_KEY = 'flow'
_MAX_SIDE = 1 << 16  # a sanity bound on header sizes (Spring GT is 3840 wide)

__all__ = [
    'FlowFileError', 'read_flo', 'write_flo', 'read_pfm', 'write_pfm',
    'read_kitti_flow', 'write_kitti_flow', 'read_flo5', 'write_flo5',
    'read_flow', 'read_image'
]


class FlowFileError(ValueError):
    """A flow or image file is corrupt, truncated or not of the expected
    format. The message starts with the file path."""

    def __init__(self, path: PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')


def _read_bytes(path: PathLike) -> bytes:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{os.fspath(path)}: no such file')
    with open(path, 'rb') as f:
        return f.read()


def _check_size(path: PathLike, got: int, expected: int) -> None:
    if got < expected:
        raise FlowFileError(
            path, f'truncated, expected {expected} bytes, got {got}')
    if got > expected:
        raise FlowFileError(path,
                            f'too long, expected {expected} bytes, got {got}')


def _check_flow_array(flow: np.ndarray) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f'flow must have shape (H, W, 2), got {flow.shape}')
    return flow


# ---------------------------------------------------------------- .flo
def read_flo(path: PathLike) -> np.ndarray:
    """Read a Middlebury ``.flo`` file.

    Returns:
        np.ndarray: ``(H, W, 2)`` float32 ``(u, v)``; "unknown" values
        (magnitude > 1e9) are NaN.
    """
    buf = _read_bytes(path)
    if len(buf) < 12:
        raise FlowFileError(
            path, f'truncated, expected at least 12 header bytes, '
            f'got {len(buf)}')
    if buf[:4] != FLO_MAGIC:
        raise FlowFileError(
            path, f'wrong magic {buf[:4]!r}, expected {FLO_MAGIC!r} '
            '(not a .flo file)')
    width, height = (int(x) for x in np.frombuffer(buf, '<i4', 2, 4))
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
        raise FlowFileError(path, f'implausible size {width}x{height}')
    _check_size(path, len(buf), 12 + width * height * 8)
    flow = np.frombuffer(buf, '<f4', width * height * 2, 12)
    flow = flow.reshape(height, width, 2).astype(np.float32)
    flow[np.abs(flow) > FLO_UNKNOWN_THRESHOLD] = np.nan
    return flow


def write_flo(path: PathLike, flow: np.ndarray) -> None:
    """Write an ``(H, W, 2)`` flow to a ``.flo`` file (NaN -> 1e10)."""
    flow = _check_flow_array(flow).astype('<f4')
    flow = np.where(np.isfinite(flow), flow, np.float32(FLO_UNKNOWN_VALUE))
    height, width = flow.shape[:2]
    with open(path, 'wb') as f:
        f.write(FLO_MAGIC)
        f.write(np.array([width, height], '<i4').tobytes())
        f.write(np.ascontiguousarray(flow, '<f4').tobytes())


# ---------------------------------------------------------------- .pfm
_PFM_TOKEN = re.compile(rb'\S+')


def _parse_pfm_header(path: PathLike,
                      buf: bytes) -> Tuple[int, int, int, str, int]:
    """Return ``(channels, width, height, byte order, data offset)``."""
    tokens, pos = [], 0
    for _ in range(4):  # magic, width, height, scale
        match = _PFM_TOKEN.search(buf, pos, min(len(buf), pos + 64))
        if match is None:
            raise FlowFileError(path, 'truncated or malformed PFM header')
        tokens.append(match.group())
        pos = match.end() + 1  # exactly one whitespace byte follows
    magic, width, height, scale = tokens
    if magic not in (b'PF', b'Pf'):
        raise FlowFileError(
            path, f'wrong magic {magic[:8]!r}, expected b"PF" or b"Pf" '
            '(not a PFM file)')
    try:
        width, height, scale = int(width), int(height), float(scale)
    except ValueError:
        raise FlowFileError(path, 'malformed PFM header') from None
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE) or scale == 0:
        raise FlowFileError(
            path, f'implausible PFM header {width}x{height}, scale {scale}')
    channels = 3 if magic == b'PF' else 1
    return channels, width, height, '<' if scale < 0 else '>', pos


def read_pfm(path: PathLike) -> np.ndarray:
    """Read a PFM file (colour ``PF`` or grey ``Pf``, either byte order).

    Returns:
        np.ndarray: float32, ``(H, W, 3)`` for ``PF`` and ``(H, W)`` for
        ``Pf``, top row first (the file stores the bottom row first).
    """
    buf = _read_bytes(path)
    channels, width, height, order, offset = _parse_pfm_header(path, buf)
    count = width * height * channels
    _check_size(path, len(buf), offset + 4 * count)
    data = np.frombuffer(buf, order + 'f4', count, offset)
    shape = (height, width, channels) if channels == 3 else (height, width)
    return np.flipud(data.reshape(shape)).astype(np.float32)


def write_pfm(path: PathLike, array: np.ndarray) -> None:
    """Write an ``(H, W)`` or ``(H, W, 3)`` array as little-endian PFM."""
    array = np.asarray(array, np.float32)
    if array.ndim == 3 and array.shape[2] == 3:
        magic = b'PF'
    elif array.ndim == 2:
        magic = b'Pf'
    else:
        raise ValueError(f'PFM holds (H, W) or (H, W, 3), got {array.shape}')
    height, width = array.shape[:2]
    with open(path, 'wb') as f:
        f.write(magic + b'\n' + f'{width} {height}\n-1\n'.encode())
        f.write(np.ascontiguousarray(np.flipud(array), '<f4').tobytes())


# ---------------------------------------------------------- KITTI .png
def read_kitti_flow(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """Read a KITTI 16-bit flow PNG.

    Returns:
        tuple: ``flow`` ``(H, W, 2)`` float32 and ``valid`` ``(H, W)`` bool.
        The flow of invalid pixels is whatever the file holds (usually
        -512); :func:`read_flow` sets it to 0.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{os.fspath(path)}: no such file')
    png = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if png is None:
        raise FlowFileError(
            path, 'cannot be decoded as an image '
            '(corrupt or truncated PNG?)')
    if png.dtype != np.uint16 or png.ndim != 3 or png.shape[2] != 3:
        raise FlowFileError(
            path, 'not a KITTI flow PNG: expected 16-bit 3 channels, got '
            f'{png.dtype} with shape {png.shape}')
    # OpenCV gives B, G, R = valid, v, u.
    flow = (png[..., 2:0:-1].astype(np.float32) -
            KITTI_FLOW_OFFSET) / KITTI_FLOW_SCALE
    return flow, png[..., 0] > 0


def write_kitti_flow(path: PathLike,
                     flow: np.ndarray,
                     valid: Optional[np.ndarray] = None) -> None:
    """Write a KITTI 16-bit flow PNG.

    Args:
        flow: ``(H, W, 2)`` flow; representable range is about +-512 px.
        valid: ``(H, W)`` mask; defaults to the pixels whose flow is finite.
    """
    flow = _check_flow_array(flow).astype(np.float64)
    finite = np.isfinite(flow).all(axis=2)
    valid = finite if valid is None else (np.asarray(valid, bool) & finite)
    uv = np.nan_to_num(flow) * KITTI_FLOW_SCALE + KITTI_FLOW_OFFSET
    uv = np.clip(np.rint(uv), 0, 2**16 - 1).astype(np.uint16)
    bgr = np.dstack([valid.astype(np.uint16), uv[..., 1], uv[..., 0]])
    if not cv2.imwrite(os.fspath(path), bgr):
        raise OSError(f'{os.fspath(path)}: could not write the PNG')


# ---------------------------------------------------------------- .flo5
def read_flo5(path: PathLike) -> np.ndarray:
    """Read a Spring ``.flo5`` file (HDF5, dataset ``flow``).

    Returns:
        np.ndarray: ``(H, W, 2)`` float32; NaN where there is no ground truth.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{os.fspath(path)}: no such file')
    try:
        with h5py.File(path, 'r') as f:
            if FLO5_KEY not in f:
                raise FlowFileError(
                    path, f'no {FLO5_KEY!r} dataset in the HDF5 file '
                    f'(keys: {sorted(f.keys())})')
            flow = f[FLO5_KEY][()]
    except OSError as e:  # h5py reports corrupt/truncated files as OSError
        raise FlowFileError(path, f'not a readable HDF5 file ({e})') from e
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise FlowFileError(
            path, f'flow dataset has shape {flow.shape}, expected (H, W, 2)')
    return flow.astype(np.float32)


def write_flo5(path: PathLike, flow: np.ndarray) -> None:
    """Write an ``(H, W, 2)`` flow (NaN = invalid) to a Spring ``.flo5``."""
    flow = _check_flow_array(flow).astype(np.float32)
    with h5py.File(path, 'w') as f:
        f.create_dataset(
            FLO5_KEY, data=flow, compression='gzip', compression_opts=5)


# ---------------------------------------------------------------- generic
def read_flow(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """Read any supported flow file, chosen by suffix.

    ``.flo``, ``.pfm`` (first two channels of a ``PF`` file), ``.png``
    (KITTI), ``.flo5`` (Spring) and ``.npy`` (an ``(H, W, 2)`` array).

    Returns:
        tuple: ``flow`` ``(H, W, 2)`` float32 and ``valid`` ``(H, W)`` bool.
        A pixel is invalid when the format says so or when either component
        is not finite; the flow of invalid pixels is set to 0.
    """
    suffix = osp.splitext(os.fspath(path))[1].lower()
    valid = None
    if suffix == '.flo':
        flow = read_flo(path)
    elif suffix == '.pfm':
        data = read_pfm(path)
        if data.ndim != 3:
            raise FlowFileError(path, 'a flow PFM must have 3 channels (PF)')
        flow = data[..., :2]
    elif suffix == '.png':
        flow, valid = read_kitti_flow(path)
    elif suffix == '.flo5':
        flow = read_flo5(path)
    elif suffix == '.npy':
        flow = _check_flow_array(np.load(path)).astype(np.float32)
    else:
        raise ValueError(f'{os.fspath(path)}: unknown flow file suffix '
                         f'{suffix!r} (expected .flo, .pfm, .png, .flo5 or '
                         '.npy)')
    finite = np.isfinite(flow).all(axis=2)
    valid = finite if valid is None else (valid & finite)
    flow = np.ascontiguousarray(flow, np.float32)
    flow[~valid] = 0
    return flow, valid


def gt_scale_factor(gt_hw: Tuple[int, ...],
                    img_hw: Tuple[int, ...]) -> Optional[int]:
    """``k`` when the ground truth is ``k`` times the frame size along both
    axes (1: the same size; Spring: 2), None when it is neither.

    Ground truth at ``k`` times the resolution keeps its vectors in frame
    pixels (Spring); ``gt[::k, ::k]`` is the frame-resolution ground truth
    the Spring devkit uses.
    """
    (gh, gw), (h, w) = tuple(gt_hw[:2]), tuple(img_hw[:2])
    k = gh // h if h else 0
    return k if k >= 1 and (gh, gw) == (k * h, k * w) else None


def read_image(path: PathLike) -> np.ndarray:
    """Read a frame as RGB uint8 ``(H, W, 3)``.

    Grey images are replicated to 3 channels, an alpha channel is dropped
    and 16-bit images are reduced to 8 bits (OpenCV's ``IMREAD_COLOR``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{os.fspath(path)}: no such file')
    bgr = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FlowFileError(
            path, 'cannot be decoded as an image '
            '(corrupt, truncated or unsupported format)')
    return np.ascontiguousarray(bgr[..., ::-1])
