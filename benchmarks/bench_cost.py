"""Time the cost models: one op and one whole kernel, over the project corpus, per target.
Goals: op < 1 ms median, kernel < 50 ms median.

    python benchmarks/bench_cost.py --out benchmarks/results/cost_timing.json

Op times are over every dm op (`op_*`) and over movement ops only (kind other than `other`).
`cold` times a fresh process state (the per-(layout text, shape) LinearLayout cache and the per-convert
cache empty: the first costing of each op); `warm` repeats the same costing with the caches filled, as an
e-graph extraction that prices the same nodes many times sees it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _clear_caches(model) -> None:
    from eqsat.costmodels import common, conversion

    common._cached.cache_clear()
    conversion.classify_texts.cache_clear()
    model._shared_cache.clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", nargs="?", default=str(ROOT / "corpora" / "project.toml"))
    ap.add_argument("--target", action="append", dest="targets")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from eqsat.costmodels.base import model_for

    from eqsat.dm.json import dm_to_json
    from eqsat.pipeline import front_end

    result: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                    "python": platform.python_version(), "machine": platform.machine(), "targets": {}}
    for target in args.targets or ["h100", "mi300x"]:
        kernels = []
        for k in front_end([args.manifest], [target]):
            if k.ok:
                kernel = dm_to_json(k.dm, target)
                if (k.launch or {}).get("grid"):
                    kernel["grid"] = list(k.launch["grid"])
                kernels.append(kernel)
        model = model_for(target)
        res: dict = {}
        for mode in ("cold", "warm"):
            op_ms: list[float] = []
            move_ms: list[float] = []
            kernel_ms: list[float] = []
            for _ in range(args.repeat):
                if mode == "cold":
                    _clear_caches(model)
                for kernel in kernels:
                    t0 = time.perf_counter()
                    for op in kernel["ops"]:
                        t = time.perf_counter()
                        model.op_cost(op, kernel)
                        op_ms.append(1000 * (time.perf_counter() - t))
                        if op["kind"] != "other":
                            move_ms.append(op_ms[-1])
                    kernel_ms.append(1000 * (time.perf_counter() - t0))
            res[mode] = {"ops": len(op_ms), "op_median_ms": round(statistics.median(op_ms), 4),
                         "op_p95_ms": round(sorted(op_ms)[int(0.95 * (len(op_ms) - 1))], 3),
                         "op_max_ms": round(max(op_ms), 2),
                         "movement_ops": len(move_ms),
                         "movement_op_median_ms": round(statistics.median(move_ms), 4),
                         "kernels": len(kernel_ms),
                         "kernel_median_ms": round(statistics.median(kernel_ms), 3),
                         "kernel_max_ms": round(max(kernel_ms), 2)}
        cold = res["cold"]
        res["goals_met"] = cold["movement_op_median_ms"] < 1 and cold["kernel_median_ms"] < 50
        result["targets"][target] = res
        print(target, json.dumps(res))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
