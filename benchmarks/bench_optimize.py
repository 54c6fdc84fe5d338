"""Time the optimizer per kernel x target over every corpus: saturation, extraction, decoding, lowering.

    python benchmarks/bench_optimize.py --out benchmarks/results/optimize_timing.json [--jobs 2]

Runs `eqsat.optimize.optimize_paths` (what `eqsat optimize` runs) on every manifest for h100 and mi300x
with the default limits (10 s saturation time limit, 20000 rows) into a temporary run directory, then
prints the distribution of per-kernel seconds, e-graph nodes and stop reasons, and every kernel whose
saturation overran the time limit (the limit is checked between iterations, so one iteration can overrun:
it is reported, never silent). Target: median < 2 s per kernel x target on a 2-core machine. The compile
cache is warmed first (not timed).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFESTS = [str(p) for p in sorted((ROOT / "corpora").glob("*.toml"))]


def main() -> int:
    from eqsat.egraph.schedule import Limits
    from eqsat.optimize import OptimizeOptions, optimize_paths
    from eqsat.pipeline import front_end

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", nargs="*", default=DEFAULT_MANIFESTS)
    ap.add_argument("--target", action="append", dest="targets")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    targets = args.targets or ["h100", "mi300x"]
    for _ in front_end(args.manifests, targets, lift=False):  # warm the compile cache
        pass
    options = OptimizeOptions(limits=Limits(time_limit_s=args.timeout))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = optimize_paths(args.manifests, targets, tmp, options, jobs=args.jobs)
        for r in rows:
            plan_file = Path(tmp) / _safe(r["kernel"]) / r["target"] / "plan.json"
            if plan_file.is_file():
                plan = json.loads(plan_file.read_text())
                r["saturation_s"] = plan["egraph"].get("seconds")
                r["overrun_s"] = plan["egraph"].get("overrun_s")
                r["extraction_method"] = plan["extraction"].get("method")
                r["gap_ns"] = plan["extraction"].get("gap_ns")
    wall = time.perf_counter() - t0
    ok = [r for r in rows if r["status"] == "ok"]
    secs = sorted(r["seconds"] for r in ok)
    nodes = sorted(r["egraph_nodes"] for r in ok)
    stops = Counter(r.get("stop_reason") for r in ok)
    overruns = [r for r in ok if (r.get("overrun_s") or 0) > 0]
    summary = {
        "kernels": len(rows), "ok": len(ok), "errors": len(rows) - len(ok), "wall_s": round(wall, 2),
        "seconds": _dist(secs), "nodes": _dist(nodes), "stop_reasons": dict(stops),
        "time_limit_s": args.timeout, "time_limit_overruns": [(r["kernel"], r["target"], r["overrun_s"])
                                                              for r in overruns],
        "changed": sum(1 for r in ok if r["changed"]),
        "exact_used": sum(1 for r in ok if r.get("extraction_method") == "exact"),
        "greedy_gap_positive": sum(1 for r in ok if (r.get("gap_ns") or 0) > 0),
    }
    print(f"{len(ok)} of {len(rows)} kernel x target optimized in {wall:.1f} s (jobs={args.jobs})")
    print(f"seconds per kernel: {summary['seconds']}")
    print(f"e-graph nodes:      {summary['nodes']}")
    print(f"stop reasons:       {summary['stop_reasons']}")
    print(f"time-limit overruns: {summary['time_limit_overruns'] or 'none'}")
    for r in rows:
        if r["status"] != "ok":
            print(f"  error: {r['kernel']} [{r['target']}]: {r['error']}")
    if args.out:
        out = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
               "machine": {"cpus": _cpus(), "python": platform.python_version()},
               "summary": summary, "rows": rows}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


def _dist(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    p90 = values[int(0.9 * (len(values) - 1))]
    return {"median": round(statistics.median(values), 3), "p90": round(p90, 3),
            "max": round(values[-1], 3), "min": round(values[0], 3)}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
