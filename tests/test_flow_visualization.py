"""Flow predictions drawn beside the ground truth and the error map: the
panel builder, the visualizer, ``tools/test.py --show-dir`` and
``tools/predict_flow.py --gt`` on the real pairs of ../shared/data/flow, and
2-process ``tools/dist_test.sh`` against the single-process metric."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

import winwin_mm  # noqa: F401
from conftest import REPO, shared_data
from winwin_mm.datasets.flow_io import read_flow
from winwin_mm.registry import MODELS
from winwin_mm.structures import FlowDataSample
from winwin_mm.visualization import (FlowLocalVisualizer, PanelLayout,
                                     draw_error_colorbar, error_colors,
                                     flow_error_map, flow_panel, flow_to_color)
from winwin_mm.visualization.flow_vis import error_colorbar_ticks
from winwin_mm.visualization.flow_visualizer import match_resolution

DEMO = osp.join(REPO, 'configs', 'winwin_vitti_flow_demo.py')


def test_panel_is_frame_gt_pred_error_on_one_scale():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    gt = rng.normal(0, 3, (30, 40, 2))
    valid = np.ones((30, 40), bool)
    valid[:5] = False
    pred = gt + 0.5
    panel = flow_panel(frame, pred, gt, valid)
    lay = PanelLayout.for_tile((30, 40))
    ch, cw = lay.cell_hw
    assert panel.shape == (2 * ch + lay.gap, 2 * cw + lay.gap, 3)
    max_flow = np.linalg.norm(gt[valid], axis=1).max()

    def tile(row, col):
        y, x = lay.tile_origin(row, col)
        return panel[y:y + 30, x:x + 40]
    # the tiles are exactly the frame and the colour-coded flows, both
    # flows on the ground truth's scale; titles and captions lie outside
    assert np.array_equal(tile(0, 0), frame)
    assert np.array_equal(tile(0, 1), flow_to_color(
        np.where(valid[..., None], gt, np.nan), max_flow))
    assert np.array_equal(tile(1, 0), flow_to_color(pred, max_flow))
    assert np.array_equal(tile(1, 1), flow_error_map(pred, gt, valid))
    # the title bands hold text (dark pixels on white)
    assert (panel[:lay.title, :cw] < 128).any()
    # without ground truth: frame | prediction
    assert flow_panel(frame, pred).shape == (ch, 2 * cw + lay.gap, 3)


def test_error_colour_bar_matches_the_error_map():
    # the bar under the error tile shows, at each tick, the colour that
    # flow_error_map gives an error of the tick's value
    band = np.full((80, 1000, 3), 255, np.uint8)
    draw_error_colorbar(band)
    x0, bar_w = 100, 800
    ticks = error_colorbar_ticks(bar_w)
    assert [v for _, v in ticks] == [1 / 32, 1 / 8, 1 / 2, 2, 8, 32]
    lut = error_colors(2.0**np.linspace(-5, 5, 256))
    for x, value in ticks:
        err = np.zeros((1, 1, 2))
        err[0, 0, 0] = value
        want = flow_error_map(err, np.zeros((1, 1, 2)))[0, 0]
        got = band[8 + 10, x0 + x + (1 if x < bar_w - 1 else -1)]  # by the tick
        # same colour up to the bar's one-pixel sampling step
        idx = lambda c: int(np.abs(lut.astype(int) - c).sum(1).argmin())
        assert abs(idx(got) - idx(want)) <= 2, (value, got, want)
    # the labels are drawn (dark pixels below the bar)
    assert (band[50:, x0:x0 + bar_w] < 128).any()


def test_spring_double_resolution_gt_is_subsampled_like_the_loader():
    # Spring's 2x ground truth holds vectors in frame pixels: every 2nd
    # pixel, values unchanged, as LoadFlowPair(highres_gt='subsample') and
    # FlowMetric(mode='spring') read it
    gt2 = np.random.default_rng(0).normal(0, 3, (20, 30, 2))
    valid2 = np.ones((20, 30), bool)
    valid2[1, 1] = False
    gt, valid = match_resolution(gt2, valid2, (10, 15))
    assert gt.shape == (10, 15, 2) and valid.shape == (10, 15)
    assert np.array_equal(gt, gt2[::2, ::2])
    assert np.array_equal(valid, valid2[::2, ::2])
    same, _ = match_resolution(gt2, None, (20, 30))
    assert same is gt2
    with pytest.raises(ValueError, match='integer multiple'):
        match_resolution(np.zeros((21, 30, 2)), None, (10, 15))


def test_visualizer_writes_the_panel(tmp_path):
    sample = FlowDataSample()
    flow = torch.randn(2, 24, 32)
    sample.pred_flow_fw = PixelData(data=flow)
    sample.gt_flow_fw = PixelData(data=flow * 2)
    sample.gt_valid_fw = PixelData(data=torch.ones(1, 24, 32))
    vis = FlowLocalVisualizer(name='flow_vis_test')
    out = str(tmp_path / 'panel.png')
    drawn = vis.add_datasample('x', np.zeros((24, 32, 3), np.uint8), sample,
                               out_file=out)
    lay = PanelLayout.for_tile((24, 32))
    assert drawn.shape == (2 * lay.cell_hw[0] + lay.gap,
                           2 * lay.cell_hw[1] + lay.gap, 3)
    assert np.array_equal(cv2.imread(out)[..., ::-1], drawn)
    with pytest.raises(ValueError, match='pred_flow_fw'):
        vis.add_datasample('x', np.zeros((24, 32, 3), np.uint8),
                           FlowDataSample())


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """The demo flow model's random initial weights as a checkpoint."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(DEMO).model)
    model.init_weights()
    path = tmp_path_factory.mktemp('flow_ckpt') / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return str(path)


