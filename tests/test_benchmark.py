"""Speed/memory benchmark: schema of a tiny run, FLOP formula, tiling, errors.

Times are not checked (they depend on the machine); the tiny run takes a few
seconds on one CPU thread.
"""
import importlib.util
import json
import math
import os.path as osp

import pytest
import torch

from winwin_mm.benchmark import (BenchmarkSetupError, BenchSettings,
                                 build_bench, count_flops, parse_size,
                                 tile_grid, tile_starts, vit_encoder_flops,
                                 vit_layer_flops)
from winwin_mm.windows import window_side_from_fraction

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CASES = ('fullres_train', 'winwin_train', 'crop_train', 'whole_infer',
         'tiled_infer', 'tiled_infer_0.9')


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(ROOT, 'tools', 'benchmark.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


def test_tiny_run_schema(tool, tmp_path):
    out = tmp_path / 'bench.json'
    threads = torch.get_num_threads()
    try:
        tool.main([
            '--task', 'seg', '--arch', 'vit-ti', '--size', '64x128',
            '--head-channels', '8', '--steps', '1', '--warmup', '0',
            '--isolate', 'never', '--threads', '1', '--tile-batch', '128',
            '--json', str(out)
        ])
    finally:
        torch.set_num_threads(threads)
    doc = json.loads(out.read_text())
    for key, typ in (('device', str), ('torch', str), ('task', str),
                     ('arch', str), ('dtype', str), ('results', dict)):
        assert isinstance(doc[key], typ), key
    assert doc['task'] == 'seg' and doc['arch'] == 'vit-ti'
    assert doc['size'] == [64, 128] and doc['dtype'] == 'fp32'
    assert set(doc['results']) == set(CASES)
    grid = (64 // 16, 128 // 16)
    side = window_side_from_fraction(grid, 2, 0.27)
    crop = math.isqrt(2 * side * side)
    for name, row in doc['results'].items():
        assert set(row) == {'ms_median', 'ms_min', 'ms_max', 'peak_mb',
                            'tokens', 'gflops', 'tiles'}, name
        for k in ('ms_median', 'ms_min', 'ms_max', 'peak_mb', 'gflops'):
            assert isinstance(row[k], float), (name, k)
        assert isinstance(row['tokens'], int)
        assert row['ms_min'] <= row['ms_median'] <= row['ms_max']
        assert row['gflops'] > 0
        if name.startswith('tiled_infer'):
            assert isinstance(row['tiles'], int) and row['tiles'] > 1
            assert row['tokens'] == row['tiles'] * crop * crop
        else:
            assert row['tiles'] is None
    res = doc['results']
    assert res['fullres_train']['tokens'] == grid[0] * grid[1]
    assert res['whole_infer']['tokens'] == grid[0] * grid[1]
    assert res['winwin_train']['tokens'] == 2 * side * side
    assert res['crop_train']['tokens'] == crop * crop
    assert res['tiled_infer_0.9']['tiles'] > res['tiled_infer']['tiles']
    assert res['fullres_train']['gflops'] > res['winwin_train']['gflops']
    assert doc['windows']['side'] == side
    assert 'fullres_train/winwin_train' in doc['ratios']
    assert 'tiled_infer_0.9/whole_infer' in doc['ratios']
    assert osp.isfile(str(out)[:-len('.json')] + '.png')


def test_tiny_flow_run(tool, tmp_path):
    """--task flow runs the binocular WinWinFlow on (B, 6, H, W) inputs."""
    from winwin_mm.models import flow
    if not hasattr(flow, 'WinWinFlow'):
        pytest.skip('flow model not available yet')
    out = tmp_path / 'flow.json'
    threads = torch.get_num_threads()
    try:
        tool.main([
            '--task', 'flow', '--arch', 'vit-ti', '--size', '64x128',
            '--head-channels', '8', '--steps', '1', '--warmup', '0',
            '--isolate', 'never', '--threads', '1', '--overlaps', '0.5',
            '--cases', 'winwin_train', 'whole_infer', 'tiled_infer',
            '--json', str(out)
        ])
    finally:
        torch.set_num_threads(threads)
    doc = json.loads(out.read_text())
    assert doc['task'] == 'flow'
    assert set(doc['results']) == {'winwin_train', 'whole_infer',
                                   'tiled_infer'}
    assert doc['results']['whole_infer']['tokens'] == 4 * 8
    assert doc['results']['tiled_infer']['tiles'] > 1


def test_paper_budget_geometry():
    bench = build_bench(BenchSettings(task='seg', arch='vit-b',
                                      size=(720, 1280)))
    assert bench.grid == (45, 80) and bench.side == 22
    assert bench.crop_side == 31 and bench.tile == (496, 496)
    assert len(bench.tiling['tiled_infer']['corners']) == 3 * 7
    assert bench.tiling['tiled_infer']['stride'] == (148, 148)


def test_layer_flops_formula():
    # DESIGN.md 4: a ViT-B layer at 3600 vs 968 tokens: 90.8 vs 16.6 GFLOPs
    assert vit_layer_flops(3600, 768) / 1e9 == pytest.approx(90.8, abs=0.05)
    assert vit_layer_flops(968, 768) / 1e9 == pytest.approx(16.6, abs=0.05)
    n, c = 100, 64
    assert vit_layer_flops(n, c) == 24 * n * c * c + 4 * n * n * c


def test_encoder_formula_matches_flop_counter():
    """The analytic count equals torch's FLOP counter on the real RoPEViT
    (meta device): matmuls, convolution and SDPA."""
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


def test_tiles_flush_with_border():
    assert tile_starts(720, 496, 148) == [0, 148, 224]
    assert tile_starts(100, 200, 10) == [0]
    corners, stride = tile_grid((720, 1280), (496, 496), 0.9)
    assert stride == (49, 49)
    ys = sorted({y for y, _ in corners})
    xs = sorted({x for _, x in corners})
    assert ys[-1] == 720 - 496 and xs[-1] == 1280 - 496
    assert all(b - a <= 49 for a, b in zip(xs, xs[1:]))


def test_parse_size():
    assert parse_size('720x1280') == (720, 1280)
    for bad in ('720', '720by1280', '0x10', 'axb'):
        with pytest.raises(BenchmarkSetupError, match='HEIGHTxWIDTH'):
            parse_size(bad)


@pytest.mark.parametrize('argv, match', [
    (['--size', '720-1280'], 'HEIGHTxWIDTH'),
    (['--dtype', 'fp16'], 'not supported on CPU'),
    (['--dtype', 'int8'], 'Unsupported --dtype'),
    (['--task', 'flow'], 'flow model not available yet'),
    (['--task', 'depth'], 'Unknown --task'),
    (['--batch-size', '1'], 'at least 2'),
    (['--size', '32x32'], 'too small'),
])
def test_clear_errors(tool, tmp_path, monkeypatch, argv, match):
    if argv[:2] == ['--task', 'flow']:  # simulate the model being absent
        from winwin_mm.models import flow
        monkeypatch.delattr(flow, 'WinWinFlow', raising=False)
    with pytest.raises(SystemExit, match=match):
        tool.main(argv + ['--json', str(tmp_path / 'x.json')])


@pytest.mark.skipif(torch.cuda.is_available(), reason='machine has CUDA')
def test_cuda_without_gpu(tool, tmp_path):
    with pytest.raises(SystemExit, match='--device cpu'):
        tool.main(['--device', 'cuda', '--json', str(tmp_path / 'x.json')])


def test_prime_optimizer_creates_state():
    from winwin_mm.benchmark.cases import prime_optimizer
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters())
    prime_optimizer(model, opt)
    assert len(opt.state) == 4
    assert all(p.grad is None for p in model.parameters())
