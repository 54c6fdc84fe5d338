"""Load test of `eqsat serve` on loopback: N requests, C concurrent, a realistic mix; prints and saves
p50/p99 latency per route and overall, throughput, and errors (any status other than the one expected).

    python benchmarks/service_load.py [--requests 500] [--concurrency 8] [--out PATH_WITHOUT_SUFFIX]

The server is started here as a real process (`python -m eqsat.cli serve`) with a fresh data directory and
runs the jobs it accepts while the load goes on (one executor, two kernel workers), so latencies include
the CPU that the optimizer takes. The mix per 10 requests: 3 GET /v1/jobs/{id}, 2 GET /healthz, 1 GET
/v1/targets, 1 GET /v1/rules, 1 GET /metrics, 1 POST /v1/jobs (a real TTGIR kernel, verified by Triton at
submission), 1 POST of malformed IR (expected 422).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SOFTMAX = (ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir").read_text()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def _load(base: str, n: int, concurrency: int) -> tuple[list[dict], float]:
    results: list[dict] = []
    sem = asyncio.Semaphore(concurrency)
    job_ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        first = await client.post("/v1/jobs", json={"kernels": [{"name": "softmax_rows", "ir": SOFTMAX}]})
        job_ids.append(first.json()["id"])

        async def one(i: int) -> None:
            k = i % 10
            if k in (0, 1, 2):
                method, path, body, expect = "GET", f"/v1/jobs/{job_ids[i % len(job_ids)]}", None, 200
                route = "/v1/jobs/{id}"
            elif k in (3, 4):
                method, path, body, expect, route = "GET", "/healthz", None, 200, "/healthz"
            elif k == 5:
                method, path, body, expect, route = "GET", "/v1/targets", None, 200, "/v1/targets"
            elif k == 6:
                method, path, body, expect, route = "GET", "/v1/rules", None, 200, "/v1/rules"
            elif k == 7:
                method, path, body, expect, route = "GET", "/metrics", None, 200, "/metrics"
            elif k == 8:
                method, path, expect, route = "POST", "/v1/jobs", 202, "POST /v1/jobs"
                body = {"kernels": [{"name": f"softmax_{i}", "ir": SOFTMAX}], "targets": ["h100"]}
            else:
                method, path, expect, route = "POST", "/v1/jobs", 422, "POST /v1/jobs (bad IR)"
                body = {"kernels": [{"name": "bad", "ir": SOFTMAX[: 200 + i]}]}
            async with sem:
                t0 = time.perf_counter()
                r = await client.request(method, path, json=body)
                dt = time.perf_counter() - t0
            if r.status_code == 202:
                job_ids.append(r.json()["id"])
            results.append({"route": route, "status": r.status_code, "expected": expect, "seconds": dt})

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - t0
    return results, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "service_load"))
    args = ap.parse_args()
    port = _port()
    data = Path(tempfile.mkdtemp(prefix="eqsat-load-"))
    server = subprocess.Popen([sys.executable, "-m", "eqsat.cli", "serve", "--data", str(data), "--port",
                               str(port), "--queue-size", "100000", "--jobs-per-worker", "2"],
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        results, wall = asyncio.run(_load(base, args.requests, args.concurrency))
        health = httpx.get(f"{base}/healthz", timeout=10).json()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    lat = [r["seconds"] * 1000 for r in results]
    errors = [r for r in results if r["status"] != r["expected"]]
    routes = {}
    for route in sorted({r["route"] for r in results}):
        xs = [r["seconds"] * 1000 for r in results if r["route"] == route]
        routes[route] = {"n": len(xs), "p50_ms": round(_pct(xs, 0.5), 2), "p99_ms": round(_pct(xs, 0.99), 2)}
    summary = {"requests": len(results), "concurrency": args.concurrency, "errors": len(errors),
               "wall_s": round(wall, 3), "throughput_rps": round(len(results) / wall, 1),
               "p50_ms": round(_pct(lat, 0.5), 2), "p99_ms": round(_pct(lat, 0.99), 2),
               "mean_ms": round(statistics.fmean(lat), 2), "routes": routes, "jobs_after": health["jobs"],
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "command": " ".join(["python", "benchmarks/service_load.py", *map(shlex.quote, sys.argv[1:])])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [f"# eqsat serve under load ({summary['machine']})", "", f"Command: `{summary['command']}`", "",
             f"{summary['requests']} requests, {args.concurrency} concurrent, {summary['errors']} errors; "
             f"{summary['throughput_rps']} requests/s; latency p50 {summary['p50_ms']} ms, p99 "
             f"{summary['p99_ms']} ms. Jobs at the end: {summary['jobs_after']}.", "",
             "| route | n | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r} | {v['n']} | {v['p50_ms']} | {v['p99_ms']} |" for r, v in routes.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
