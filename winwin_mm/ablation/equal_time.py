"""The equal-time view of the masking study: what each variant reaches
within the training time of the cheapest one, read from the checkpoints
every run saved (``tools/ablate.py --equal-time K``)."""
import os.path as osp
import statistics
from typing import Callable, Dict, List


def train_seconds(job: dict) -> float:
    """Training seconds of a finished run (sum of its iteration times)."""
    ckpt_s = job['result']['ckpt_s']
    return ckpt_s[max(ckpt_s, key=int)]


def budget(jobs: List[dict]) -> tuple:
    """(cheapest variant, its mean training seconds over seeds)."""
    per: Dict[str, List[float]] = {}
    for j in jobs:
        per.setdefault(j['variant'], []).append(train_seconds(j))
    name = min(per, key=lambda v: statistics.fmean(per[v]))
    return name, statistics.fmean(per[name])


def last_checkpoint_within(ckpt_s: Dict[str, float], seconds: float):
    """Latest logged checkpoint iteration reached within ``seconds``."""
    inside = [int(i) for i, s in ckpt_s.items() if s <= seconds * 1.001]
    return max(inside) if inside else None


def equal_time_jobs(jobs: List[dict], variants: dict,
                    write_job: Callable) -> List[dict]:
    """Evaluation jobs for the checkpoints at the cheapest variant's time
    (none when a run's checkpoint there is its final one, already
    evaluated)."""
    _, seconds = budget(jobs)
    extra = []
    for j in jobs:
        it = last_checkpoint_within(j['result']['ckpt_s'], seconds)
        j['equal_time_iter'] = it
        if it is None or it == j['result']['iters']:
            continue
        ckpt = osp.join(j['wd'], f'iter_{it}.pth')
        if not osp.isfile(ckpt):
            raise FileNotFoundError(
                f'{ckpt} is gone: the equal-time view needs every logged '
                'checkpoint (--equal-time K keeps K of them).')
        cfg, desc = variants[j['variant']]
        e = write_job(j['wd'], cfg, dict(desc, eval_modes=['whole']),
                      load_from=ckpt, tag=f'_iter{it}')
        extra.append(dict(e, name=f'{j["name"]}@{it}', run=j, iter=it))
    return extra


def equal_time(jobs: List[dict], extra: List[dict]) -> dict:
    """Summary: per variant the mean over seeds of the iteration, training
    seconds and whole-image mIoU at the cheapest variant's time."""
    import json
    cheapest, seconds = budget(jobs)
    evals = {}
    for e in extra:
        with open(e['out']) as f:
            evals[id(e['run'])] = (e['iter'],
                                   json.load(f)['evals']['whole']['mIoU'])
    per: Dict[str, list] = {}
    for j in jobs:
        it = j.get('equal_time_iter')
        if it is None:
            continue
        if id(j) in evals:
            it, miou = evals[id(j)]
        elif it == j['result']['iters']:
            miou = j['result']['evals']['whole']['mIoU']
        else:
            raise ValueError(f'{j["name"]}: no evaluation of its checkpoint '
                             f'at iteration {it} among the equal-time jobs.')
        per.setdefault(j['variant'], []).append(
            (it, j['result']['ckpt_s'][str(it)], miou))
    out = {}
    for v, rows in per.items():
        out[v] = dict(iters=statistics.fmean(r[0] for r in rows),
                      train_s=round(statistics.fmean(r[1] for r in rows), 1),
                      mIoU=round(statistics.fmean(r[2] for r in rows), 2),
                      seeds=len(rows))
    return dict(cheapest=cheapest, budget_s=round(seconds, 1), variants=out)
