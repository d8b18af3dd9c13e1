import math

from winwin_mm.utils.progress import (estimate_remaining, format_duration,
                                      progress_line)


def test_remaining_time_scales_with_remaining_cost():
    # 2 items of cost 10 and 30 took 4 s and 12 s: 0.4 s per unit
    assert estimate_remaining([10, 30], [4, 12], [5, 20]) == 10.
    assert estimate_remaining([10], [4], []) == 0.
    assert math.isnan(estimate_remaining([], [], [3]))


def test_format_and_line():
    assert format_duration(3725.4) == '1:02:05'
    assert format_duration(-3) == '0:00:00'
    assert progress_line(2, 6, 'win2', 62, 184) == \
        '[2/6] win2 done, elapsed 0:01:02, eta 0:03:04'
    assert progress_line(1, 6, 'x', 1, float('nan')).endswith('eta unknown')
