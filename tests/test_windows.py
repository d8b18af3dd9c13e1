"""Window geometry and the RandomWindows transform."""
import itertools

import numpy as np
import pytest
import torch

from winwin_mm.datasets.random_windows import RandomWindows
from winwin_mm.windows import (WindowSizeError, boxes_to_token_index,
                               check_fits, grid_positions, sample_windows,
                               sample_random_tokens, token_positions,
                               window_side_from_fraction)


def _assert_valid(boxes, grid_hw, num_windows, side):
    h, w = grid_hw
    assert boxes.shape == (num_windows, 4)
    assert boxes.dtype == np.int64
    y0, x0, y1, x1 = boxes.T
    assert (y1 - y0 == side).all() and (x1 - x0 == side).all()
    assert (y0 >= 0).all() and (x0 >= 0).all()
    assert (y1 <= h).all() and (x1 <= w).all()
    paint = np.zeros(grid_hw, np.int64)
    for a, b, c, d in boxes:
        paint[a:c, b:d] += 1
    assert paint.max() == 1, f'overlapping boxes {boxes.tolist()}'
    assert paint.sum() == num_windows * side * side


@pytest.mark.parametrize('grid_hw,n,side', [((45, 80), 2, 22),
                                            ((20, 30), 4, 7),
                                            ((12, 12), 3, 5)])
def test_many_draws_seeded_rng(grid_hw, n, side):
    rng = np.random.default_rng(0)
    corners = []
    for _ in range(1000):
        boxes = sample_windows(grid_hw, n, side, rng=rng)
        _assert_valid(boxes, grid_hw, n, side)
        corners.append(boxes[0, :2])
    corners = np.array(corners)
    # the first window's corner explores the whole valid range
    assert corners[:, 0].min() == 0 and corners[:, 1].min() == 0
    assert corners[:, 0].max() == grid_hw[0] - side
    assert corners[:, 1].max() == grid_hw[1] - side


