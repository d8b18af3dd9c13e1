"""Flow file readers, checked against decodings written here from the format
specifications (struct / zlib), never against the readers themselves."""
import os
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from winwin_mm.datasets.flow_io import (FlowFileError, read_flo, read_flo5,
                                        read_flow, read_image, read_kitti_flow,
                                        read_pfm, write_flo, write_flo5,
                                        write_kitti_flow)

DATA = Path(
    os.environ.get(
        'WINWIN_DATA',
        Path(__file__).resolve().parents[1].parent / 'shared' /
        'data')) / 'flow'
needs_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f'shared flow data not found at {DATA} (set WINWIN_DATA)')


# ------------------------------------------------ independent decoders
def decode_flo(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    tag, width, height = struct.unpack('<fii', raw[:12])
    assert tag == 202021.25
    values = struct.unpack(f'<{width * height * 2}f', raw[12:])
    return np.array(values, np.float32).reshape(height, width, 2)


def decode_pfm_grey(path: Path) -> np.ndarray:
    magic, dims, scale, data = path.read_bytes().split(b'\n', 3)
    assert magic == b'Pf'
    width, height = map(int, dims.split())
    dtype = '<f4' if float(scale) < 0 else '>f4'
    return np.frombuffer(data, dtype).reshape(height, width)[::-1]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def decode_png_rgb16(path: Path) -> np.ndarray:
    """Minimal decoder of a non-interlaced 16-bit RGB PNG -> (H, W, 3)."""
    raw = path.read_bytes()
    assert raw[:8] == b'\x89PNG\r\n\x1a\n'
    pos, idat = 8, b''
    while pos < len(raw):
        length, kind = struct.unpack('>I4s', raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            width, height, depth, colour, _, _, lace = struct.unpack(
                '>IIBBBBB', body)
            assert (depth, colour, lace) == (16, 2, 0)
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    data = np.frombuffer(zlib.decompress(idat), np.uint8)
    bpp, stride = 6, width * 6
    rows = data.reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: running sum per byte lane, modulo 256
            cur = (
                np.cumsum(line.reshape(width, bpp).astype(np.int64), axis=0) %
                256).astype(np.uint8).ravel()
        elif kind == 2:
            cur = line + prev  # uint8 wraps modulo 256
        else:  # Average or Paeth: sequential
            cur, prev_l = bytearray(line.tobytes()), prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                c = prev_l[i - bpp] if i >= bpp else 0
                pred = (a + prev_l[i]) // 2 if kind == 3 else _paeth(
                    a, prev_l[i], c)
                cur[i] = (cur[i] + pred) % 256
            cur = np.frombuffer(bytes(cur), np.uint8)
        out[y] = prev = cur
    return out.view('>u2').reshape(height, width, 3).astype(np.int64)


# ------------------------------------------------------------- .flo
@needs_data
@pytest.mark.parametrize('name', [
    'sintel_pair/frame_0001.flo', 'format_fixtures/00001_flow.flo',
    'flyingchairs/0000000-gt.flo'
])
def test_read_flo_matches_spec(name):
    flow = read_flo(DATA / name)
    expected = decode_flo(DATA / name)
    assert flow.dtype == np.float32 and flow.shape == expected.shape
    np.testing.assert_array_equal(flow, expected)


def test_flo_round_trip_unknown_values(tmp_path):
    flow = np.random.RandomState(0).randn(5, 7, 2).astype(np.float32)
    flow[1, 2, 0] = np.nan
    write_flo(tmp_path / 'a.flo', flow)
    assert (tmp_path / 'a.flo').stat().st_size == 12 + 5 * 7 * 8
    # Middlebury stores unknown as 1e10; it reads back as NaN / invalid.
    assert decode_flo(tmp_path / 'a.flo')[1, 2, 0] == np.float32(1e10)
    np.testing.assert_array_equal(read_flo(tmp_path / 'a.flo'), flow)
    flow_, valid = read_flow(tmp_path / 'a.flo')
    assert not valid[1, 2] and valid.sum() == 34 and flow_[1, 2, 0] == 0


# ------------------------------------------------------------- .pfm
@needs_data
def test_read_pfm_fixture_matches_spec():
    path = DATA / 'format_fixtures/0000000-occ_weights_01.pfm'
    pfm = read_pfm(path)
    assert pfm.shape == (50, 50) and pfm.dtype == np.float32
    np.testing.assert_array_equal(pfm, decode_pfm_grey(path))


@pytest.mark.parametrize('order,scale', [('>', b'1.0'), ('<', b'-1.0')])
def test_read_pfm_colour_row_order_and_endianness(tmp_path, order, scale):
    image = np.arange(3 * 4 * 3, dtype=np.float32).reshape(3, 4, 3) / 7
    body = b''.join(
        struct.pack(f'{order}f', image[y, x, c]) for y in (2, 1, 0)
        for x in range(4) for c in range(3))  # bottom row first
    path = tmp_path / 'c.pfm'
    path.write_bytes(b'PF\n4 3\n' + scale + b'\n' + body)
    np.testing.assert_array_equal(read_pfm(path), image)
    flow, valid = read_flow(path)  # flow = first two channels
    np.testing.assert_array_equal(flow, image[..., :2])
    assert valid.all()


# ------------------------------------------------------- KITTI .png
@needs_data
@pytest.mark.parametrize('name', ['000045_10.png', '000157_10.png'])
def test_read_kitti_flow_matches_spec(name):
    path = DATA / 'kitti2012' / 'flow_noc' / name
    flow, valid = read_kitti_flow(path)
    rgb = decode_png_rgb16(path)
    np.testing.assert_array_equal(flow[..., 0], (rgb[..., 0] - 2**15) / 64)
    np.testing.assert_array_equal(flow[..., 1], (rgb[..., 1] - 2**15) / 64)
    np.testing.assert_array_equal(valid, rgb[..., 2] > 0)
    assert 0.05 < valid.mean() < 0.9  # sparse, non-empty
    flow_, valid_ = read_flow(path)
    np.testing.assert_array_equal(valid_, valid)
    assert (flow_[~valid] == 0).all()
    np.testing.assert_array_equal(flow_[valid], flow[valid])


def test_kitti_round_trip_channel_order(tmp_path):
    flow = np.zeros((4, 6, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.5, -2.25  # u, v
    valid = np.ones((4, 6), bool)
    valid[0, 0] = False
    write_kitti_flow(tmp_path / 'k.png', flow, valid)
    rgb = decode_png_rgb16(tmp_path / 'k.png')
    assert rgb[1, 1].tolist() == [2**15 + 96, 2**15 - 144, 1]
    assert rgb[0, 0, 2] == 0
    flow_, valid_ = read_kitti_flow(tmp_path / 'k.png')
    np.testing.assert_array_equal(flow_[valid], flow[valid])
    np.testing.assert_array_equal(valid_, valid)


# ------------------------------------------------------------ .flo5
def test_flo5_round_trip_with_nans(tmp_path):
    flow = np.random.RandomState(1).randn(6, 8, 2).astype(np.float32)
    flow[2, 3] = np.nan
    flow[4, 5, 1] = np.nan
    path = tmp_path / 'flow_FW_left_0001.flo5'
    write_flo5(path, flow)
    with h5py.File(path, 'r') as f:  # the Spring layout, read directly
        np.testing.assert_array_equal(f['flow'][()], flow)
    np.testing.assert_array_equal(read_flo5(path), flow)
    flow_, valid = read_flow(path)
    assert valid.sum() == 46 and not valid[2, 3] and not valid[4, 5]
    assert (flow_[~valid] == 0).all()
    np.testing.assert_array_equal(flow_[valid], flow[valid])


def test_flo5_without_flow_key(tmp_path):
    path = tmp_path / 'x.flo5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('disparity', data=np.zeros((2, 2)))
    with pytest.raises(FlowFileError, match="x.flo5: no 'flow' dataset"):
        read_flo5(path)


# -------------------------------------------------- corrupt files
def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_truncated_flo_names_file_and_sizes(tmp_path):
    good = np.zeros((50, 50, 2), np.float32)
    write_flo(tmp_path / 'good.flo', good)
    raw = (tmp_path / 'good.flo').read_bytes()
    path = _write(tmp_path / 'cut.flo', raw[:812])
    with pytest.raises(ValueError) as err:
        read_flo(path)
    assert str(err.value) == (f'{path}: truncated, expected 20012 bytes, '
                              'got 812')
    with pytest.raises(ValueError, match='cut.flo: truncated'):
        read_flow(path)


def test_bad_magic_and_short_header(tmp_path):
    path = _write(tmp_path / 'bad.flo', b'XXXX' + bytes(20))
    with pytest.raises(FlowFileError, match=r'bad.flo: wrong magic'):
        read_flo(path)
    path = _write(tmp_path / 'short.flo', b'PIE')
    with pytest.raises(FlowFileError, match=r'short.flo: truncated'):
        read_flo(path)


def test_truncated_pfm(tmp_path):
    path = _write(tmp_path / 'cut.pfm', b'Pf\n4 3\n-1\n' + bytes(20))
    with pytest.raises(
            FlowFileError,
            match=r'cut.pfm: truncated, expected 58 bytes, got 30'):
        read_pfm(path)
    path = _write(tmp_path / 'no.pfm', b'P6\n4 3\n255\n' + bytes(36))
    with pytest.raises(FlowFileError, match=r'no.pfm: wrong magic'):
        read_pfm(path)


@needs_data
def test_corrupt_png_and_hdf5_name_the_file(tmp_path):
    raw = (DATA / 'kitti2012/flow_noc/000045_10.png').read_bytes()
    path = _write(tmp_path / 'cut.png', raw[:2000])
    with pytest.raises(FlowFileError, match='cut.png: cannot be decoded'):
        read_kitti_flow(path)
    with pytest.raises(FlowFileError, match='cut.png: cannot be decoded'):
        read_image(path)
    path = _write(tmp_path / 'junk.flo5', b'not an hdf5 file' * 10)
    with pytest.raises(FlowFileError, match='junk.flo5: not a readable'):
        read_flo5(path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.flo'):
        read_flow(tmp_path / 'nope.flo')
    with pytest.raises(ValueError, match=r"unknown flow file suffix '.txt'"):
        read_flow(tmp_path / 'a.txt')


@needs_data
def test_read_image_grey_is_replicated_to_rgb():
    grey = read_image(DATA / 'kitti2012/image_0/000045_10.png')
    assert grey.shape == (376, 1241, 3) and grey.dtype == np.uint8
    assert (grey[..., 0] == grey[..., 2]).all()
    rgb = read_image(DATA / 'sintel_pair/frame_0001.png')
    assert rgb.shape == (436, 1024, 3)
