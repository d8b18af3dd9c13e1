import math
import os.path as osp
import re
import sys

import pytest
from mmengine.config import Config

from test_tools import EXTERNAL_CONFIG, REPO, run
from winwin_mm.datasets.synthetic_seg import generate
from winwin_mm.engine import TimedProgressHook
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


def test_timed_progress_hook_reports_train_and_test_iterations(tmp_path):
    # a real train + test run through the tools with the hook at seconds=0
    # (a line after every iteration) and the logger's interval above the
    # run length: the hook's lines are the only progress lines
    root = generate(str(tmp_path / 'data'), num_train=2, num_val=3,
                    size=(64, 128), seed=1)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(EXTERNAL_CONFIG.replace('{root}', root) + (
        "custom_hooks = [dict(type='winwin_mm.TimedProgressHook', "
        "seconds=0)]\n"
        "default_hooks['logger'] = dict(type='LoggerHook', interval=100)\n"))
    work = str(tmp_path / 'w')
    out = run([sys.executable, 'tools/train.py', str(cfg), '--work-dir',
               work])
    assert re.findall(r'train progress: (\d)/2 iterations', out) == \
        ['1', '2'], out[-3000:]
    out = run([sys.executable, 'tools/test.py', str(cfg),
               osp.join(work, 'iter_2.pth'), '--work-dir', work])
    lines = re.findall(r'test progress: (\d)/3 iterations, elapsed '
                       r'\d+:\d\d:\d\d, eta (\d+:\d\d:\d\d)', out)
    assert [k for k, _ in lines] == ['1', '2', '3'], out[-3000:]
    assert lines[-1][1] == '0:00:00'


def test_every_config_reports_progress_every_30_seconds():
    for path in ('winwin_vits_camvid.py', 'winwin_vitb_sintel.py',
                 'winwin_vitb_nyu.py', 'fullres_vitb_bdd100k.py'):
        hooks = Config.fromfile(osp.join(REPO, 'configs', path)).custom_hooks
        timed = [h for h in hooks
                 if h['type'] == 'winwin_mm.TimedProgressHook']
        assert [h['seconds'] for h in timed] == [30], (path, hooks)
    with pytest.raises(ValueError, match='seconds must be >= 0'):
        TimedProgressHook(seconds=-1)


def test_machine_load_note_says_when_the_cpu_is_shared():
    from winwin_mm.benchmark.hardware import machine_load_note
    assert machine_load_note(load=0.9, cores=2) == ''
    note = machine_load_note(load=3.2, cores=2)
    assert 'busy' in note and '3.2 on 2 cores' in note
    assert isinstance(machine_load_note(), str)  # this machine, any load
