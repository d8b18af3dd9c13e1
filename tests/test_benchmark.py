"""Speed/memory benchmark: cases built from the configs, the model's own
tiling, the component split, sync / graph-break counting, FLOP formula,
errors.

Times are not checked (they depend on the machine); the tiny runs take a
few seconds each on one CPU thread.
"""
import importlib.util
import json
import os.path as osp
import time

import pytest
import torch

from winwin_mm.benchmark.batches import make_batches
from winwin_mm.benchmark.cases import build_case, geometry, load_config
from winwin_mm.benchmark.flops import (count_flops, vit_encoder_flops,
                                       vit_layer_flops)
from winwin_mm.benchmark.profiling import (HeadPassCounter, StepTimer,
                                           record_graph_breaks, split_syncs)
from winwin_mm.benchmark.runner import repo_root
from winwin_mm.benchmark.settings import (CASES, BenchmarkSetupError,
                                          BenchSettings, parse_size)
from winwin_mm.registry import TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ROW_KEYS = {'ms_p10', 'ms_p50', 'ms_p90', 'ms_median', 'ms_min', 'ms_max',
            'peak_mb', 'tokens', 'gflops', 'tiles', 'tflops', 'mfu',
            'breakdown_ms', 'syncs_per_step', 'launches_per_step',
            'graph_breaks'}
PARTS = {'data/checks', 'encoder', 'neck+head', 'loss', 'backward',
         'optimizer', 'postprocess'}
