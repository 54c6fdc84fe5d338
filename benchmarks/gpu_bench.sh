#!/usr/bin/env bash
# The identity bench on a GPU machine (device tool), in one command from the repository root:
#   bash benchmarks/gpu_bench.sh
# makes an identity run of every project kernel (h100, plus mi300x entries that the bench skips), then
# checks and times it; writes $OUT/bench_identity_h100.{json,md} and the log. Needs python3, torch, triton.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/eqsat_bench_out}
RUN=${RUN_DIR:-/tmp/eqsat_identity_run}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1 | tee "$OUT/gpu.txt"
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
python3 benchmarks/make_identity_run.py corpora/project.toml --target h100 --target mi300x --out "$RUN" \
    2>&1 | tee "$OUT/make_run.log"
python3 benchmarks/gpu_bench.py "$RUN" --out "$OUT/bench_identity_h100.json" "$@" 2>&1 | tee "$OUT/bench.log"
rc=${PIPESTATUS[0]}
cat "$OUT/bench_identity_h100.md" 2>/dev/null | tail -45
exit "$rc"