def test_many_draws_global_numpy_state():
    np.random.seed(123)
    first = [sample_windows((45, 80), 2, 22) for _ in range(3)]
    for _ in range(3000):
        _assert_valid(sample_windows((45, 80), 2, 22), (45, 80), 2, 22)
    np.random.seed(123)
    again = [sample_windows((45, 80), 2, 22) for _ in range(3)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_seeded_rng_reproducible():
    a = sample_windows((45, 80), 2, 10, rng=np.random.default_rng(5))
    b = sample_windows((45, 80), 2, 10, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_uniform_over_joint_placements():
    """On a tiny grid every valid ordered placement is about equally likely."""
    grid, n, side = (3, 5), 2, 2
    corners = [(t, l) for t in range(grid[0] - side + 1)
               for l in range(grid[1] - side + 1)]
    valid = [(a, b) for a, b in itertools.product(corners, corners)
             if abs(a[0] - b[0]) >= side or abs(a[1] - b[1]) >= side]
    rng = np.random.default_rng(1)
    draws = 6000
    counts = {v: 0 for v in valid}
    for _ in range(draws):
        bx = sample_windows(grid, n, side, rng=rng)
        counts[(tuple(bx[0, :2]), tuple(bx[1, :2]))] += 1
    expected = draws / len(valid)
    sigma = np.sqrt(expected)
    assert all(abs(c - expected) < 5 * sigma for c in counts.values()), counts


def test_impossible_requests_raise_with_sizes():
    with pytest.raises(WindowSizeError) as e:
        sample_windows((45, 80), 9, 20)
    msg = str(e.value)
    assert '9' in msg and '20x20' in msg and '45x80' in msg
    with pytest.raises(WindowSizeError, match='3 .*30x30.*45x80'):
        check_fits((45, 80), 3, 30)
    with pytest.raises(WindowSizeError):
        sample_windows((10, 10), 1, 11)
    with pytest.raises(WindowSizeError):
        sample_windows((10, 10), 0, 2)
    assert issubclass(WindowSizeError, ValueError)
    check_fits((45, 80), 8, 20)  # 2 x 4 fit


def _max_packing(grid_hw, side):
    """Brute force: most disjoint side x side windows on the grid."""
    h, w = grid_hw
    corners = [(t, l) for t in range(h - side + 1) for l in range(w - side + 1)]
    best = 0

    def rec(start, chosen):
        nonlocal best
        best = max(best, len(chosen))
        for i in range(start, len(corners)):
            c = corners[i]
            if all(abs(c[0] - o[0]) >= side or abs(c[1] - o[1]) >= side
                   for o in chosen):
                rec(i + 1, chosen + [c])

    rec(0, [])
    return best


@pytest.mark.parametrize('grid_hw,side', [((5, 5), 2), ((3, 7), 2),
                                          ((7, 8), 3)])
def test_capacity_matches_brute_force(grid_hw, side):
    best = _max_packing(grid_hw, side)
    check_fits(grid_hw, best, side)
    with pytest.raises(WindowSizeError):
        check_fits(grid_hw, best + 1, side)
    rng = np.random.default_rng(0)
    for _ in range(20):
        _assert_valid(sample_windows(grid_hw, best, side, rng=rng), grid_hw,
                      best, side)


def test_tight_packing_succeeds():
    rng = np.random.default_rng(0)
    for _ in range(5):
        boxes = sample_windows((20, 20), 4, 10, rng=rng, max_rounds=2)
        _assert_valid(boxes, (20, 20), 4, 10)
        assert sorted(map(tuple, boxes[:, :2].tolist())) == [(0, 0), (0, 10),
                                                             (10, 0),
                                                             (10, 10)]
    boxes = sample_windows((21, 31), 6, 10, rng=rng, max_rounds=1)
    _assert_valid(boxes, (21, 31), 6, 10)


def test_window_side_from_fraction():
    assert window_side_from_fraction((45, 80), 2, 0.27) == 22
    assert window_side_from_fraction((45, 80), 1, 1.0) == 60
    assert window_side_from_fraction((10, 10), 4, 0.01) == 1
    # even rounding (default): CamVid 60x45 at 0.27 -> 19.06 -> 18, not 19
    assert window_side_from_fraction((45, 60), 2, 0.27) == 18
    assert window_side_from_fraction((45, 60), 2, 0.27, even=False) == 19
    assert window_side_from_fraction((23, 30), 2, 0.27) == 8
    assert window_side_from_fraction((45, 80), 1, 1.0, even=False) == 60
    with pytest.raises(ValueError):
        window_side_from_fraction((45, 80), 2, 0.)
    with pytest.raises(ValueError):
        window_side_from_fraction((45, 80), 2, 1.5)


def test_boxes_to_token_index_matches_naive_loop():
    rng = np.random.default_rng(3)
    gh, gw, side = 9, 13, 3
    boxes = np.stack([sample_windows((gh, gw), 3, side, rng=rng)
                      for _ in range(4)])
    idx = boxes_to_token_index(torch.from_numpy(boxes), gw)
    assert idx.shape == (4, 3 * side * side)
    for b in range(4):
        naive = []
        for y0, x0, y1, x1 in boxes[b]:
            for y in range(y0, y1):
                for x in range(x0, x1):
                    naive.append(y * gw + x)
        assert idx[b].tolist() == naive
    pos = token_positions(idx, gw)
    assert pos.shape == (4, 27, 2)
    assert (pos[..., 0] * gw + pos[..., 1] == idx).all()
    allpos = grid_positions((gh, gw))
    assert allpos.shape == (gh * gw, 2)
    assert allpos[gw + 2].tolist() == [1, 2]


def test_boxes_to_token_index_rejects_mixed_sizes():
    boxes = torch.tensor([[[0, 0, 2, 2], [3, 3, 6, 6]]])
    with pytest.raises(WindowSizeError, match='one size'):
        boxes_to_token_index(boxes, 8)
    with pytest.raises(WindowSizeError):
        boxes_to_token_index(torch.tensor([[[0, 0, 2, 3]]]), 8)


def test_sample_random_tokens():
    rng = np.random.default_rng(0)
    t = sample_random_tokens((45, 80), 968, rng=rng)
    assert t.shape == (968, ) and t.dtype == np.int64
    assert (np.diff(t) > 0).all() and t.min() >= 0 and t.max() < 3600
    with pytest.raises(WindowSizeError):
        sample_random_tokens((4, 4), 17)


def test_random_windows_transform():
    np.random.seed(0)
    t = RandomWindows(num_windows=2, window_size=22, patch_size=16)
    for _ in range(50):
        out = t(dict(img_shape=(720, 1280)))
        _assert_valid(out['window_boxes'], (45, 80), 2, 22)
    # image not a multiple of the patch: windows stay inside the floor grid
    for _ in range(50):
        out = t(dict(img_shape=(730, 1295, 3)))
        b = out['window_boxes']
        assert b[:, 2].max() * 16 <= 730 and b[:, 3].max() * 16 <= 1295
    frac = RandomWindows(num_windows=2, token_fraction=0.27, patch_size=16)
    assert frac.side_for((45, 80)) == 22
    _assert_valid(frac(dict(img_shape=(720, 1280)))['window_boxes'],
                  (45, 80), 2, 22)
    rnd = RandomWindows(num_windows=2, window_size=22, patch_size=16,
                        mode='random')
    out = rnd(dict(img_shape=(720, 1280)))
    tok = out['window_tokens']
    assert 'window_boxes' not in out
    assert tok.shape == (2 * 22 * 22, )
    assert (np.diff(tok) > 0).all() and tok.max() < 45 * 80
    # the global numpy state drives the transform (MMEngine seeds it)
    np.random.seed(7)
    a = t(dict(img_shape=(720, 1280)))['window_boxes']
    np.random.seed(7)
    b = t(dict(img_shape=(720, 1280)))['window_boxes']
    np.testing.assert_array_equal(a, b)


def test_random_windows_errors():
    t = RandomWindows(num_windows=2, window_size=10, patch_size=16)
    with pytest.raises(WindowSizeError) as e:
        t(dict(img_shape=(100, 120), img_path='small.png'))
    assert '100x120' in str(e.value) and 'small.png' in str(e.value)
    with pytest.raises(ValueError):
        RandomWindows(num_windows=2)
    with pytest.raises(ValueError):
        RandomWindows(num_windows=2, window_size=4, token_fraction=0.2)
    with pytest.raises(ValueError):
        RandomWindows(window_size=4, mode='grid')


def test_scatter_mode_keeps_the_windows_tokens():
    """'scatter' keeps exactly the tokens of the windows 'windows' mode
    samples from the same random state, as sorted flat indices (the input of
    the 'random' path), counted here by hand from the boxes."""
    win = RandomWindows(num_windows=2, window_size=6, patch_size=16)
    sca = RandomWindows(num_windows=2, window_size=6, patch_size=16,
                        mode='scatter')
    for seed in range(10):
        np.random.seed(seed)
        boxes = win(dict(img_shape=(360, 480)))['window_boxes']
        np.random.seed(seed)
        out = sca(dict(img_shape=(360, 480)))
        assert 'window_boxes' not in out
        tok = out['window_tokens']
        expect = sorted(y * 30 + x for y0, x0, y1, x1 in boxes
                        for y in range(y0, y1) for x in range(x0, x1))
        assert tok.dtype == np.int64 and tok.tolist() == expect