@pytest.mark.parametrize('mode', ['whole', 'tiled'])
def test_test_tool_prints_metrics_and_draws_each_pair(mode, random_checkpoint,
                                                      tmp_path):
    shared_data('flow', 'sintel_pair')
    shared_data('flow', 'kitti2012')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run(
        [sys.executable, 'tools/test.py', DEMO, random_checkpoint,
         '--work-dir', str(tmp_path), '--show-dir', str(tmp_path / 'vis'),
         '--cfg-options', f'model.test_cfg.mode={mode}'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    for key in ('EPE', '1px_outliers', 'Fl'):
        assert re.search(rf'{key}: \d+\.\d+', log), log[-2000:]
    pngs = sorted(glob.glob(str(tmp_path / 'vis' / '**' / '*.png'),
                            recursive=True))
    names = [osp.basename(p) for p in pngs]
    assert len(pngs) == 3, names  # the Sintel pair and two KITTI pairs
    assert any('sintel' in n or 'frame_0001' in n for n in names), names
    for png in pngs:
        # 2 x 2 titled tiles of the frame size (Sintel 1024x436, KITTI)
        h, w = cv2.imread(png).shape[:2]
        sizes = [(436, 1024), (376, 1241), (370, 1226)]
        lays = [PanelLayout.for_tile(hw) for hw in sizes]
        assert (h, w) in [(2 * lay.cell_hw[0] + lay.gap,
                           2 * lay.cell_hw[1] + lay.gap) for lay in lays], \
            (png, h, w)


def test_predict_flow_with_gt_writes_panel(tmp_path):
    root = shared_data('flow', 'sintel_pair')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run(
        [sys.executable, 'tools/predict_flow.py',
         osp.join(root, 'frame_0001.png'), osp.join(root, 'frame_0002.png'),
         '--config', DEMO, '--out-dir', str(tmp_path), '--gt',
         osp.join(root, 'frame_0001.flo'), '--device', 'cpu',
         '--random-weights'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    panel = cv2.imread(str(tmp_path / 'frame_0001_panel.png'))
    lay = PanelLayout.for_tile((436, 1024))
    assert panel.shape == (2 * lay.cell_hw[0] + lay.gap,
                           2 * lay.cell_hw[1] + lay.gap, 3)
    # the EPE is printed, and it is the EPE of the written .flo against
    # the ground truth, computed here with numpy
    pred, _ = read_flow(str(tmp_path / 'frame_0001.flo'))
    gt, _ = read_flow(osp.join(root, 'frame_0001.flo'))
    epe = np.linalg.norm(pred.astype(np.float64) - gt, axis=2)
    m = re.search(r'EPE (\d+\.\d+), 1px_outliers (\d+\.\d+)', out.stdout)
    assert m, out.stdout
    assert abs(float(m[1]) - epe.mean()) < 1e-3
    assert abs(float(m[2]) - 100 * (epe > 1).mean()) < 1e-3
    # --random-weights says so in one line, not one line per parameter
    assert 'random init' in out.stdout
    assert len((out.stdout + out.stderr).splitlines()) < 20, out.stdout


def test_panel_leaves_the_frame_untouched():
    frame = np.full((30, 40, 3), 7, np.uint8)
    flow_panel(frame, np.zeros((30, 40, 2)), np.ones((30, 40, 2)))
    assert np.all(frame == 7)


def test_two_process_test_accumulates_like_one(random_checkpoint, tmp_path):
    """``tools/dist_test.sh`` with 2 processes splits the 3 real pairs
    unevenly (2 + 1, the sampler pads one); FlowMetric's sums gathered from
    both ranks must give exactly the single-process EPE, 1px and Fl."""
    shared_data('flow', 'sintel_pair')
    shared_data('flow', 'kitti2012')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore',
               PYTHON=sys.executable,
               PORT=str(31500 + os.getpid() % 1000))
    scores = []
    for cmd in ([sys.executable, 'tools/test.py', DEMO, random_checkpoint],
                ['bash', 'tools/dist_test.sh', DEMO, random_checkpoint,
                 '2']):
        out = subprocess.run(
            cmd + ['--work-dir', str(tmp_path / str(len(scores)))],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        log = out.stdout + out.stderr
        assert out.returncode == 0, log[-3000:]
        scores.append(re.findall(r'(EPE|1px_outliers|Fl): (\d+\.\d+)',
                                 log))
    assert 'GPU number: 2' in log  # MMEngine's wording for the world size
    assert scores[0] and scores[0] == scores[1], scores
