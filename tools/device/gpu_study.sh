#!/usr/bin/env bash
# The masking study in the paper's regime on the lent GPU (issue 16, run 2):
# pretrained ViT-Ti/16 (ImageNet-21k), CamVid at 960x720 (60x45 tokens), all
# variants, 3 seeds, 2000 iterations of batch 4, several runs at once on the
# GPU, UPerHead and (second pass) the DPT head. Trains on CamVid train,
# evaluates on CamVid val (all 101 images).
#
# 1) HERE (CPU machine), from the project root, once:
#      bash tools/device/gpu_study.sh prepare
#    -> .device/ (git-ignored): wheels + setup.sh, CamVid train/val as JPEG,
#       and the checkpoint converted to fp16 (11 MB; it is never committed).
# 2) On the GPU, one device `run` call per line (each under 10 minutes;
#    carry [".device"]; timeout_s 590), e.g.:
#      bash tools/device/gpu_study.sh run SEEDS="0" HEAD=config
#      bash tools/device/gpu_study.sh run SEEDS="1" HEAD=config
#      bash tools/device/gpu_study.sh run SEEDS="2" HEAD=config
#      bash tools/device/gpu_study.sh run SEEDS="0" HEAD=dpt
#    The device tool runs in a copy of the checkout, this tracked script
#    included. Results: $OUT/study_<head>_s<seeds>/.
#    Merge the seeds afterwards (no training; here or on the GPU):
#      python tools/ablate.py --merge DIR_s0 DIR_s1 DIR_s2 --out DIR_all
# 3) DRY run on CPU (tiny): bash tools/device/gpu_study.sh dry
set -euo pipefail
mode=${1:-}; shift || true
for kv in "$@"; do export "$kv"; done
CONFIG=${CONFIG:-configs/winwin_vitti_in21k_camvid_960x720.py}
CKPT=${CKPT:-.device/vit_ti16_in21k_fp16.pth}
VARIANTS=${VARIANTS:-fullres win2 win1 win4 random win2_scatter lowres}
ITERS=${ITERS:-2000}
SEEDS=${SEEDS:-0 1 2}
HEAD=${HEAD:-config}
PARALLEL=${PARALLEL:-7}

case "$mode" in
prepare)
  [ -d winwin_mm ] || { echo "run from the project root" >&2; exit 2; }
  bash ../shared/device/prepare.sh --camvid
  .venv/bin/python - <<'PY'
import torch
sd = torch.load('../shared/pretrained/vit_tiny_patch16_224_in21k_ft_in1k.pth',
                map_location='cpu')
sd = {'model': {k: v.half() for k, v in sd['model'].items()}}
torch.save(sd, '.device/vit_ti16_in21k_fp16.pth')
PY
  du -sh .device  # must stay well under 64 MiB with the checkout
  ;;
run|dry)
  if [ "$mode" = run ]; then
    source .device/setup.sh
    PY=python3; ROOT=.device/camvid; EXTRA=(--num-workers 4); OUTDIR=$OUT
  else  # CPU dry run with the real data and checkpoint, 2 iterations
    PY=.venv/bin/python; ROOT=../shared/data/seg/camvid
    CKPT=../shared/pretrained/vit_tiny_patch16_224_in21k_ft_in1k.pth
    ITERS=2; SEEDS=0; PARALLEL=1; VARIANTS=${DRY_VARIANTS:-win2 win2_scatter}
    EXTRA=(--eval-every 50 --batch-size 1); OUTDIR=${OUT:-/tmp/gpu_study_dry}
    export OMP_NUM_THREADS=1
  fi
  dir=$OUTDIR/study_${HEAD}_s${SEEDS// /}
  $PY tools/ablate.py "$CONFIG" --data-root "$ROOT" \
    --cfg-options model.backbone.init_cfg.checkpoint="$CKPT" \
    --variants $VARIANTS --iters "$ITERS" --seeds $SEEDS --head "$HEAD" \
    --parallel "$PARALLEL" "${EXTRA[@]}" --out "$dir"
  # issue 14 acceptance 2: on a GPU the peak must exceed the weights' size
  $PY - "$dir" <<'PY'
import json, sys
res = json.load(open(sys.argv[1] + '/results.json'))
import torch
params_mb = 5.7e6 * 4 / 2**20  # ViT-Ti weights alone, fp32
for name, r in res['variants'].items():
    ok = r['peak_mb'] > params_mb
    print(f'{name}: peak {r["peak_mb"]:.0f} MB vs weights {params_mb:.0f} MB'
          f' -> {"ok" if ok else "TOO LOW"} ({res["memory"]})')
PY
  ;;
*) echo "usage: $0 prepare | run [SEEDS=...] [HEAD=config|dpt] | dry" >&2
   exit 2 ;;
esac
