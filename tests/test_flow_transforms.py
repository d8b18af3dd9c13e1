"""Flow pipeline: loading, geometric consistency of the augmentations,
packing and batching."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from winwin_mm.datasets.flow_io import FlowFileError, write_flo5
from winwin_mm.datasets.flow_transforms import (FlowColorJitter,
                                                FlowRandomCrop, FlowRandomFlip,
                                                FlowRandomScale, LoadFlowPair,
                                                PackFlowInputs)
from winwin_mm.models.flow import FlowDataPreprocessor
from winwin_mm.structures import FlowDataSample

H, W = 48, 64


def warp_backward(img2: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample frame 2 at x + flow(x): (H, W, C), (H, W, 2) -> (H, W, C)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    grid = np.stack([(xs + flow[..., 0]) / (w - 1) * 2 - 1,
                     (ys + flow[..., 1]) / (h - 1) * 2 - 1], -1)
    out = F.grid_sample(
        torch.from_numpy(img2).permute(2, 0, 1)[None].float(),
        torch.from_numpy(grid)[None],
        align_corners=True)
    return out[0].permute(1, 2, 0).numpy()


def texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth, asymmetric RGB pattern, 0-255."""
    return 127.5 + 120 * np.stack([
        np.sin(x / 5 + y / 9),
        np.cos(x / 7 - y / 4),
        np.sin(x / 11) * np.cos(y / 6 + 1)
    ], -1)