CPU = torch.device('cpu')


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(ROOT, 'tools', 'benchmark.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


def _run(tool, argv):
    threads = torch.get_num_threads()
    try:
        return tool.main(argv + ['--isolate', 'never', '--threads', '1'])
    finally:
        torch.set_num_threads(threads)


def test_tiny_seg_run_schema(tool, tmp_path):
    out = tmp_path / 'bench.json'
    _run(tool, [
        '--task', 'seg', '--arch', 'vit-ti', '--size', '64x128',
        '--head-channels', '8', '--steps', '1', '--warmup', '0',
        '--tile-size', '32x64', '--overlap', '0.5', '--json', str(out)])
    doc = json.loads(out.read_text())
    assert doc['task'] == 'seg' and doc['arch'] == 'vit-ti'
    assert doc['size'] == [64, 128] and doc['dtype'] == 'fp32'
    assert set(doc['results']) == set(CASES)
    assert sorted(doc['case_order']) == sorted(CASES)
    geo = doc['windows']
    for name, row in doc['results'].items():
        assert set(row) == ROW_KEYS, name
        assert row['ms_p10'] <= row['ms_p50'] <= row['ms_p90'], name
        assert row['gflops'] > 0 and row['peak_mb'] > 0, name
        assert row['launches_per_step'] is None  # CPU
        assert row['graph_breaks'] is None and row['mfu'] is None
        assert row['tflops'] == pytest.approx(
            row['gflops'] * doc['batch_size'][
                'train' if name.endswith('train') else 'infer']
            / row['ms_p50'])
        parts = row['breakdown_ms']
        assert set(parts) == PARTS
        assert parts['encoder'] > 0 and parts['neck+head'] > 0
        train = name.endswith('_train')
        assert (parts['backward'] is not None) == train
        assert (parts['postprocess'] is None) == train
        info = doc['case_info'][name]
        assert info['config'].startswith('configs/')
        if train:
            assert info['optimizer']['optimizer'] == 'AdamW'
    res = doc['results']
    assert res['fullres_train']['tokens'] == 4 * 8
    assert res['winwin_train']['tokens'] == 2 * geo['side'] ** 2
    assert res['crop_train']['tokens'] == geo['crop_side'] ** 2
    # MMSegmentation's slide: 32x64 tiles, stride 16x32 on 64x128 = 3 x 3
    assert res['tiled_infer']['tiles'] == 9
    assert res['whole_infer']['tiles'] is None
    assert res['fullres_train']['gflops'] > res['winwin_train']['gflops']
    assert res['tiled_infer']['gflops'] > res['whole_infer']['gflops']
    # the windows' heads: B*N head images per step, one per whole image
    assert doc['case_info']['winwin_train']['head_images'] == 2
    assert doc['case_info']['whole_infer']['head_images'] == 1
    assert doc['case_info']['crop_train']['windows']['num_windows'] == 1
    assert 'fullres_train/winwin_train' in doc['ratios']
    assert osp.isfile(str(out)[:-len('.json')] + '.png')


def _tile_starts(length, tile, stride):
    """Hand rule of WinWinFlow's tiling: every ``stride``, the last tile
    flush with the border."""
    return sorted(set(list(range(0, length - tile, stride)) +
                      [length - tile]))


def test_flow_tiles_are_the_models_at_full_hd():
    """At 1080x1920 with the tiled config's 368x496 tiles at overlap 0.9 the
    benchmark's tiled case runs the model's own tiling: 21 x 30 = 630 tiles
    (the old re-implementation counted 651). Run on the meta device: shapes
    only, no arithmetic."""
    s = BenchSettings(task='flow', arch='vit-ti', size=(1080, 1920),
                      head_channels=8, tile_batch=640).check()
    case = build_case(s, 'tiled_infer', torch.device('meta'), repo_root())
    cfg = case.info['test_cfg']
    assert cfg['mode'] == 'tiled' and cfg['crop_size'] == [368, 496]
    assert cfg['overlap'] == 0.9 and cfg['tile_batch'] == 640
    heads = HeadPassCounter(case.model.head)
    case.step()
    heads.remove()
    ys = _tile_starts(1080, 368, round(368 * 0.1))
    xs = _tile_starts(1920, 496, round(496 * 0.1))
    assert len(ys) * len(xs) == 630
    assert heads.images == 630
    assert heads.calls == 1


def test_flow_tiled_case_merges_like_the_model(tool, tmp_path):
    """The benchmark's tiled step returns the model's own tiled prediction:
    the confidence-weighted average of the tiles' flows, recomputed here
    tile by tile at hand-listed positions; and the tool reports that many
    tiles."""
    s = BenchSettings(task='flow', arch='vit-ti', size=(64, 96),
                      head_channels=8, tile_size=(32, 48),
                      overlap=0.5).check()
    case = build_case(s, 'tiled_infer', CPU, repo_root())
    model = case.model
    heads = HeadPassCounter(model.head)
    with torch.no_grad():
        pred = case.step()[0].pred_flow_fw.data
        heads.remove()
        # the step's (first) batch again, normalised like the step did
        cfg = load_config(s, 'tiled_infer', repo_root())
        batches, _ = make_batches(s, cfg, 'tiled_infer', geometry(s, cfg),
                                  TRANSFORMS)
        x = model.data_preprocessor(batches[0], False)['inputs']
        ys, xs = _tile_starts(64, 32, 16), _tile_starts(96, 48, 24)
        assert (ys, xs) == ([0, 16, 32], [0, 24, 48])
        acc = torch.zeros(2, 64, 96)
        wsum = torch.zeros(1, 64, 96)
        for y in ys:
            for x0 in xs:
                out = model.forward_flow(x[:, :, y:y + 32, x0:x0 + 48])
                w = model.confidence_weight(out[:, 2:3])[0]
                acc[:, y:y + 32, x0:x0 + 48] += out[0, :2] * w
                wsum[:, y:y + 32, x0:x0 + 48] += w
    assert heads.images == 9
    torch.testing.assert_close(pred, acc / wsum, rtol=1e-5, atol=1e-5)
    # and the tool counts the same tiles
    out = tmp_path / 'flow.json'
    _run(tool, [
        '--task', 'flow', '--arch', 'vit-ti', '--size', '64x96',
        '--head-channels', '8', '--steps', '1', '--warmup', '0',
        '--tile-size', '32x48', '--overlap', '0.5',
        '--cases', 'winwin_train', 'tiled_infer', '--json', str(out)])
    doc = json.loads(out.read_text())
    assert doc['results']['tiled_infer']['tiles'] == 9
    assert doc['results']['winwin_train']['breakdown_ms']['backward'] > 0
    assert doc['case_info']['winwin_train']['config'] == \
        'configs/winwin_vitb_sintel.py'


def test_component_split_adds_up():
    """Per step, the parts of StepTimer add up to the step's wall time, and
    each of them is positive where the step does that work."""
    s = BenchSettings(task='seg', arch='vit-ti', size=(64, 128),
                      head_channels=8).check()
    case = build_case(s, 'winwin_train', CPU, repo_root())
    case.step()
    timer = StepTimer(case.model, case.groups, CPU, case.optim_wrapper)
    t0 = time.perf_counter()
    timer.start()
    case.step()
    parts = timer.stop()
    wall = (time.perf_counter() - t0) * 1e3
    timer.remove()
    for k in ('data/checks', 'encoder', 'neck+head', 'loss', 'backward',
              'optimizer'):
        assert parts[k] > 0, k
    total = sum(v for v in parts.values() if v is not None)
    assert total == pytest.approx(wall, rel=0.02, abs=1.)
    assert 'forward' not in vars(case.model.backbone)  # hooks removed
    assert 'backward' not in vars(case.optim_wrapper)


def test_models_come_from_the_configs():
    """The seg cases are the configs' models with the --arch override: the
    paper geometry at 720x1280 is the configs' own (windows of 22, crop of
    31 patches)."""
    s = BenchSettings(task='seg', arch='vit-b', size=(720, 1280)).check()
    cfg = load_config(s, 'winwin_train', repo_root())
    geo = geometry(s, cfg)
    assert geo.grid == (45, 80) and geo.side == 22 and geo.crop_side == 31
    win = [t for t in cfg.train_pipeline
           if t['type'].endswith('RandomWindows')][0]
    assert win['window_size'] == geo.side
    crop = load_config(s, 'crop_train', repo_root())
    win = [t for t in crop.train_pipeline
           if t['type'].endswith('RandomWindows')][0]
    assert (win['num_windows'], win['window_size']) == (1, geo.crop_side)
    slide = load_config(s, 'tiled_infer', repo_root()).model.test_cfg
    assert slide.mode == 'slide' and tuple(slide.crop_size) == (496, 496)
    ti = load_config(BenchSettings(task='seg', arch='vit-ti'),
                     'fullres_train', repo_root())
    assert ti.model.backbone.arch == 'ti'
    assert ti.model.neck.in_channels == [192] * 4
    assert ti.model.decode_head.norm_cfg['type'] == 'BN'


def test_syncs_split_model_and_optimizer():
    """The optimizer's host reads (AdamW's step counters) are told apart
    from the model's own syncs (here a boolean-mask index)."""
    from winwin_mm.utils.profiling import find_device_syncs
    from mmengine.optim import build_optim_wrapper
    lin = torch.nn.Linear(3, 2)
    ow = build_optim_wrapper(lin, dict(optimizer=dict(type='AdamW', lr=1.)))
    x = torch.randn(4, 3)

    def step():
        y = lin(x)
        loss = y[y > -100].sum()  # boolean mask: one sync
        ow.update_params(loss)

    step()
    split = split_syncs(find_device_syncs(step))
    assert sum(split['model'].values()) == 1, split
    assert 'boolean index' in next(iter(split['model']))
    assert sum(split['optimizer'].values()) >= 1, split


def test_graph_break_counter():
    def with_item(t):
        return t * float(t.sum().item())

    def clean(t):
        return (t * t.sum()).relu()

    t = torch.ones(4)
    for fn, breaks in ((clean, 0), (with_item, 1)):
        torch._dynamo.reset()
        with record_graph_breaks() as out:
            torch.compile(fn, backend='eager')(t)
        assert (out['graph_breaks'] >= 1) == bool(breaks), out
        assert bool(out['reasons']) == bool(breaks)
        assert any('with_item' in k for k in out['locations']) == \
            bool(breaks), out['locations']


def test_layer_flops_formula():
    # a ViT-B layer at 3600 vs 968 tokens: 90.8 vs 16.6 GFLOPs
    assert vit_layer_flops(3600, 768) / 1e9 == pytest.approx(90.8, abs=0.05)
    assert vit_layer_flops(968, 768) / 1e9 == pytest.approx(16.6, abs=0.05)
    n, c = 100, 64
    assert vit_layer_flops(n, c) == 24 * n * c * c + 4 * n * n * c


def test_encoder_formula_matches_flop_counter():
    """The analytic count equals torch's FLOP counter (what the benchmark
    reports) on the real RoPEViT (meta device): matmuls, convolution and
    SDPA."""
    from winwin_mm.models import RoPEViT
    vit = RoPEViT(arch=dict(embed_dims=64, num_layers=2, num_heads=2),
                  out_indices=(1, )).to('meta').eval()
    x = torch.empty(1, 3, 64, 96, device='meta')
    counted = count_flops(lambda: vit(x))
    n = 4 * 6
    assert counted == vit_encoder_flops([(1, n)], 64, 2, embedded_tokens=n)
    boxes = torch.tensor([[[0, 0, 2, 2], [2, 3, 4, 5]]])
    counted = count_flops(lambda: vit(x, windows=boxes))
    assert counted == vit_encoder_flops([(1, 8)], 64, 2, embedded_tokens=n)


def test_parse_size():
    assert parse_size('720x1280') == (720, 1280)
    for bad in ('720', '720by1280', '0x10', 'axb'):
        with pytest.raises(BenchmarkSetupError, match='HEIGHTxWIDTH'):
            parse_size(bad)


@pytest.mark.parametrize('argv, match', [
    (['--size', '720-1280'], 'HEIGHTxWIDTH'),
    (['--tile-size', '10'], '--tile-size must be HEIGHTxWIDTH'),
    (['--dtype', 'fp16'], 'not supported on CPU'),
    (['--dtype', 'int8'], 'Unsupported --dtype'),
    (['--task', 'depth'], 'Unknown --task'),
    (['--batch-size', '1'], 'at least 2'),
    (['--size', '32x32'], 'too small'),
    (['--overlap', '1.5'], r'--overlap must be in \[0, 1\)'),
    (['--size', '64x64', '--window-side', '3'], 'Cannot place'),
])
def test_clear_errors(tool, tmp_path, argv, match):
    with pytest.raises(SystemExit, match=match):
        tool.main(argv + ['--json', str(tmp_path / 'x.json')])


@pytest.mark.skipif(torch.cuda.is_available(), reason='machine has CUDA')
def test_cuda_without_gpu(tool, tmp_path):
    with pytest.raises(SystemExit, match='--device cpu'):
        tool.main(['--device', 'cuda', '--json', str(tmp_path / 'x.json')])
