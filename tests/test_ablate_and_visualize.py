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


def test_ablate_seeds_parallel(cfg, tmp_path):
    out = tmp_path / 'study'
    log = run([sys.executable, 'tools/ablate.py', cfg, '--variants',
               'win1', '--iters', '4', '--seeds', '0', '1',
               '--parallel', '2', '--cfg-options',
               'train_dataloader.batch_size=1',
               # the GPU configs' bf16 AMP (float32 where there is no CUDA)
               'optim_wrapper.type=AmpOptimWrapper',
               'optim_wrapper.dtype=bfloat16', '--out', str(out)])
    # progress: each run's mmengine iteration lines, then time left
    assert 'win1/seed0: Iter(train) [4/4]' in log
    assert 'win1/seed1: Iter(train) [4/4]' in log
    assert re.search(r'\[1/2\] win1/seed\d done, elapsed \d:\d\d:\d\d, '
                     r'eta \d:\d\d:\d\d', log), log[-2000:]
    assert '[2/2]' in log and 'eta 0:00:00' in log
    res = json.loads((out / 'results.json').read_text())
    assert res['iters'] == 4 and res['eval_split'] == 'val'
    assert res['seeds'] == [0, 1]
    assert set(res['variants']) == {'win1', 'win1_slide'}
    classes = ['background', 'wide stripes', 'tall stripes', 'wide checker',
               'tall checker']
    for name, r in res['variants'].items():
        assert r['seeds'] == [0, 1] and len(r['runs']) == 2
        m = [x['mIoU'] for x in r['runs']]
        assert abs(r['mIoU'] - sum(m) / 2) < 0.01
        assert abs(r['mIoU_std'] - abs(m[0] - m[1]) / 2 ** .5) < 0.01
        assert list(r['per_class_iou']) == classes
        for k in ('mIoU_border', 'mIoU_centre', 'err_border', 'err_centre'):
            assert 0 <= r[k] <= 100
        assert r['train_s'] > 0 and r['peak_mb'] > 0
        assert 0 < r['iter_s_median'] <= r['train_s']
        # the batch size came through --cfg-options (mmengine DictAction)
        assert 'batch_size=1' in (out / name.split('_')[0] / 'seed0' /
                                  'variant_config.py').read_text()
    # win1 keeps one window with the budget of two 2x2 windows: side 2
    assert res['variants']['win1']['tokens_per_image'] == 4
    assert res['variants']['win1_slide']['eval_mode'] == 'slide'
    md = (out / 'results.md').read_text()
    assert md.count('| win1') >= 3 and '+-' in md and 'wide checker' in md
    assert 'Error by position' in md
    assert (out / 'results.png').stat().st_size > 1000
    for v in ('win1', ):
        for s in (0, 1):
            d = out / v / f'seed{s}'
            assert osp.isfile(d / 'iter_4.pth')
            job = json.loads((d / 'job.json').read_text())
            assert job['config'].endswith('variant_config.py')


def test_visualize_windows_writes_png(cfg, tmp_path):
    png = tmp_path / 'w.png'
    out = run([sys.executable, 'tools/visualize_windows.py', cfg, '--num',
               '3', '--out', str(png)])
    assert 'wrote' in out
    import cv2
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] == 2 * 640


def test_eval_split_points_evaluation_at_another_split(tmp_path):
    from winwin_mm.ablation import prepare_base, split_path
    assert split_path('val.txt', 'test') == 'test.txt'
    assert split_path('img_dir/val', 'test') == 'img_dir/test'
    assert split_path('interval/x.txt', 'test') == 'interval/x.txt'
    config = osp.join(osp.dirname(__file__), '..', 'configs',
                      'winwin_vits_camvid.py')
    cfg = prepare_base(config, data_root=str(tmp_path), eval_split='test',
                       iters=10)
    assert cfg.train_dataloader.dataset.ann_file == 'train.txt'
    for name in ('val_dataloader', 'test_dataloader'):
        ds = cfg[name].dataset
        assert ds.ann_file == 'test.txt' and ds.data_root == str(tmp_path)
    assert cfg.train_cfg.max_iters == 10
    assert cfg.val_evaluator.type == 'winwin_mm.StudyIoUMetric'


def test_merge_pools_seeds_of_separate_studies(tmp_path):
    import importlib.util
    from winwin_mm.ablation import aggregate
    spec = importlib.util.spec_from_file_location(
        'ablate', osp.join(osp.dirname(__file__), '..', 'tools', 'ablate.py'))
    ablate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablate)

    def run_rec(seed, miou):
        return dict(seed=seed, mIoU=miou, aAcc=50., eval_mode='whole',
                    per_class_iou=dict(a=miou, b=float('nan')),
                    tokens_per_image=8, iters=4, train_s=2., eval_s=1.,
                    peak_mb=10. + seed, iter_s_median=.5, err_border=5.)

    dirs = []
    for seed, miou, full in ((0, 30., 28.), (1, 34., 35.)):
        d = tmp_path / f's{seed}'
        d.mkdir()
        summary = dict(config='c.py', iters=4, head='config',
                       eval_split='val', eval_every=1, seeds=[seed],
                       variants=dict(win2=aggregate([run_rec(seed, miou)]),
                                     fullres=aggregate([run_rec(seed, full)])))
        (d / 'results.json').write_text(json.dumps(summary))
        dirs.append(str(d))
    res = ablate.main(['--merge', *dirs, '--out', str(tmp_path / 'm')])
    r = res['variants']['win2']
    assert res['seeds'] == [0, 1] and r['seeds'] == [0, 1]
    assert r['mIoU'] == 32. and r['mIoU_std'] == round(8 ** .5, 2)
    assert r['per_class_iou']['a'] == 32. and r['peak_mb'] == 11.
    md = (tmp_path / 'm' / 'results.md').read_text()
    assert '32.00 +- 2.83' in md and 'Merged from 2 studies' in md
    # paired per-seed differences: 30 - 28 and 34 - 35
    p = res['variants']
    from winwin_mm.ablation import paired_differences
    d = paired_differences(p)['fullres']
    assert d['seeds'] == [0, 1] and d['diffs'] == [2., -1.]
    assert d['mean'] == .5 and d['std'] == round(4.5 ** .5, 2)
    assert '| fullres | 28.00 | 35.00 | +2.00 / -1.00 (+0.50 +- 2.12) |' in md
    assert paired_differences({'fullres': p['fullres']}) == {}
    with pytest.raises(SystemExit, match='seed'):
        ablate.main(['--merge', dirs[0], dirs[0], '--out',
                     str(tmp_path / 'x')])
