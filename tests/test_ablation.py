"""The masking study's parts: variants, the study metric, peak memory."""
import threading
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from winwin_mm.ablation import budget, make_variant, nearest_even

from test_tools import EXTERNAL_CONFIG


def _cfg(window=dict(window_size=10)):
    pipe = [dict(type='LoadImageFromFile'),
            dict(type='winwin_mm.RandomWindows', num_windows=2,
                 patch_size=16, **window),
            dict(type='PackSegInputs', meta_keys=('img_shape',
                                                  'window_boxes'))]
    return Config(dict(model=dict(type='winwin_mm.WinWinEncoderDecoder'),
                       train_dataloader=dict(dataset=dict(pipeline=pipe))))


def test_budget_even_sides():
    # explicit window_size kept as given (odd too); win1 / win4 nearest even
    assert budget((22, 30), dict(num_windows=2, window_size=10)) == dict(
        tokens=200, win2=10, win1=14, win4=8)
    assert budget((45, 60), dict(num_windows=2, window_size=19)) == dict(
        tokens=722, win2=19, win1=26, win4=14)
    # token_fraction: rounded down to even (19.06 -> 18)
    assert budget((45, 60), dict(num_windows=2, token_fraction=0.27)) == \
        dict(tokens=648, win2=18, win1=26, win4=12)
    assert [nearest_even(x) for x in (0.4, 3.0, 4.9, 5.0, 12.7)] == \
        [2, 4, 4, 6, 12]


def test_win2_scatter_is_the_random_path_on_windows():
    cfg, desc = make_variant(_cfg(), 'win2_scatter', (22, 30))
    rnd, _ = make_variant(_cfg(), 'random', (22, 30))
    win2, _ = make_variant(_cfg(), 'win2', (22, 30))
    t = cfg.train_dataloader.dataset.pipeline[1]
    assert t == dict(type='winwin_mm.RandomWindows', num_windows=2,
                     window_size=10, patch_size=16, mode='scatter')
    assert rnd.train_dataloader.dataset.pipeline[1]['mode'] == 'random'
    assert win2.train_dataloader.dataset.pipeline[1]['mode'] == 'windows'
    # the token indices reach the model
    for c in (cfg, rnd):
        assert 'window_tokens' in c.train_dataloader.dataset.pipeline[2][
            'meta_keys']
    assert desc['tokens_per_image'] == 200 and desc['eval_modes'] == [
        'whole']
    # all three train on their windows' tokens, never silently on all
    assert cfg.model.train_windows and rnd.model.train_windows
    assert win2.model.train_windows


def test_study_metric_per_class_and_border_by_hand():
    from winwin_mm.evaluation import StudyIoUMetric, border_mask
    m = StudyIoUMetric(border=0.125, iou_metrics=['mIoU'])
    m.dataset_meta = dict(classes=('a', 'b', 'c'))
    label = torch.zeros(8, 8, dtype=torch.long)
    label[:, 4:] = 1
    label[0, 0] = 255  # ignored
    pred = label.clone()
    pred[0, 0] = 2  # on an ignored pixel: not counted anywhere
    pred[3:5, 5] = 0  # 2 centre pixels of class b predicted a
    pred[7, 6:8] = 2  # 2 border pixels of class b predicted c
    sample = dict(pred_sem_seg=dict(data=pred[None]),
                  gt_sem_seg=dict(data=label[None]))
    m.process({}, [sample])
    res = m.compute_metrics(m.results)
    # by hand: a: I=31, U=31+2 -> 93.94; b: I=28, U=32; c: I=0, U=2
    assert res['IoU.a'] == pytest.approx(100 * 31 / 33, abs=0.01)
    assert res['IoU.b'] == pytest.approx(100 * 28 / 32, abs=0.01)
    assert res['IoU.c'] == 0
    assert res['mIoU'] == pytest.approx((100 * 31 / 33 + 87.5) / 3, abs=.01)
    band = border_mask((8, 8), 0.125)
    assert band.sum() == 28 and not band[1:7, 1:7].any()
    # border: 27 labelled pixels, 2 wrong; centre: 36, 2 wrong
    assert res['err_border'] == pytest.approx(100 * 2 / 27, abs=0.01)
    assert res['err_centre'] == pytest.approx(100 * 2 / 36, abs=0.01)
    # border mIoU: a 13/13, b 12/14, c 0/2; centre: a 18/20, b 16/18
    assert res['mIoU_border'] == pytest.approx(
        100 * (1 + 12 / 14 + 0) / 3, abs=0.01)
    assert res['mIoU_centre'] == pytest.approx(
        100 * (18 / 20 + 16 / 18) / 2, abs=0.01)
    with pytest.raises(ValueError, match='border'):
        StudyIoUMetric(border=0.6)


class _Allocate(Hook):
    """Allocates and fills ``mb`` MB inside every training iteration, and
    frees it again (a known peak). Registered on the runner directly, not
    in a registry."""
    priority = 'VERY_HIGH'

    def __init__(self, mb):
        self.mb = mb

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        x = torch.ones(self.mb * 2**18)  # float32: mb MB
        time.sleep(0.05)
        del x


