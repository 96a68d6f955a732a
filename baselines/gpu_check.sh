#!/usr/bin/env bash
# GPU check: trains each baseline's `paper` config for a fixed number of optimiser steps per stage on CUDA and
# prints samples/s per stage (from each run's metrics.jsonl; the figure includes the stage's first, warm-up steps).
#
#   baselines/gpu_check.sh [STEPS] [KEY=VALUE ...]     STEPS per stage, default 200; the rest go to --set, e.g.
#   baselines/gpu_check.sh 200 bf16=false              float32 for comparison
#   baselines/gpu_check.sh 200 data_on_device=false    batches copied from the host every step, for comparison
#   baselines/gpu_check.sh 200 compile=reduce-overhead  torch.compile with CUDA graphs (compile=default: fused kernels only)
#
# It trains on whatever datasets.yaml points to (real Human3.6M for the paper's figures; the demo data also works).
# Runs go under $GPU_CHECK_OUT (default: a new temporary folder). Without CUDA it refuses in one line.
set -euo pipefail

steps=${1:-200}
shift || true
python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "gpu_check.sh: torch sees no CUDA GPU; nothing to check on this machine" >&2; exit 1; }
out=${GPU_CHECK_OUT:-$(mktemp -d -t posebench-gpu-check.XXXXXX)}
extra=()
for kv in "$@"; do extra+=(--set "$kv"); done

declare -A stages=([ites]="teacher student" [posenet3d]="teacher student finetune" [nlrd]="prior motion relations source adaptation")
for baseline in ites posenet3d nlrd; do
    sets=()
    for stage in ${stages[$baseline]}; do sets+=(--set "$stage.epochs=1" --set "$stage.max_steps=$steps"); done
    python -m harness baseline train "$baseline" --config paper --out "$out/$baseline" "${sets[@]}" "${extra[@]}" >"$out/$baseline.log" 2>&1 \
        || { echo "gpu_check.sh: $baseline failed; see $out/$baseline.log" >&2; exit 1; }
done

python - "$out" "$steps" <<'PY'
import json, sys
from pathlib import Path

import torch

out, steps = Path(sys.argv[1]), sys.argv[2]
print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {steps} steps per stage; runs in {out}")
print(f"{'baseline':10} {'stage':11} {'steps':>6} {'samples':>9} {'seconds':>8} {'samples/s':>10}")
for baseline in ("ites", "posenet3d", "nlrd"):
    for line in (out / baseline / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "samples_per_s" in r:
            print(f"{baseline:10} {r['stage']:11} {r['steps']:>6} {r['samples']:>9} {r['seconds']:>8} {r['samples_per_s']:>10}")
PY
