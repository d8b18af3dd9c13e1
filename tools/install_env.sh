#!/usr/bin/env bash
# Create or update the project virtual environment at .venv (called by `make`).
# Compiles nothing by default (see README "Set-up").
#
#  * torch must be the standard PyPI build; a CPU-only torch breaks torchvision
#    (hence timm and mmpretrain). Setting PIP_FIND_LINKS replaces any
#    machine-wide find-links that would hand pip a CPU-only torch.
#  * mmcv: by default the official pure-Python build, mmcv-lite 2.1.0 (a 720 KB
#    wheel). winwin_mm's models use no compiled mmcv op; `import winwin_mm`
#    stands in for the missing `mmcv._ext` so that mmseg imports (every op of
#    that placeholder raises a clear error if called).
#    MMCV_FULL=1 installs the full mmcv 2.1.0 with compiled ops instead: from
#    the wheel folder named by WHEELHOUSE when it holds a matching wheel,
#    otherwise built from source once into .wheels/ (about 30 minutes on 2
#    cores). A venv that already has the full mmcv keeps it.
#  * openmim is installed without its (conflicting) openxlab dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
MMCV_FULL=${MMCV_FULL:-0}
LOCAL_WHEELS="$PWD/.wheels"
mkdir -p "$LOCAL_WHEELS"
FIND_LINKS="$LOCAL_WHEELS"
if [ -n "${WHEELHOUSE:-}" ]; then
  [ -d "$WHEELHOUSE" ] || { echo "WHEELHOUSE=$WHEELHOUSE is not a folder" >&2; exit 2; }
  FIND_LINKS="$(cd "$WHEELHOUSE" && pwd) $FIND_LINKS"
fi
export PIP_FIND_LINKS="$FIND_LINKS"
export PIP_DISABLE_PIP_VERSION_CHECK=1

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP="$PY -m pip"
$PIP install -q "setuptools>=77.0.3,<82" wheel
$PIP install -q torch==2.13.0 torchvision==0.28.0

has_full_mmcv() {
  "$PY" - <<'PYEOF' 2>/dev/null
import importlib.metadata as md, importlib.util, sys
try:
    md.version('mmcv')
except md.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if importlib.util.find_spec('mmcv._ext') else 1)
PYEOF
}

if has_full_mmcv; then
  echo ">>> keeping the full mmcv (with compiled ops) already in $VENV"
  MMCV_EXTRA=""
elif [ "$MMCV_FULL" = "1" ]; then
  $PIP uninstall -q -y mmcv-lite 2>/dev/null || true   # both ship the `mmcv` package
  if ! $PIP install -q --no-index --no-deps mmcv==2.1.0 2>/dev/null; then
    echo ">>> MMCV_FULL=1: no mmcv 2.1.0 wheel for this Python/platform in: $FIND_LINKS"
    echo ">>> Building mmcv 2.1.0 from source into .wheels/ (about 30 minutes on 2 cores; only once)."
    $PIP install -q ninja psutil "setuptools<70"   # mmcv's setup.py needs the old pkg_resources API
    MMCV_WITH_OPS=1 $PIP wheel --no-build-isolation --no-deps -w "$LOCAL_WHEELS" mmcv==2.1.0
    $PIP install -q "setuptools>=77.0.3,<82"
    $PIP install -q --no-index --no-deps mmcv==2.1.0
  fi
  MMCV_EXTRA=""
else
  MMCV_EXTRA=",lite"
fi

$PIP install -q -e ".[dev${MMCV_EXTRA}]"
$PIP install -q --no-deps openmim==0.3.9
$PIP install -q colorama pandas requests tabulate
"$PY" -c "import torchvision, winwin_mm, mmseg.models, mmcv; from winwin_mm.utils.mmcv_ext import mmcv_ops_available as ok; print('environment OK: torch', __import__('torch').__version__, 'mmcv', mmcv.__version__, '(compiled ops)' if ok() else '(mmcv-lite: no compiled ops)')"
