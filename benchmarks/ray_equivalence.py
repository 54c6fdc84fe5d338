"""The Ray executor against the local one on a whole corpus (issue 15): the same run.json rows (timings
aside) and the same plans, with wall-clock times of both.

    python benchmarks/ray_equivalence.py [corpora/project.toml ...] [--jobs 2] [--out PATH_WITHOUT_SUFFIX]

A local Ray is started here with `ray.init(num_cpus=jobs)`; neither run uses the result cache.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _plans(run: Path) -> dict[str, str]:
    from eqsat.plan import without_timing

    return {str(p.relative_to(run)): json.dumps(without_timing(json.loads(p.read_text())), sort_keys=True)
            for p in sorted(run.glob("*/*/plan.json"))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=["corpora/project.toml"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ray_equivalence"))
    args = ap.parse_args()
    import ray

    from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths

    work = Path(tempfile.mkdtemp(prefix="eqsat-ray-"))
    targets = ["h100", "mi300x"]
    t0 = time.perf_counter()
    local = optimize_paths(args.paths, targets, work / "local", OptimizeOptions(), jobs=args.jobs,
                           isolation=RunIsolation(use_cache=False))
    t_local = time.perf_counter() - t0
    ray.init(num_cpus=args.jobs, include_dashboard=False, log_to_driver=False)
    try:
        t0 = time.perf_counter()
        remote = optimize_paths(args.paths, targets, work / "ray", OptimizeOptions(), jobs=args.jobs,
                                isolation=RunIsolation(use_cache=False, executor="ray"))
        t_ray = time.perf_counter() - t0
    finally:
        ray.shutdown()

    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    a, b = strip(local), strip(remote)
    differing = [f"{x['kernel']} [{x['target']}]" for x, y in zip(a, b, strict=False) if x != y]
    pa, pb = _plans(work / "local"), _plans(work / "ray")
    plan_diff = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
    summary = {"paths": args.paths, "targets": targets, "kernel_x_target": len(local),
               "ok_local": sum(r["status"] == "ok" for r in local),
               "ok_ray": sum(r["status"] == "ok" for r in remote),
               "rows_identical": a == b, "rows_differing": differing, "plans_compared": len(pa),
               "plans_identical": not plan_diff, "plans_differing": plan_diff,
               "local_s": round(t_local, 1), "ray_s": round(t_ray, 1),
               "machine": f"{platform.machine()}, Python {platform.python_version()}, ray {ray.__version__}",
               "command": " ".join(["python", "benchmarks/ray_equivalence.py",
                                    *map(shlex.quote, sys.argv[1:])])}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    md = [f"# Ray executor vs local ({summary['machine']})", "", f"Command: `{summary['command']}`", "",
          f"{summary['kernel_x_target']} kernel x target ({', '.join(args.paths)}; h100, mi300x), --jobs "
          f"{args.jobs}: run.json rows identical (timings aside): {summary['rows_identical']}; "
          f"{summary['plans_compared']} plan.json identical (wall-clock fields aside): "
          f"{summary['plans_identical']}. Local {summary['local_s']} s, Ray {summary['ray_s']} s "
          f"(ok {summary['ok_local']} / {summary['ok_ray']}).", ""]
    if differing or plan_diff:
        md += ["Differing: " + ", ".join(differing + plan_diff), ""]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if summary["rows_identical"] and summary["plans_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
