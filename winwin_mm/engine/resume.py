"""What ``--resume`` resumes from: the newest complete checkpoint of the work
dir, whatever ``last_checkpoint`` says, or a clear error naming the work dir
and what it holds.

A checkpoint is complete when its zip archive (``torch.save``'s format)
opens and holds the pickle record: a file cut short by a kill lacks the
central directory at its end. ``*.partial`` files (written by
``AtomicCheckpointHook``) are never candidates.
"""
import glob
import logging
import os.path as osp
import re
import zipfile
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log

from winwin_mm.registry import HOOKS

STEP = re.compile(r'(iter|epoch)_(\d+)\.pth$')


class NothingToResume(SystemExit):
    """``--resume`` found no usable checkpoint (the message says why)."""


def is_complete(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith('data.pkl') for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _step(path: str) -> int:
    m = STEP.match(osp.basename(path))
    return int(m.group(2)) if m else -1


def _read_last(work_dir: str) -> Tuple[Optional[str], str]:
    """(path last_checkpoint names or None, what it says, in words)."""
    save_file = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(save_file):
        return None, 'no last_checkpoint file'
    with open(save_file) as f:
        name = f.read().strip()
    if not name:
        return None, 'an empty last_checkpoint'
    if '://' in name:
        return name, f'last_checkpoint naming {name}'
    path = name if osp.isabs(name) else osp.join(work_dir, name)
    local = osp.join(work_dir, osp.basename(name))
    if osp.isabs(name) and osp.abspath(osp.dirname(name)) != \
            osp.abspath(work_dir) and osp.isfile(local):
        print_log(f'{save_file} names {name} in another directory; '
                  f'resuming from the copy in this work dir, {local}.',
                  logger='current')
        path = local
    state = '' if osp.isfile(path) else ' (missing)'
    return path, f'last_checkpoint naming {name}{state}'


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], str]:
    """``(checkpoint, report)``: the newest complete ``iter_N.pth`` /
    ``epoch_N.pth`` of ``work_dir`` or the file ``last_checkpoint`` names
    (in another directory when the hook's ``out_dir`` is elsewhere), and
    what was found, in words, when there is none."""
    if not osp.isdir(work_dir):
        return None, f'the work dir {work_dir} does not exist'
    named, said = _read_last(work_dir)
    files = [p for p in glob.glob(osp.join(work_dir, '*.pth'))
             if STEP.match(osp.basename(p))]
    complete = [p for p in files if is_complete(p)]
    broken = sorted(set(files) - set(complete), key=_step)
    if named is not None and '://' in named:
        return named, said  # remote out_dir: MMEngine loads it
    if named is not None and osp.isfile(named) and named not in files:
        (complete if is_complete(named) else broken).append(named)
    if not complete:
        found = [said] + ([f'incomplete {", ".join(map(osp.basename, broken))}'
                           ] if broken else ['no checkpoint file'])
        return None, (f'the work dir {work_dir} holds no complete '
                      f'checkpoint ({"; ".join(found)})')
    best = max(complete, key=_step)
    if named is None or osp.abspath(best) != osp.abspath(named):
        said = said.replace('last_checkpoint naming',
                            'last_checkpoint names', 1)
        if broken:
            said += f'; {", ".join(map(osp.basename, broken))} incomplete'
        print_log(f'{said}; resuming from the newest complete checkpoint '
                  f'{best}.', logger='current', level=logging.WARNING)
    return best, ''


def resume_checkpoint(work_dir: str) -> str:
    """The checkpoint to resume from, or :class:`NothingToResume`."""
    path, report = find_resume_checkpoint(work_dir)
    if path is None:
        raise NothingToResume(
            f'--resume: nothing to resume: {report}. Check --work-dir (the '
            'default is work_dirs/<config name>), or use --resume auto to '
            'start from scratch when there is nothing to resume.')
    return path


def plan_resume(cfg, resume) -> None:
    """Set ``cfg.resume`` / ``cfg.load_from`` for ``tools/train.py``:
    ``resume`` is the command line's ``--resume`` (None: not given, then the
    config's ``resume``; True or 'yes': a checkpoint must be found; 'auto':
    resume if there is one, else start from scratch; otherwise the path of
    the checkpoint to resume from)."""
    if resume is None:
        resume = cfg.get('resume', False)
    if resume in (False, None, 'no'):
        cfg.resume = False
        return
    if resume == 'auto':
        path, report = find_resume_checkpoint(cfg.work_dir)
        if path is None:
            print_log(f'--resume auto: nothing to resume ({report}); '
                      'training from scratch.', logger='current')
            cfg.resume = False
            return
    elif resume in (True, 'yes'):
        path = resume_checkpoint(cfg.work_dir)
    else:
        path = resume
        if not (osp.isfile(path) and is_complete(path)):
            raise NothingToResume(
                f'--resume {path}: '
                + ('incomplete checkpoint' if osp.isfile(path) else
                   'no such file') + '. Pass a complete iter_N.pth, or '
                '--resume alone for the newest one of the work dir.')
    if cfg.get('load_from') and cfg.load_from != path:
        print_log(f'Resuming from {path}; load_from={cfg.load_from} (the '
                  'weights a new run starts from) is not used.',
                  logger='current')
    cfg.resume, cfg.load_from = True, path
    hooks = list(cfg.get('custom_hooks', []))
    if not any('ResumeLearningRateHook' in str(h.get('type')) for h in hooks):
        cfg.custom_hooks = hooks + [
            dict(type='winwin_mm.ResumeLearningRateHook')]


def _lr(cfg) -> Optional[float]:
    lr = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('lr')
    return float(lr) if isinstance(lr, (int, float)) else None


@HOOKS.register_module()
class ResumeLearningRateHook(Hook):
    """Honour the config's ``optim_wrapper.optimizer.lr`` on resume
    (MMEngine's resume restores the optimizer's and the schedules' learning
    rates from the checkpoint, so an lr given with ``--resume`` was ignored):
    when it differs from the lr of the checkpoint's config, every parameter
    group's lr and every schedule's base value are scaled by new / old, so
    warm-up, decay and layer-wise decay keep their shape. ``tools/train.py``
    adds it when resuming."""
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        text = meta.get('cfg') or meta.get('config')
        cfg = getattr(runner, 'cfg', None)
        if not text or cfg is None or 'optimizer' not in checkpoint:
            return
        new, old = _lr(cfg), _lr(Config.fromstring(text, file_format='.py'))
        if not new or not old or new == old:
            return
        f = new / old
        for group in checkpoint['optimizer'].get('param_groups', []):
            for key in ('lr', 'initial_lr'):
                if key in group:
                    group[key] *= f
        schedulers = checkpoint.get('param_schedulers', [])
        for s in schedulers if isinstance(schedulers, list) else []:
            if s.get('param_name', 'lr') == 'lr':
                s['base_values'] = [v * f for v in s.get('base_values', [])]
                if '_last_value' in s:
                    s['_last_value'] = [v * f for v in s['_last_value']]
        print_log(f'optim_wrapper.optimizer.lr={new:g} differs from the '
                  f'resumed checkpoint\'s {old:g}: the resumed learning '
                  f'rates and schedules are scaled by {f:g}.',
                  logger='current', level=logging.WARNING)
