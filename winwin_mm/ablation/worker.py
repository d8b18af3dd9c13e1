"""One job of the masking study, run in its own process: train a variant
(or load a checkpoint) and evaluate it in the job's test modes.

    python -m winwin_mm.ablation.worker JOB.json

``JOB.json`` (written by ``tools/ablate.py``)::

    {"config": "<variant config .py>", "out": "<metrics .json>",
     "desc": {"eval_modes": ["whole", ...], "tokens_per_image": K,
              "<mode>": {test_cfg of that mode}, ...},
     "time_budget": null | seconds,
     "load_from": null | "<checkpoint>: evaluate only"}

The metrics file: ``train_s``, ``iters``, ``iter_s_median``, ``peak_mb``
(:class:`winwin_mm.PeakMemoryHook`), ``start_mb``, ``memory``, ``ckpt_s``
({iteration: training seconds at that checkpoint}) and ``evals`` {mode:
{mIoU, aAcc, per_class_iou, mIoU_border, mIoU_centre, err_border,
err_centre, eval_s}}.
"""
import json
import statistics
import sys
import time
from typing import Dict


def eval_record(metrics: Dict[str, float], eval_s: float) -> dict:
    """``StudyIoUMetric``'s flat metrics -> the study's per-mode record."""
    def num(v):
        return round(float(v), 2)

    rec = dict(mIoU=num(metrics['mIoU']), aAcc=num(metrics['aAcc']),
               eval_s=round(eval_s, 1), per_class_iou={})
    for k, v in metrics.items():
        if k.startswith('IoU.'):
            rec['per_class_iou'][k[4:]] = num(v)
        elif k.split('_')[0] in ('mIoU', 'err') and '_' in k:
            rec[k] = num(v)
    return rec


def run_job(job: dict) -> dict:
    import torch
    from mmengine.config import Config, ConfigDict
    from mmengine.runner import Runner

    import winwin_mm  # noqa: F401
    from winwin_mm.engine import IterTimeHook, PeakMemoryHook, TimeBudgetHook
    from winwin_mm.utils.launch import run_without_cuda

    cfg = Config.fromfile(job['config'])
    if not torch.cuda.is_available():
        run_without_cuda(cfg)
    desc = job['desc']
    result = dict(tokens_per_image=desc['tokens_per_image'])
    if job.get('load_from'):
        cfg.load_from = job['load_from']
    runner = Runner.from_cfg(cfg)
    if not job.get('load_from'):
        memory, times = PeakMemoryHook(), IterTimeHook()
        runner.register_hook(memory)
        runner.register_hook(times)
        if job.get('time_budget'):
            runner.register_hook(TimeBudgetHook(job['time_budget']))
        t0 = time.time()
        runner.train()
        every = cfg.default_hooks.checkpoint.interval
        run = 0.
        ckpt_s = {}
        for i, t in enumerate(times.times, 1):
            run += t
            if i % every == 0 or i == len(times.times):
                ckpt_s[str(i)] = round(run, 2)
        result.update(
            train_s=round(time.time() - t0, 1), iters=runner.iter,
            iter_s_median=round(statistics.median(times.times), 4)
            if times.times else None,
            peak_mb=round(memory.peak_mb, 1),
            start_mb=round(memory.start_mb, 1), memory=memory.device,
            ckpt_s=ckpt_s)
    model = runner.model.module if hasattr(runner.model, 'module') \
        else runner.model
    evals = {}
    for mode in desc['eval_modes']:
        model.test_cfg = ConfigDict(desc.get(mode, dict(mode='whole')))
        t0 = time.time()
        metrics = runner.val() if job.get('load_from') else \
            runner.val_loop.run()
        evals[mode] = eval_record(metrics, time.time() - t0)
    result['evals'] = evals
    with open(job['out'], 'w') as f:
        json.dump(result, f, indent=1)
    return result


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit('usage: python -m winwin_mm.ablation.worker '
                         'JOB.json')
    with open(argv[0]) as f:
        run_job(json.load(f))


if __name__ == '__main__':
    main()
