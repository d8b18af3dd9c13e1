#!/usr/bin/env bash
# Scripted check (not part of `make test`; it builds a second environment):
# a venv that has the full mmcv 2.1.0 (compiled ops) keeps it through
# `pip install -e .`, `pip install -e ".[dev]"` and a re-run of
# tools/install_env.sh, and its ops still work with winwin_mm imported.
#
#   WHEELHOUSE=../shared/wheels bash tests/env/check_full_mmcv.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${WHEELHOUSE:?set WHEELHOUSE to a folder with an mmcv 2.1.0 wheel}"
VENV=${1:-/tmp/winwin_full_mmcv_venv}
export VENV WHEELHOUSE
MMCV_FULL=1 bash tools/install_env.sh
check() {
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import torch
import winwin_mm, mmseg.models, mmcv.ops
from winwin_mm.utils.mmcv_ext import mmcv_ops_available
dists = {d: md.version(d) for d in ('mmcv', 'mmcv-lite')
         if any(x.metadata['Name'] == d for x in md.distributions())}
assert dists == {'mmcv': '2.1.0'}, dists
assert mmcv_ops_available(), 'mmcv._ext is missing'
import mmcv._ext as ext
assert not getattr(ext, '__winwin_mm_placeholder__', False), 'placeholder in use'
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
_, keep = mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
assert keep.tolist() == [0, 2], keep
print('full mmcv OK:', dists, 'nms keep', keep.tolist(), 'ext', ext.__file__)
PY
}
check
"$VENV/bin/python" -m pip install -q -e . && echo '>>> after pip install -e .' && check
"$VENV/bin/python" -m pip install -q -e ".[dev]" && echo '>>> after pip install -e ".[dev]"' && check
bash tools/install_env.sh && echo '>>> after tools/install_env.sh (MMCV_FULL unset)' && check
