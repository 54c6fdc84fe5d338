"""Time the front end per kernel: ingest (compile, or cache hit) + parse + lift, for every corpus
kernel and target. The issue's target: median ingest+parse+lift under 0.5 s for kernels already compiled.

    python benchmarks/bench_ingest.py --out benchmarks/results/ingest_timing.json

Runs the corpus once to fill the compile cache (not timed), then `--repeat` timed passes; reports per
kernel the median over passes of each stage, and the median and max over kernels.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFESTS = [str(p) for p in sorted((ROOT / "corpora").glob("*.toml"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", nargs="*", default=DEFAULT_MANIFESTS)
    ap.add_argument("--target", action="append", dest="targets")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    targets = args.targets or ["h100", "mi300x"]

    from eqsat.pipeline import front_end

    warm = list(front_end(args.manifests, targets))  # fills the compile cache, imports everything
    failed = [k for k in warm if not k.ok]
    samples: dict[tuple[str, str], dict[str, list[float]]] = {}
    for _ in range(args.repeat):
        for k in front_end(args.manifests, targets):
            if not k.ok:
                continue
            d = samples.setdefault((k.name, k.target), {"ingest": [], "parse": [], "lift": [], "total": []})
            for stage in ("ingest", "parse", "lift"):
                d[stage].append(k.seconds.get(stage, 0.0))
            d["total"].append(sum(k.seconds.get(s, 0.0) for s in ("ingest", "parse", "lift")))

    rows = []
    print(f"{'kernel':34} {'target':7} {'ingest ms':>9} {'parse ms':>9} {'lift ms':>9} {'total ms':>9}")
    for (name, target), d in sorted(samples.items()):
        med = {s: statistics.median(v) * 1000 for s, v in d.items()}
        rows.append({"kernel": name, "target": target, **{f"{s}_ms": round(m, 3) for s, m in med.items()}})
        print(f"{name[:34]:34} {target:7} {med['ingest']:9.1f} {med['parse']:9.1f} {med['lift']:9.1f} "
              f"{med['total']:9.1f}")
    totals = [r["total_ms"] for r in rows]
    summary = {
        "kernels": len(rows),
        "failed": [f"{k.name}[{k.target}]: {k.error}" for k in failed],
        "median_total_ms": round(statistics.median(totals), 2),
        "p90_total_ms": round(sorted(totals)[int(0.9 * (len(totals) - 1))], 2),
        "max_total_ms": round(max(totals), 2),
        "median_parse_ms": round(statistics.median(r["parse_ms"] for r in rows), 2),
        "median_lift_ms": round(statistics.median(r["lift_ms"] for r in rows), 2),
    }
    print(f"\n{summary['kernels']} kernel x target, {args.repeat} passes, compile cache warm: median total "
          f"{summary['median_total_ms']} ms, p90 {summary['p90_total_ms']} ms, max {summary['max_total_ms']} "
          f"ms (parse median {summary['median_parse_ms']} ms, lift median {summary['median_lift_ms']} ms); "
          f"{len(failed)} failed")
    if args.out:
        Path(args.out).write_text(json.dumps({
            "command": "python " + " ".join(sys.argv),
            "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
            "summary": summary, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
