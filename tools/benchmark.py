"""Speed and memory benchmark: Win-Win vs full-resolution and crop training,
whole-image vs tiled inference, on the models of the repository's configs.

    python tools/benchmark.py --task seg [--arch vit-b] [--size 720x1280]
        [--device cpu|cuda] [--dtype fp32|bf16] [--compile] [--steps 30]
        [--warmup 2] --json OUT.json

Cases (winwin_mm/benchmark/settings.py): fullres_train, winwin_train,
crop_train (the model's train_step with the config's optimizer wrapper),
whole_infer, tiled_infer (the model's test_step with the config's test_cfg:
whole, slide / tiled). Writes OUT.json (layout in
winwin_mm/benchmark/report.py), OUT.png (bar chart) and prints markdown
tables (times, FLOP rate, syncs, kernel launches, graph breaks, component
split, ratios). Partial results are saved after every case.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from winwin_mm.benchmark.hardware import SDPA_CHOICES  # noqa: E402
from winwin_mm.utils.validation import positive_int  # noqa: E402
from winwin_mm.benchmark.report import (markdown_table, plot_path,  # noqa
                                        save_plot, write_json)
from winwin_mm.benchmark.runner import run_benchmark  # noqa: E402
from winwin_mm.benchmark.settings import (ARCHS, CASES,  # noqa: E402
                                          BenchmarkSetupError, BenchSettings,
                                          parse_size)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description='Win-Win speed and memory benchmark',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--task', default='seg', help='seg or flow')
    p.add_argument('--arch', default='vit-b', choices=sorted(ARCHS),
                   help='encoder size (flow: the decoder follows it)')
    p.add_argument('--size', default=None,
                   help='HEIGHTxWIDTH in pixels (default: 720x1280 for seg, '
                   '1080x1920 for flow)')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    p.add_argument('--dtype', default='fp32',
                   help='fp32, bf16 (autocast) or fp16 (autocast, CUDA only)')
    p.add_argument('--compile', action='store_true',
                   help='torch.compile the forward of encoder/decoder, neck '
                   'and heads; reports graph breaks')
    p.add_argument('--compile-backend', default='inductor',
                   help="torch.compile backend; 'eager' captures the graphs "
                   '(same graph breaks) without code generation, which is '
                   'slow on CPU')
    p.add_argument('--steps', type=positive_int, default=30,
                   help='timed steps per case (p10/p50/p90 over them)')
    p.add_argument('--warmup', type=int, default=2,
                   help='untimed steps per case after the probe step')
    p.add_argument('--batch-size', type=positive_int, default=2,
                   help='training images (pairs) per step; seg needs >= 2 '
                   '(BN in UPerHead)')
    p.add_argument('--infer-batch-size', type=positive_int, default=1,
                   help='images per inference step')
    p.add_argument('--head-channels', type=positive_int, default=None,
                   help="head width (seg: UPerHead channels, flow: DPT "
                   "features; default: the config's); shrink for tiny runs")
    p.add_argument('--num-classes', type=positive_int, default=None,
                   help="seg classes (default: the config's)")
    p.add_argument('--num-windows', type=positive_int, default=None,
                   help="Win-Win windows (default: the config's)")
    p.add_argument('--token-fraction', type=float, default=0.27,
                   help='share of the tokens the windows keep together')
    p.add_argument('--window-side', type=positive_int, default=None,
                   help='window side in patches (overrides --token-fraction)')
    p.add_argument('--tile-size', default=None,
                   help="HEIGHTxWIDTH of the tiles of tiled_infer (default: "
                   "the tiled config's crop_size)")
    p.add_argument('--overlap', type=float, default=None,
                   help="tile overlap of tiled_infer (default: the tiled "
                   "config's; seg: stride = round(tile * (1 - overlap)))")
    p.add_argument('--tile-batch', type=positive_int, default=None,
                   help="flow tiles per forward pass (default: the config's)")
    p.add_argument('--cases', nargs='+', default=None, choices=CASES,
                   help='run only these cases')
    p.add_argument('--no-shuffle', action='store_true',
                   help='run the cases in the listed order, not shuffled')
    p.add_argument('--sdpa', default='auto', choices=SDPA_CHOICES,
                   help='attention backend (auto: first of flash, efficient, '
                   'cudnn, math that runs)')
    p.add_argument('--isolate', default='auto',
                   choices=['auto', 'always', 'never'],
                   help='run each case in a fresh subprocess (auto: on CPU, '
                   'where it makes the RSS peak exact)')
    p.add_argument('--threads', type=positive_int, default=None,
                   help='torch CPU threads (default: torch default); 1 avoids '
                   'OpenMP stalls on a busy machine for tiny models')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', required=True, help='output JSON path')
    return p


def settings_from_args(args) -> BenchSettings:
    return BenchSettings(
        task=args.task, arch=args.arch,
        size=parse_size(args.size) if args.size is not None else None,
        device=args.device, dtype=args.dtype, compile=args.compile,
        compile_backend=args.compile_backend,
        steps=args.steps, warmup=args.warmup, batch_size=args.batch_size,
        infer_batch_size=args.infer_batch_size,
        head_channels=args.head_channels, num_classes=args.num_classes,
        num_windows=args.num_windows, token_fraction=args.token_fraction,
        window_side=args.window_side,
        tile_size=(parse_size(args.tile_size, '--tile-size')
                   if args.tile_size else None),
        overlap=args.overlap, tile_batch=args.tile_batch,
        cases=tuple(args.cases) if args.cases else None, sdpa=args.sdpa,
        isolate=args.isolate, seed=args.seed, threads=args.threads,
        shuffle=not args.no_shuffle)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    out_dir = os.path.dirname(os.path.abspath(args.json))
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    try:
        report = run_benchmark(settings_from_args(args),
                               on_case=lambda r: write_json(r, args.json))
    except BenchmarkSetupError as e:
        raise SystemExit(f'benchmark: {e}') from None
    write_json(report, args.json)
    png = save_plot(report, plot_path(args.json))
    print(markdown_table(report))
    print(f'\nwrote {args.json} and {png} '
          f'({time.perf_counter() - t0:.0f} s)')
    if report['errors']:
        raise SystemExit(f"benchmark: {len(report['errors'])} case(s) "
                         f"failed: {sorted(report['errors'])}")
    return report


if __name__ == '__main__':
    main()
