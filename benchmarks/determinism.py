"""Run the whole corpus twice in one process, in two orders, and check that nothing depends on the order.

    python benchmarks/determinism.py --out benchmarks/results/determinism.json

1. `optimize_kernel` (with the module, so every plan is also lowered) on every kernel x target of every
   manifest, then on the same list reversed: every `Plan.canonical_json()` (plan.json without wall-clock
   fields) must be byte-identical.
2. `optimize_paths` (what `eqsat optimize` runs, in-process so the state of one process carries over) on
   the manifests and targets in one order, then both reversed: every run.json row (less `seconds`) and
   every plan.json (canonical) must be identical.
Prints and writes the counts, the kernels that differ (none expected) and the times. The CI test
tests/test_determinism.py runs a subset of the same checks.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFESTS = [str(p) for p in sorted((ROOT / "corpora").glob("*.toml"))]


def _kernel_level(manifests: list[str], targets: list[str]) -> dict:
    from eqsat.optimize import optimize_kernel
    from eqsat.pipeline import front_end

    ks = [k for k in front_end(manifests, targets) if k.ok]

    def run(order: list) -> tuple[dict, float]:
        t0 = time.perf_counter()
        out = {}
        for k in order:
            try:
                plan = optimize_kernel(k, k.target, grid=(k.launch or {}).get("grid")).plan
                out[f"{k.name}[{k.target}]"] = plan.canonical_json()
            except Exception as e:  # noqa: BLE001 - an error is a result too; it must repeat
                out[f"{k.name}[{k.target}]"] = f"error: {type(e).__name__}: {e}"
        return out, time.perf_counter() - t0

    forward, t_fwd = run(ks)
    backward, t_bwd = run(list(reversed(ks)))
    differ = sorted(key for key in forward if forward[key] != backward.get(key))
    return {"kernels": len(ks), "identical": len(ks) - len(differ), "differ": differ,
            "with_choices": sum(1 for p in forward.values()
                                if p.startswith("{") and json.loads(p)["choices"]),
            "seconds": [round(t_fwd, 1), round(t_bwd, 1)]}


def _run_level(manifests: list[str], targets: list[str]) -> dict:
    from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths
    from eqsat.plan import Plan, without_timing

    def run(paths: list[str], tgts: list[str], out: Path) -> tuple[dict, dict, float]:
        t0 = time.perf_counter()
        # in-process (one process carries its state from kernel to kernel), no result cache (that would
        # hand the second order the first order's rows)
        rows = optimize_paths(paths, tgts, out, OptimizeOptions(),
                              isolation=RunIsolation(in_process=True, use_cache=False))
        seconds = time.perf_counter() - t0
        by_key = {f"{r['kernel']}[{r['target']}]": without_timing(r) for r in rows}
        plans = {}
        for r in rows:
            f = out / r["kernel"] / r["target"] / "plan.json"
            if f.is_file():
                plans[f"{r['kernel']}[{r['target']}]"] = Plan.load(f).canonical_json()
        return by_key, plans, seconds

    with tempfile.TemporaryDirectory() as tmp:
        rows_a, plans_a, t_a = run(manifests, targets, Path(tmp) / "a")
        rows_b, plans_b, t_b = run(list(reversed(manifests)), list(reversed(targets)), Path(tmp) / "b")
    differ = sorted(k for k in rows_a if rows_a[k] != rows_b.get(k) or plans_a.get(k) != plans_b.get(k))
    return {"rows": len(rows_a), "ok": sum(1 for r in rows_a.values() if r["status"] == "ok"),
            "changed": sum(1 for r in rows_a.values() if r["changed"]),
            "identical": len(rows_a) - len(differ), "differ": differ,
            "errors": sorted(f"{k}: {r['error']}" for k, r in rows_a.items() if r["status"] != "ok"),
            "seconds": [round(t_a, 1), round(t_b, 1)]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", nargs="*", default=DEFAULT_MANIFESTS)
    ap.add_argument("--target", action="append", dest="targets")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    targets = args.targets or ["h100", "mi300x"]
    report = {"command": "python " + " ".join(sys.argv), "machine": platform.platform(),
              "optimize_kernel_two_orders": _kernel_level(args.manifests, targets),
              "optimize_paths_two_orders": _run_level(args.manifests, targets)}
    text = json.dumps(report, indent=2) + "\n"
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    ok = not any(report[k]["differ"] for k in ("optimize_kernel_two_orders", "optimize_paths_two_orders"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
