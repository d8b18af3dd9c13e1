"""Flow colour coding (Middlebury wheel) and error maps."""
import numpy as np

from winwin_mm.visualization import (flow_error_map, flow_to_color,
                                     make_color_wheel)


def test_color_wheel_segments():
    wheel = make_color_wheel()
    assert wheel.shape == (55, 3)  # 15 + 6 + 4 + 11 + 13 + 6
    # segment starts: red, yellow, green, cyan, blue, magenta
    starts = np.cumsum([0, 15, 6, 4, 11, 13])
    np.testing.assert_array_equal(wheel[starts],
                                  [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1],
                                   [0, 0, 1], [1, 0, 1]])


def test_flow_to_color_directions_and_invalid():
    flow = np.array([[[0., 0.], [10., 0.], [0., 10.], [-10., 0.], [np.nan,
                                                                   0.]]])
    rgb = flow_to_color(flow)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 255, 255]  # no motion: white
    assert rgb[0, 4].tolist() == [0, 0, 0]  # unknown: black
    right, down, left = rgb[0, 1], rgb[0, 2], rgb[0, 3]
    assert right.argmax() == 0 and right[1] < 64  # red
    assert down[1] > 200 and down[2] < 64  # yellow
    assert left[2] > 200 and left[0] < 64  # blue-cyan
    dim = flow_to_color(flow, max_flow=5.)  # beyond max_flow: darker
    assert dim[0, 1].max() < right.max()


def test_flow_error_map_masks_invalid():
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, 1] = (8., 0.)
    valid = np.ones((2, 3))
    valid[1, 2] = 0
    rgb = flow_error_map(pred, gt, valid)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    assert rgb[1, 2].tolist() == [0, 0, 0]
    assert rgb[0, 1, 0] > rgb[0, 1, 2]  # large error: red end
    assert rgb[0, 0, 2] > rgb[0, 0, 0]  # no error: blue end
