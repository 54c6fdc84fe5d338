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
# Negative control: the same harness must catch a wrong kernel. tma_copy_scale with its scale 2.0 changed
# to 3.0 in optimized.ttgir must be reported as differing (exit 1).
MUT=${MUTANT_DIR:-/tmp/eqsat_mutant_run}
python3 - "$RUN" "$MUT" <<'PY'
import json, shutil, sys
from pathlib import Path
run, mut = Path(sys.argv[1]), Path(sys.argv[2])
shutil.rmtree(mut, ignore_errors=True)
shutil.copytree(run / "tma_copy_scale" / "h100", mut / "tma_copy_scale" / "h100")
p = mut / "tma_copy_scale" / "h100" / "optimized.ttgir"
text = p.read_text()
assert "dense<2.000000e+00>" in text
p.write_text(text.replace("dense<2.000000e+00>", "dense<3.000000e+00>"))
entries = [e for e in json.loads((run / "run.json").read_text())
           if e["kernel"] == "tma_copy_scale" and e["target"] == "h100"]
(mut / "run.json").write_text(json.dumps(entries))
PY
python3 benchmarks/gpu_bench.py "$MUT" --repeat 1 --out "$OUT/bench_mutant.json" 2>&1 | tee "$OUT/mutant.log"
mrc=${PIPESTATUS[0]}
echo "negative control exit $mrc (expected 1)"
cat "$OUT/bench_identity_h100.md" 2>/dev/null | head -12
if [ "$mrc" != 1 ]; then exit 3; fi
exit "$rc"
