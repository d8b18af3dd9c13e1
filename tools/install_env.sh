#!/usr/bin/env bash
# Create or update the project virtual environment at .venv (called by `make`).
#
# Why this is not a plain `pip install -e .` (see README "Installation"):
#  * torch must be the standard PyPI build; a CPU-only torch breaks torchvision.
#    Setting PIP_FIND_LINKS replaces any machine-wide find-links that would
#    otherwise hand pip a CPU-only torch.
#  * mmcv 2.1.0 is source-only on PyPI and mmseg needs its compiled ops. It is
#    taken from $WHEELHOUSE when that folder has a matching wheel, otherwise it
#    is built once into .wheels/ (setuptools<70, no build isolation).
#  * openmim is installed without its (conflicting) openxlab dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
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
PIP="$VENV/bin/python -m pip"
$PIP install -q "setuptools>=77.0.3,<82" wheel
$PIP install -q torch==2.13.0 torchvision==0.28.0

if ! $PIP install -q --no-index --no-deps mmcv==2.1.0 2>/dev/null; then
  echo ">>> No mmcv 2.1.0 wheel for this Python/platform in: $FIND_LINKS"
  echo ">>> Building mmcv 2.1.0 from source into .wheels/ (about 30 minutes on 2 cores; only once)."
  $PIP install -q ninja psutil "setuptools<70"   # mmcv's setup.py needs the old pkg_resources API
  MMCV_WITH_OPS=1 $PIP wheel --no-build-isolation --no-deps -w "$LOCAL_WHEELS" mmcv==2.1.0
  $PIP install -q "setuptools>=77.0.3,<82"
  $PIP install -q --no-index --no-deps mmcv==2.1.0
fi

$PIP install -q -e ".[dev]"
$PIP install -q --no-deps openmim==0.3.9
$PIP install -q colorama pandas requests tabulate
$VENV/bin/python -c "import torchvision, mmcv.ops, mmseg.models, winwin_mm; print('environment OK: torch', __import__('torch').__version__, 'mmcv', mmcv.__version__)"
