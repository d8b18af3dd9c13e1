"""tools/ablate.py end to end on a tiny budget, and
tools/visualize_windows.py on a generated dataset."""
import json
import os.path as osp
import re
import sys

import pytest

from winwin_mm.datasets.synthetic_seg import generate

from test_tools import EXTERNAL_CONFIG, run


@pytest.fixture(scope='module')
def cfg(tmp_path_factory):
    base = tmp_path_factory.mktemp('abl')
    root = generate(str(base / 'data'), num_train=4, num_val=2,
                    size=(64, 128), seed=2)
    path = base / 'cfg.py'
    path.write_text(EXTERNAL_CONFIG.replace('{root}', root))
    return str(path)


def test_ablate_two_variants_writes_results(cfg, tmp_path):
    out = tmp_path / 'study'
    log = run([sys.executable, 'tools/ablate.py', cfg, '--variants',
               'fullres', 'win1', '--iters', '2', '--out', str(out)])
    # progress: each variant's mmengine iteration lines, then time left
    assert 'fullres: Iter(train) [2/2]' in log
    assert re.search(r'\[1/2\] fullres done, elapsed \d:\d\d:\d\d, eta '
                     r'\d:\d\d:\d\d', log), log[-2000:]
    assert '[2/2] win1 done' in log and 'eta 0:00:00' in log
    res = json.loads((out / 'results.json').read_text())
    assert res['iters'] == 2 and res['eval_split'] == 'val'
    assert set(res['variants']) == {'fullres', 'win1', 'win1_slide'}
    for name, r in res['variants'].items():
        assert 0 <= r['mIoU'] <= 100 and 0 <= r['aAcc'] <= 100
        assert r['train_s'] > 0 and r['peak_mb'] > 0
        assert 0 < r['iter_s_median'] <= r['train_s']
    assert res['variants']['fullres']['tokens_per_image'] == 4 * 8
    # win1 keeps one window with the budget of two 2x2 windows: side 2
    assert res['variants']['win1']['tokens_per_image'] == 4
    assert res['variants']['win1_slide']['eval_mode'] == 'slide'
    assert (out / 'results.md').read_text().count('| win1') == 2
    assert (out / 'results.png').stat().st_size > 1000
    for v in ('fullres', 'win1'):
        assert osp.isfile(out / v / 'iter_2.pth')


def test_visualize_windows_writes_png(cfg, tmp_path):
    png = tmp_path / 'w.png'
    out = run([sys.executable, 'tools/visualize_windows.py', cfg, '--num',
               '3', '--out', str(png)])
    assert 'wrote' in out
    import cv2
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] == 2 * 640


def test_eval_split_points_evaluation_at_another_split(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'ablate', osp.join(osp.dirname(__file__), '..', 'tools', 'ablate.py'))
    ablate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablate)
    assert ablate._split_path('val.txt', 'test') == 'test.txt'
    assert ablate._split_path('img_dir/val', 'test') == 'img_dir/test'
    assert ablate._split_path('interval/x.txt', 'test') == 'interval/x.txt'
    config = osp.join(osp.dirname(__file__), '..', 'configs',
                      'winwin_vits_camvid.py')
    args = ablate.parse_args([config, '--eval-split', 'test', '--data-root',
                              str(tmp_path), '--iters', '10', '--out',
                              str(tmp_path / 'o')])
    cfg = ablate.prepare_base(args)
    assert cfg.train_dataloader.dataset.ann_file == 'train.txt'
    for name in ('val_dataloader', 'test_dataloader'):
        ds = cfg[name].dataset
        assert ds.ann_file == 'test.txt' and ds.data_root == str(tmp_path)
    assert cfg.train_cfg.max_iters == 10
