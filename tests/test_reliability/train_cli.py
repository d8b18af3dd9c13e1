"""Run ``tools/train.py`` as a child process forked from an interpreter that
has already imported torch, MMEngine, MMSegmentation and winwin_mm
(multiprocessing's forkserver), so that a kill-and-resume test costs the
training, not the imports. The child is a real process with its own exit
status: a SIGKILL ends it with ``-9``, a ``SystemExit`` with its code, an
exception with 1 after its traceback; stdout and stderr go to a log file."""
import multiprocessing as mp
import os
import os.path as osp
import runpy
import sys
import traceback

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
HERE = osp.dirname(osp.abspath(__file__))
PRELOAD = ['torch', 'mmengine.runner', 'mmseg.models', 'winwin_mm',
           'kill_points']
_context = None


def _child(args, env, log) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = open(1, 'w', buffering=1, closefd=False)
    os.environ.pop('WINWIN_KILL_AT', None)
    os.environ.update(env)
    os.chdir(REPO)
    sys.argv = ['tools/train.py'] + list(args)
    code = 0
    try:
        runpy.run_path(osp.join(REPO, 'tools', 'train.py'),
                       run_name='__main__')
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    os._exit(code)


def train(args, log: str, env=None, timeout: float = 600):
    """``tools/train.py ARGS`` in a child; returns (exit code, output)."""
    global _context
    if _context is None:
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        _context = mp.get_context('forkserver')
        _context.set_forkserver_preload(PRELOAD)
    env = dict(dict(OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore'),
               **(env or {}))
    proc = _context.Process(target=_child, args=(list(args), env, log))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise TimeoutError(f'tools/train.py {args} ran over {timeout} s')
    with open(log) as f:
        return proc.exitcode, f.read()
