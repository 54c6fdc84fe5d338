"""Wall-clock of a whole-corpus `eqsat optimize` (issue 14): first run, rerun with nothing changed, and
a run killed with kill -9 halfway then resumed into the same place; checks the resumed run.json equals
the uninterrupted one (timings aside).

    python benchmarks/corpus_run_timing.py [--jobs 2] [--out benchmarks/results/corpus_run_timing]

Every bundled manifest, both targets. The ingest (Triton compile) cache is shared with the machine's, so
the first run is timed twice over: with the compiles already cached (`warm ingest`) and, unless
--skip-cold, with an empty cache (`cold`: every kernel compiled by Triton on this machine). The result
cache is empty at the start of each first run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ["corpora/project.toml", "corpora/serving.toml", "corpora/liger_kernel.toml", "corpora/fla.toml",
             "corpora/ir.toml"]


def _optimize(out: Path, env: dict[str, str], jobs: int, kill_after_rows: int | None = None) -> float:
    cmd = [sys.executable, "-m", "eqsat.cli", "optimize", *MANIFESTS, "--target", "h100", "--target",
           "mi300x", "--jobs", str(jobs), "--out", str(out), "--no-progress", "--no-store"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    if kill_after_rows is not None:
        while proc.poll() is None:
            try:
                rows = json.loads((out / "run.json").read_text())
                if sum(1 for r in rows if r["status"] not in ("running",)) >= kill_after_rows:
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
    proc.wait()
    return time.perf_counter() - t0


def _rows(out: Path) -> list[dict]:
    rows = json.loads((out / "run.json").read_text())
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "corpus_run_timing"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eqsat-timing-"))
    home_cache = Path(os.environ.get("EQSAT_CACHE_DIR") or Path.home() / ".cache" / "eqsat")
    results: dict[str, float | int | str | bool] = {}

    def env_with(cache: Path) -> dict[str, str]:
        return {**os.environ, "EQSAT_CACHE_DIR": str(cache)}

    if not args.skip_cold:
        cold = work / "cold-cache"
        results["first_run_cold_s"] = round(_optimize(work / "cold", env_with(cold), args.jobs), 1)
    warm = work / "warm-cache"
    warm.mkdir()
    if (home_cache / "ingest").is_dir():
        shutil.copytree(home_cache / "ingest", warm / "ingest")
    else:  # fill it once
        _optimize(work / "fill", env_with(warm), args.jobs)
        shutil.rmtree(warm / "results", ignore_errors=True)
    env = env_with(warm)
    results["first_run_warm_ingest_s"] = round(_optimize(work / "run", env, args.jobs), 1)
    rows = json.loads((work / "run" / "run.json").read_text())
    results["kernel_x_target"] = len(rows)
    results["ok"] = sum(1 for r in rows if r["status"] == "ok")
    results["rerun_nothing_changed_s"] = round(_optimize(work / "run", env, args.jobs), 1)
    # kill -9 halfway through a run with an empty result cache, then resume into the same place
    shutil.rmtree(warm / "results", ignore_errors=True)
    results["killed_after_s"] = round(_optimize(work / "resumed", env, args.jobs, len(rows) // 2), 1)
    results["resume_s"] = round(_optimize(work / "resumed", env, args.jobs), 1)
    results["resumed_equals_uninterrupted"] = _rows(work / "resumed") == _rows(work / "run")
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results["command"] = " ".join(["python", "benchmarks/corpus_run_timing.py",
                                   *map(shlex.quote, sys.argv[1:])])
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"# Whole-corpus `eqsat optimize` timing ({results['machine']})", "",
             f"Command: `{results['command']}`; manifests {', '.join(MANIFESTS)}; targets h100 and mi300x; "
             f"--jobs {args.jobs}.", "", "| measurement | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in results.items() if k not in ("machine", "command")]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if results["resumed_equals_uninterrupted"] else 1


if __name__ == "__main__":
    sys.exit(main())
