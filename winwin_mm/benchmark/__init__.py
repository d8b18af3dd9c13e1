"""Speed and memory benchmark of Win-Win training against full-resolution
training, crop training and whole-image vs tiled inference.

The command line is ``tools/benchmark.py``; this package holds the cases
(:mod:`.cases`), the analytic FLOP counts (:mod:`.flops`) and the report
(:mod:`.report`).
"""
from .cases import (ARCHS, CASE_DOC, TASK_BUILDERS, BenchmarkSetupError,
                    BenchSettings, CasePlan, build_bench, build_flow_case,
                    build_seg_case, parse_size, run_benchmark, tile_grid,
                    tile_starts)
from .flops import (count_flops, patch_embed_flops, vit_encoder_flops,
                    vit_layer_flops)
from .report import add_ratios, markdown_table, plot_path, save_plot

__all__ = [
    'ARCHS', 'CASE_DOC', 'TASK_BUILDERS', 'BenchmarkSetupError',
    'BenchSettings', 'CasePlan', 'build_bench', 'build_flow_case',
    'build_seg_case', 'parse_size', 'run_benchmark', 'tile_grid',
    'tile_starts', 'count_flops', 'patch_embed_flops', 'vit_encoder_flops',
    'vit_layer_flops', 'add_ratios', 'markdown_table', 'plot_path',
    'save_plot'
]