def _rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_peak_memory_hook_matches_an_independent_rss_sampler(tmp_path):
    """CPU: the hook's peak (VmHWM since before_train) contains a known
    256 MB allocation and agrees with RSS sampled every 0.2 ms by a thread
    (the hook cannot be below what the sampler saw)."""
    from mmengine.runner import Runner
    from winwin_mm.datasets.synthetic_seg import generate
    from winwin_mm.engine import PeakMemoryHook
    if torch.cuda.is_available():
        pytest.skip('CPU measurement (the GPU one is checked by '
                    'gpu_study.sh: peak above the weights)')
    root = generate(str(tmp_path / 'data'), num_train=2, num_val=1,
                    size=(32, 64), seed=0)
    cfg = Config.fromstring(EXTERNAL_CONFIG.replace('{root}', root), '.py')
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner = Runner.from_cfg(cfg)
    hook = PeakMemoryHook()
    runner.register_hook(hook)
    runner.register_hook(_Allocate(256))
    seen, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            seen.append(_rss_mb())
            time.sleep(0.0002)

    t = threading.Thread(target=sample)
    t.start()
    try:
        runner.train()
    finally:
        stop.set()
        t.join()
    assert hook.device == 'cpu'
    assert hook.peak_mb - hook.start_mb >= 256 * 0.95
    # the sampler's maximum: the hook is never below it, and not far above
    assert max(seen) - 1 <= hook.peak_mb <= max(seen) + 32


def test_head_choice_matches_the_dpt_config():
    import os.path as osp
    from winwin_mm.ablation.heads import set_head
    root = osp.join(osp.dirname(__file__), '..', 'configs')
    dpt = Config.fromfile(osp.join(root,
                                   'winwin_vitti_in21k_camvid_960x720_dpt.py'))
    cfg = Config.fromfile(osp.join(root,
                                   'winwin_vitti_in21k_camvid_960x720.py'))
    set_head(cfg, 'uper')  # the config's own head: unchanged
    assert cfg.model.decode_head.type == 'UPerHead'
    set_head(cfg, 'dpt')
    assert cfg.model.neck is None and dpt.model.neck is None
    assert cfg.model.decode_head.to_dict() == dpt.model.decode_head.to_dict()
    assert cfg.model.auxiliary_head.in_channels == 192
    with pytest.raises(ValueError, match='decode head is'):
        set_head(dpt, 'uper')


def test_equal_time_picks_checkpoints_within_the_cheapest_time(tmp_path):
    import json
    from winwin_mm.ablation.equal_time import (budget, equal_time,
                                               last_checkpoint_within)

    def job(variant, seed, ckpt_s, miou):
        return dict(variant=variant, seed=seed, wd=str(tmp_path),
                    name=f'{variant}/seed{seed}', result=dict(
                        ckpt_s=ckpt_s, iters=max(map(int, ckpt_s)),
                        evals=dict(whole=dict(mIoU=miou))))

    jobs = [job('win2', 0, {'5': 10., '10': 20.}, 30.),
            job('win2', 1, {'5': 11., '10': 22.}, 32.),
            job('fullres', 0, {'5': 30., '10': 60.}, 40.),
            job('fullres', 1, {'5': 18., '10': 36.}, 42.)]
    assert budget(jobs) == ('win2', 21.)
    assert last_checkpoint_within({'5': 18., '10': 36.}, 21.) == 5
    assert last_checkpoint_within({'5': 30., '10': 60.}, 21.) is None
    # fullres seed 1 at its iteration-5 checkpoint (18 s <= 21 s), scored
    # by an evaluation job; fullres seed 0 has no checkpoint in time
    out = tmp_path / 'm.json'
    out.write_text(json.dumps(dict(evals=dict(whole=dict(mIoU=25.)))))
    for j in jobs:
        j['equal_time_iter'] = last_checkpoint_within(j['result']['ckpt_s'],
                                                      21.)
    out2 = tmp_path / 'm2.json'
    out2.write_text(json.dumps(dict(evals=dict(whole=dict(mIoU=28.)))))
    extra = [dict(out=str(out), run=jobs[3], iter=5)]
    with pytest.raises(ValueError, match='win2/seed1: no evaluation'):
        equal_time(jobs, extra)
    extra.append(dict(out=str(out2), run=jobs[1], iter=5))
    eq = equal_time(jobs, extra)
    assert eq['cheapest'] == 'win2' and eq['budget_s'] == 21.
    # win2 seed 1 ended at 22 s > 21 s: its 5-iteration checkpoint counts
    assert eq['variants']['win2'] == dict(iters=7.5, train_s=15.5,
                                          mIoU=29., seeds=2)
    assert eq['variants']['fullres'] == dict(iters=5, train_s=18.,
                                             mIoU=25., seeds=1)
