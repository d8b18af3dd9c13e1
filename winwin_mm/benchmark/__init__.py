"""Speed and memory benchmark of Win-Win training against full-resolution
and crop training, and of whole-image against tiled inference, on the
models of the repository's configs (``tools/benchmark.py``).

Modules: :mod:`.settings` (what is measured), :mod:`.cases` (models, data
and steps from the configs), :mod:`.hardware` (device, dtype, attention
backend, bf16 peaks), :mod:`.profiling` (component split, syncs, kernel
launches, graph breaks), :mod:`.memory` (peak memory on CPU and CUDA, also
used by ``tools/ablate.py``), :mod:`.flops` (analytic FLOP formulas),
:mod:`.runner` (measurement) and :mod:`.report` (JSON, table, plot).
Import what you need from the submodules; importing this package loads
nothing heavy.
"""