def synthetic_pair() -> dict:
    """Frame 2 = texture; frame 1(x) = frame 2(x + flow(x)) exactly."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    flow = np.stack([2 + 0.05 * ys, -1.5 + 0.03 * xs], -1)
    img1 = texture(xs + flow[..., 0], ys + flow[..., 1])
    img2 = texture(xs, ys)
    return dict(
        img1=img1.astype(np.float32),
        img2=img2.astype(np.float32),
        gt_flow_fw=flow.astype(np.float32),
        gt_valid_fw=np.ones((H, W), np.float32),
        img_shape=(H, W),
        sparse=False)


def photometric_error(results: dict) -> float:
    warped = warp_backward(results['img2'], results['gt_flow_fw'])
    inner = (slice(4, -4), slice(4, -4))  # away from out-of-frame targets
    return float(np.abs(warped - results['img1'])[inner].mean())


@pytest.mark.parametrize('direction', ['horizontal', 'vertical'])
def test_flip_keeps_flow_consistent_with_frames(direction):
    results = synthetic_pair()
    assert photometric_error(results) < 1.0
    FlowRandomFlip(prob=1.0, direction=direction)(results)
    assert results['flip'] and results['flip_direction'] == direction
    assert photometric_error(results) < 1.0
    # Without the sign change the frames no longer agree.
    component = 0 if direction == 'horizontal' else 1
    results['gt_flow_fw'][..., component] *= -1
    assert photometric_error(results) > 10.0


def test_flip_both_directions_is_diagonal():
    results = synthetic_pair()
    FlowRandomFlip(prob=(1., 1.))(results)
    assert results['flip_direction'] == 'diagonal'
    assert photometric_error(results) < 1.0


def test_dense_scale_multiplies_flow_and_updates_shape():
    np.random.seed(0)
    results = synthetic_pair()
    scale = FlowRandomScale(
        log2_scale_range=(0.3, 0.3), prob=1., stretch_prob=1., max_stretch=0.2)
    scale(results)
    oh, ow = results['img1'].shape[:2]
    assert results['img_shape'] == (oh, ow) != (H, W)
    fx, fy = results['scale_factor']
    assert (fx, fy) == (ow / W, oh / H) and fx != fy
    # flow is affine in (x, y): resizing keeps it affine, scaled per axis.
    assert photometric_error(results) < 1.5
    assert results['gt_flow_fw'][..., 0].mean() == pytest.approx(
        fx * (2 + 0.05 * (H - 1) / 2), rel=1e-3)


def test_sparse_scale_scatters_valid_points():
    flow = np.zeros((H, W, 2), np.float32)
    valid = np.zeros((H, W), np.float32)
    points = [(3, 5, 1.5, -2.), (20, 40, -7., 0.25), (47, 63, 4., 4.)]
    for y, x, u, v in points:
        flow[y, x], valid[y, x] = (u, v), 1
    results = dict(
        img1=np.zeros((H, W, 3), np.uint8),
        img2=np.zeros((H, W, 3), np.uint8),
        gt_flow_fw=flow,
        gt_valid_fw=valid,
        sparse=True)
    FlowRandomScale(log2_scale_range=(1, 1), prob=1., stretch_prob=0.)(results)
    assert results['img_shape'] == (2 * H, 2 * W)
    out_flow, out_valid = results['gt_flow_fw'], results['gt_valid_fw']
    assert out_valid.sum() == len(points)  # no interpolated samples
    assert (out_flow[out_valid == 0] == 0).all()
    for y, x, u, v in points:
        # the centre of pixel x maps to 2x + 0.5: a tie, rounded to even 2x
        assert out_valid[2 * y, 2 * x] == 1
        np.testing.assert_allclose(out_flow[2 * y, 2 * x], [2 * u, 2 * v])


def test_scale_respects_crop_size_then_crop():
    np.random.seed(1)
    results = synthetic_pair()
    FlowRandomScale(
        log2_scale_range=(-1, -1), prob=1., crop_size=(40, 60))(
            results)
    assert results['img_shape'][0] >= 48 and results['img_shape'][1] >= 68
    flow_before = results['gt_flow_fw'].copy()
    FlowRandomCrop(crop_size=(40, 60))(results)
    y0, x0, y1, x1 = results['crop_bbox']
    assert results['img_shape'] == (40, 60) == results['img1'].shape[:2]
    np.testing.assert_array_equal(results['gt_flow_fw'], flow_before[y0:y1,
                                                                     x0:x1])
    assert results['gt_valid_fw'].shape == (40, 60)


def test_color_jitter_symmetric_and_asymmetric():
    np.random.seed(2)
    img = (texture(*np.mgrid[0:H, 0:W][::-1].astype(float))).astype(np.uint8)
    same = FlowColorJitter(asymmetric_prob=0.)(dict(img1=img, img2=img))
    assert same['img1'].dtype == np.uint8 and same['img1'].shape == img.shape
    np.testing.assert_array_equal(same['img1'], same['img2'])
    assert not np.array_equal(same['img1'], img)
    apart = FlowColorJitter(asymmetric_prob=1.)(dict(img1=img, img2=img))
    assert not np.array_equal(apart['img1'], apart['img2'])


def packed_sample(h=H, w=W, seed=0):
    rng = np.random.RandomState(seed)
    results = dict(
        img1=rng.randint(0, 256, (h, w, 3), np.uint8),
        img2=rng.randint(0, 256, (h, w, 3), np.uint8),
        gt_flow_fw=rng.randn(h, w, 2).astype(np.float32),
        gt_valid_fw=np.ones((h, w), np.float32),
        img_shape=(h, w),
        ori_shape=(h, w),
        img1_path='a.png',
        window_boxes=np.array([[0, 0, 2, 2]]))
    return results, PackFlowInputs()(dict(results))


def test_pack_shapes_and_metainfo():
    results, packed = packed_sample()
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (6, H, W) and inputs.dtype == torch.uint8
    np.testing.assert_array_equal(inputs[:3].permute(1, 2, 0).numpy(),
                                  results['img1'])
    np.testing.assert_array_equal(inputs[3:].permute(1, 2, 0).numpy(),
                                  results['img2'])
    assert isinstance(sample, FlowDataSample)
    assert sample.gt_flow_fw.data.shape == (2, H, W)
    assert sample.gt_valid_fw.data.shape == (1, H, W)
    np.testing.assert_array_equal(sample.gt_flow_fw.data[0].numpy(),
                                  results['gt_flow_fw'][..., 0])
    assert sample.img_shape == (H, W) and sample.img1_path == 'a.png'
    assert sample.window_boxes.tolist() == [[0, 0, 2, 2]]
    assert 'flip' not in sample.metainfo_keys()


def test_data_preprocessor_normalises_and_pads():
    _, a = packed_sample(48, 64, seed=0)
    _, b = packed_sample(40, 70, seed=1)
    pre = FlowDataPreprocessor(
        mean=(100., 110., 120.), std=(2., 4., 5.), size_divisor=16)
    out = pre(
        dict(
            inputs=[a['inputs'], b['inputs']],
            data_samples=[a['data_samples'], b['data_samples']]),
        training=True)
    x = out['inputs']
    assert x.shape == (2, 6, 48, 80) and x.dtype == torch.float32
    expected = (a['inputs'][4].float() - 110.) / 4.  # frame 2, green
    torch.testing.assert_close(x[0, 4, :48, :64], expected)
    assert (x[1, :, 40:] == 0).all() and (x[1, :, :, 70:] == 0).all()
    sample = out['data_samples'][1]
    assert sample.pad_shape == (48, 80)
    assert sample.gt_flow_fw.data.shape == (2, 48, 80)
    assert (sample.gt_valid_fw.data[:, 40:] == 0).all()
    assert (sample.gt_valid_fw.data[:, :40, :70] == 1).all()
    # At test time the ground truth keeps its size (the metric crops).
    _, c = packed_sample(40, 70, seed=2)
    out = pre(dict(inputs=[c['inputs']], data_samples=[c['data_samples']]))
    assert out['inputs'].shape == (1, 6, 48, 80)
    assert out['data_samples'][0].pad_shape == (48, 80)
    assert out['data_samples'][0].gt_flow_fw.data.shape == (2, 40, 70)


def write_pair(tmp_path, size=(6, 8), gt_scale=1):
    h, w = size
    img = np.random.RandomState(0).randint(0, 256, (h, w), np.uint8)
    cv2.imwrite(str(tmp_path / 'f1.png'), img)  # grey frames
    cv2.imwrite(str(tmp_path / 'f2.png'), img)
    flow = np.random.RandomState(1).randn(h * gt_scale, w * gt_scale,
                                          2).astype(np.float32)
    flow[0, 1] = np.nan
    write_flo5(tmp_path / 'f1.flo5', flow)
    return dict(
        img1_path=str(tmp_path / 'f1.png'),
        img2_path=str(tmp_path / 'f2.png'),
        flow_fw_path=str(tmp_path / 'f1.flo5')), flow


def test_load_pair_grey_frames_and_invalid_gt(tmp_path):
    info, flow = write_pair(tmp_path)
    results = LoadFlowPair()(info)
    assert results['img1'].shape == (6, 8, 3) and results['sparse'] is False
    assert results['img_shape'] == results['ori_shape'] == (6, 8)
    assert results['gt_valid_fw'].dtype == np.float32
    assert results['gt_valid_fw'][0, 1] == 0 and results['gt_flow_fw'][
        0, 1].tolist() == [0, 0]
    np.testing.assert_array_equal(results['gt_flow_fw'][1:], flow[1:])


def test_load_pair_high_resolution_gt(tmp_path):
    info, flow = write_pair(tmp_path, gt_scale=2)
    sub = LoadFlowPair()(dict(info))
    assert sub['gt_flow_fw'].shape == (6, 8, 2)
    np.testing.assert_array_equal(sub['gt_flow_fw'][2:], flow[::2, ::2][2:])
    keep = LoadFlowPair(highres_gt='keep')(dict(info))
    assert keep['gt_flow_fw'].shape == (12, 16, 2)
    assert keep['img_shape'] == (6, 8)
    with pytest.raises(ValueError, match='not at the image resolution'):
        FlowRandomCrop((4, 4))(keep)


def test_load_pair_errors_name_the_file(tmp_path):
    info, _ = write_pair(tmp_path)
    (tmp_path / 'f2.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(FlowFileError, match='f2.png: cannot be decoded'):
        LoadFlowPair()(dict(info))
    info, _ = write_pair(tmp_path, size=(5, 8))  # frames 5x8, GT 5x8
    write_flo5(tmp_path / 'f1.flo5', np.zeros((6, 8, 2), np.float32))
    with pytest.raises(FlowFileError, match='f1.flo5: ground truth is 6x8'):
        LoadFlowPair()(dict(info))
