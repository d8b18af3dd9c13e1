"""FlowMetric against hand-computed values."""
import math

import pytest
import torch
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.structures import PixelData

from winwin_mm.evaluation import FlowMetric
from winwin_mm.structures import FlowDataSample

NAN = float('nan')


def make_sample(pred, gt, valid=None) -> dict:
    """A data sample, as the evaluator hands it over (``to_dict``)."""
    sample = FlowDataSample()
    sample.pred_flow_fw = PixelData(data=torch.tensor(pred).permute(2, 0, 1))
    sample.gt_flow_fw = PixelData(data=torch.tensor(gt).permute(2, 0, 1))
    if valid is not None:
        sample.gt_valid_fw = PixelData(data=torch.tensor(valid)[None])
    return sample.to_dict()


# Image A, 2 x 3 pixels, (u, v) per pixel.
#   (0,0) exact                       e = 0
#   (0,1) gt (3, 4), pred 0           e = 5    > 1, > 3, not > 5, Fl (5 > .25)
#   (0,2) gt (100, 0), pred (104, 0)  e = 4    > 1, > 3, not Fl (4 <= 5)
#   (1,0) gt (1, 0), pred (1, 1.5)    e = 1.5  > 1
#   (1,1) masked out by gt_valid_fw
#   (1,2) NaN ground truth
IMAGE_A = make_sample(
    pred=[[[0., 0.], [0., 0.], [104., 0.]], [[1., 1.5], [50., 50.], [9., 9.]]],
    gt=[[[0., 0.], [3., 4.], [100., 0.]], [[1., 0.], [0., 0.], [NAN, 0.]]],
    valid=[[1., 1., 1.], [1., 0., 1.]])
# Image B: one valid pixel, e = 10 (gt 0, pred (6, 8)); the prediction has
# one padded row and column, cropped away by the metric.
IMAGE_B = make_sample(
    pred=[[[6., 8.], [99., 99.]], [[99., 99.], [99., 99.]]], gt=[[[0., 0.]]])


def evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def test_single_image_values():
    result = evaluate(FlowMetric(), [IMAGE_A])
    assert result == pytest.approx({
        'EPE': 10.5 / 4,
        '1px_outliers': 75.,
        '3px_outliers': 50.,
        '5px_outliers': 0.,
        'Fl': 25.
    })


def test_dataset_figures_are_pixel_weighted():
    result = evaluate(FlowMetric(), [IMAGE_A, IMAGE_B])
    # 5 valid pixels in all; a per-image mean would give EPE 6.3125.
    assert result == pytest.approx({
        'EPE': 20.5 / 5,
        '1px_outliers': 80.,
        '3px_outliers': 60.,
        '5px_outliers': 20.,
        'Fl': 40.
    })


def test_prefix_and_registry():
    metric = MMENGINE_METRICS.build(
        dict(type='winwin_mm.FlowMetric', prefix='sintel'))
    assert set(evaluate(metric, [IMAGE_B])) == {
        'sintel/EPE', 'sintel/1px_outliers', 'sintel/3px_outliers',
        'sintel/5px_outliers', 'sintel/Fl'
    }


# Spring: prediction 1 x 3, ground truth 2 x 6; pixel (0, j) is compared with
# the 2 x 2 block gt[0:2, 2j:2j+2] and keeps the smallest error.
#   j=0: gt (0,0) (2,0) / (0,2) (10,0), pred (1.2, 0): errors 1.2, .8, 2.33,
#        8.8 -> e = 0.8
#   j=1: gt (0,0) (0,0) / (0,0) (100,0), pred (4, 0): e = 4 (> 1, > 3) but
#        not Fl: 4 <= 5 % of the LARGEST magnitude (100)
#   j=2: gt all (0,0), pred (0, 3.5): e = 3.5, Fl
SPRING_A = make_sample(
    pred=[[[1.2, 0.], [4., 0.], [0., 3.5]]],
    gt=[[[0., 0.], [2., 0.], [0., 0.], [0., 0.], [0., 0.], [0., 0.]],
        [[0., 2.], [10., 0.], [0., 0.], [100., 0.], [0., 0.], [0., 0.]]])
# One NaN or one masked ground-truth vector of the four excludes the pixel.
SPRING_B = make_sample(
    pred=[[[9., 9.], [9., 9.]]],
    gt=[[[0., 0.], [0., 0.], [0., 0.], [0., 0.]],
        [[0., 0.], [NAN, 0.], [0., 0.], [0., 0.]]],
    valid=[[1., 1., 1., 1.], [1., 1., 1., 0.]])


def test_spring_two_by_two_minimum():
    result = evaluate(FlowMetric(mode='spring'), [SPRING_A, SPRING_B])
    assert result == pytest.approx({
        'EPE': 8.3 / 3,
        '1px_outliers': 200 / 3,
        '3px_outliers': 200 / 3,
        '5px_outliers': 0.,
        'Fl': 100 / 3
    })


def test_spring_shape_mismatch_and_no_valid_pixel():
    small_pred = make_sample(
        pred=[[[0., 0.], [0., 0.]]], gt=[[[0., 0.]] * 6] * 2)
    with pytest.raises(ValueError, match='smaller than the ground truth'):
        evaluate(FlowMetric(mode='spring'), [small_pred])
    with pytest.raises(ValueError, match='even-sized ground truth'):
        evaluate(FlowMetric(mode='spring'), [IMAGE_A])
    result = evaluate(FlowMetric(mode='spring'), [SPRING_B])
    assert all(math.isnan(v) for v in result.values())
