"""Guarded versions and shape buckets on a GPU: eqsat's dispatching loader against Triton's own JIT.

    python benchmarks/gpu_versions.py RUN_DIR [--kernel NAME] [--rounds N] [--out DIR] [--verify [--seeds N]]

For every kernel of the run (NVIDIA targets) and every production shape of its spec (the shape buckets,
`KernelSpec.production_shapes()`; in corpora/ragged.toml a width that satisfies a divisibility guard and
one that does not):

1. fresh random inputs (`build_tensors`, a seed per shape; outputs poisoned and reset before every run);
2. Triton's JIT of the same source (`fn[grid](...)`, the entry's constexprs and options), its TTGIR
   checked against the bucket's `input.ttgir`, run twice (deterministic);
3. eqsat: `eqsat.lowering.load(plan_dir, versions="all")` called like the original kernel: the loader
   picks the bucket and the candidate version by the call's arguments (or the fallback), verified or not;
   outputs compared bit for bit (raw bytes);
4. every bucket that has versions is also called at this shape through `select_in` (its guards checked
   on these arguments): so each guard runs on both sides, bit-identical on both;
5. timing: rounds of JIT / eqsat / JIT with `triton.testing.do_bench` medians (L2 flushed), both through
   prebound `CompiledKernel[grid]` runners; the two JIT timings give the noise;
6. dispatch overhead (CPU, on the small `launch` shape): µs per call of `k.select(...)`, of the whole
   dispatching call `k(...)`, of the prebound runner, and of the JIT's own `fn[grid](...)`;
7. the verified dispatch: `load(plan_dir)` (versions="verified": only versions whose folder's
   verified.json says bit-identical) at each shape; where it picks another kernel than the candidate
   (a version that failed or lacks its device check runs as the fallback), that kernel is checked and
   timed too. With `--verify`, benchmarks/gpu_verify_versions.py's check runs first on every plan folder
   (`--seeds` fresh random inputs per production shape) and writes the folders' verified.json here and
   OUT/versions_verified.json (imported on the CPU side with `eqsat runs verify-import`).

Writes OUT/gpu_versions_h200.json and .md, prints the table last. GPU-safe imports only (torch, triton,
the standard library, eqsat.lowering and eqsat.ingest; no xdsl/egglog), as benchmarks/gpu_bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eqsat  # noqa: E402

if str(ROOT) not in eqsat.__path__:
    eqsat.__path__.append(str(ROOT))

from eqsat.lowering.bench import (  # noqa: E402
    NOISE_FLOOR,
    _Case,
    copy_bandwidth,
    raw_equal,
    require_gpu,
    tensor_bytes,
)
from eqsat.lowering.irtext import strip_locations  # noqa: E402
from eqsat.lowering.loader import DispatchingKernel, load  # noqa: E402
from eqsat.lowering.rundir import read_run, read_spec  # noqa: E402

from eqsat.ingest.compile import load_function  # noqa: E402

DISPATCH_CALLS = 2000


def _bench(fn: Any, rep: int) -> float:
    from triton.testing import do_bench

    return do_bench(fn, warmup=25, rep=rep, return_mode="median")


def time_case(base: Any, opt: Any, rounds: int, rep: int) -> dict[str, Any]:
    b: list[float] = []
    o: list[float] = []
    noise: list[float] = []
    for _ in range(rounds):
        x = _bench(base, rep)
        y = _bench(opt, rep)
        z = _bench(base, rep)
        b += [x, z]
        o.append(y)
        noise.append(abs(x - z) / min(x, z))
    return {"jit_us": 1e3 * statistics.median(b), "eqsat_us": 1e3 * statistics.median(o),
            "jit_runs_us": [1e3 * v for v in b], "eqsat_runs_us": [1e3 * v for v in o], "noise": max(noise)}


def differences(a: Any, b: Any) -> dict[str, Any]:
    """Where two outputs differ: how many elements, the largest difference, the first index."""
    import torch

    ne = a.reshape(-1).view(torch.uint8).reshape(a.numel(), -1) != b.reshape(-1).view(torch.uint8).reshape(
        b.numel(), -1)
    bad = ne.any(dim=1)
    idx = torch.nonzero(bad).reshape(-1)
    first = int(idx[0]) if idx.numel() else None
    diff = (a.reshape(-1).double() - b.reshape(-1).double()).abs()
    diff = torch.where(torch.isnan(diff), torch.zeros_like(diff), diff)
    return {"elements": int(bad.sum()), "of": a.numel(), "max_abs": float(diff.max()),
            "first": None if first is None else [int(i) for i in torch.unravel_index(torch.tensor(first),
                                                                                     a.shape)],
            "values": None if first is None else [float(a.reshape(-1)[first]), float(b.reshape(-1)[first])]}


def dispatch_overhead(k: DispatchingKernel, case: _Case, n: int = DISPATCH_CALLS) -> dict[str, float]:
    """CPU µs per call: select only, the dispatching call, the prebound runner, the JIT's call."""
    import torch

    args, grid = case.args, case.grid

    def per_call(f: Any) -> float:
        for _ in range(50):
            f()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        return 1e6 * (t1 - t0) / n

    sel = k.select(**args, grid=grid)
    direct = DispatchingKernel.launch_of(sel)
    out = {"select_us": per_call(lambda: k.select(**args, grid=grid)),
           "dispatching_call_us": per_call(lambda: k(**args, grid=grid)),
           "prebound_runner_us": per_call(direct),
           "jit_call_us": per_call(lambda: case.fn[grid](**args, **case.jit_kwargs))}
    out["overhead_us"] = out["dispatching_call_us"] - out["prebound_runner_us"]
    return out


def bench_kernel(entry: Any, run_dir: Path, rounds: int, rep: int, seed: int, log: Any,
                 verify_seeds: int = 0) -> dict[str, Any]:
    import torch

    pdir = entry.plan_dir(run_dir)
    spec = read_spec(pdir)
    rec: dict[str, Any] = {"kernel": entry.kernel, "target": entry.target, "shapes": []}
    if spec is None or spec.kind != "python":
        rec["skipped"] = "no spec.json (IR-file kernel): no JIT baseline"
        return rec
    t0 = time.perf_counter()
    k = load(pdir, versions="all")  # the candidates, verified or not
    fn = load_function(spec)
    rec["load_s"] = round(time.perf_counter() - t0, 2)
    if verify_seeds:
        import gpu_verify_versions as gvv

        rec["verification"] = gvv.verify_kernel(k, spec, fn, run_dir, verify_seeds, log)
        gvv.write_records(run_dir, rec["verification"])
    kv = load(pdir)  # versions="verified": what a user's call dispatches
    rec["buckets"] = [{"bucket": b.name, "versions": [{"name": v.name, "guards": list(v.guards),
                                                      "predicted_ns": v.predicted_ns,
                                                      "fallback_ns": v.fallback_ns} for v in b.versions]}
                      for b in k.buckets]
    small = _Case(spec, spec.launch, fn, k, seed)
    small.run_jit()
    base = small.run(small.baseline_launch)
    rec["launch_bit_identical"] = all(raw_equal(base[n], small.run(small.optimized_launch)[n])
                                      for n in small.outputs)
    if entry.kernel in DISPATCH_KERNELS:
        rec["dispatch"] = dispatch_overhead(k, small)
    del small
    for i, (bucket, launch) in enumerate(spec.production_shapes()):
        case = _Case(spec, launch, fn, k, seed + 1 + i)
        shape: dict[str, Any] = {"shape": bucket, "grid": list(case.grid),
                                 "ints": {n: v for n, v in launch["args"].items()
                                          if isinstance(v, int) and not isinstance(v, bool)},
                                 "bytes": tensor_bytes(launch)}
        compiled = case.run_jit()
        bdir = next(b.plan_dir for b in k.buckets if b.name == bucket) \
            if any(b.name == bucket for b in k.buckets) else pdir
        shape["ttgir_matches_jit"] = strip_locations(compiled.asm["ttgir"]) == \
            strip_locations((bdir / "input.ttgir").read_text())
        base = case.run(case.baseline_launch)
        again = case.run(case.baseline_launch)
        shape["jit_deterministic"] = all(raw_equal(base[n], again[n]) for n in case.outputs)
        # the dispatching call itself (bucket and version picked by the arguments)
        case.reset()
        sel = k(**case.args, grid=case.grid)
        torch.cuda.synchronize()
        got = {n: case.tensors[n].clone() for n in case.outputs}
        shape["bucket"], shape["version"] = sel.bucket, sel.version or "fallback"
        shape["bit_identical"] = all(raw_equal(base[n], got[n]) for n in case.outputs)
        if not shape["bit_identical"]:
            shape["differences"] = {n: differences(base[n], got[n]) for n in case.outputs
                                    if not raw_equal(base[n], got[n])}
            again = case.run(DispatchingKernel.launch_of(sel))
            shape["eqsat_deterministic"] = all(raw_equal(got[n], again[n]) for n in case.outputs)
        # every bucket with versions, called at this shape: its guards on both sides
        forced = []
        for b in k.buckets:
            if not b.versions:
                continue
            s = k.select_in(b.name, **case.args, grid=case.grid)
            out = case.run(DispatchingKernel.launch_of(s))
            forced.append({"bucket": b.name, "version": s.version or "fallback",
                           "bit_identical": all(raw_equal(base[n], out[n]) for n in case.outputs)})
        shape["guard_checks"] = forced
        case.optimized_launch = DispatchingKernel.launch_of(sel)
        shape.update(time_case(case.baseline_launch, case.optimized_launch, rounds, rep))
        shape["speedup"] = shape["jit_us"] / shape["eqsat_us"]
        verified_dispatch(shape, case, kv, sel, base, rounds, rep)
        shape["jit_GBps"] = shape["bytes"] / (shape["jit_us"] * 1e-6) / 1e9
        tol = max(shape["noise"], NOISE_FLOOR)
        shape["measured"] = "faster" if shape["speedup"] > 1 + tol else \
            "slower" if shape["speedup"] < 1 - tol else "same"
        rec["shapes"].append(shape)
        log(f"{entry.kernel:28} {bucket:20} {shape['version']:>14} jit {shape['jit_us']:8.1f} us  eqsat "
            f"{shape['eqsat_us']:8.1f} us  x{shape['speedup']:.3f}  noise {100 * shape['noise']:.1f}%  "
            f"bits {'ok' if shape['bit_identical'] else 'DIFF'}  guards "
            + ",".join(f"{g['bucket']}:{g['version']}:{'ok' if g['bit_identical'] else 'DIFF'}"
                       for g in forced)
            + f"  verified: {shape['verified_version']} x{shape['verified_speedup']:.3f} "
              f"bits {'ok' if shape['verified_bit_identical'] else 'DIFF'}")
        del case
        torch.cuda.empty_cache()
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    return rec


def verified_dispatch(shape: dict[str, Any], case: _Case, kv: DispatchingKernel, sel: Any,
                      base: dict[str, Any], rounds: int, rep: int) -> None:
    """The verified loader's pick at this shape; checked and timed where it is not the candidate's."""
    sv = kv.select(**case.args, grid=case.grid)
    shape["verified_version"], shape["verified_reason"] = sv.version or "fallback", sv.reason
    if sv.bucket == sel.bucket and sv.version == sel.version:
        shape["verified_us"], shape["verified_speedup"] = shape["eqsat_us"], shape["speedup"]
        shape["verified_bit_identical"] = shape["bit_identical"]
        return
    launch = DispatchingKernel.launch_of(sv)
    out = case.run(launch)
    shape["verified_bit_identical"] = all(raw_equal(base[n], out[n]) for n in case.outputs)
    t = time_case(case.baseline_launch, launch, rounds, rep)
    shape["verified_us"], shape["verified_speedup"] = t["eqsat_us"], t["jit_us"] / t["eqsat_us"]
    shape["verified_jit_us"], shape["verified_noise"] = t["jit_us"], t["noise"]


DISPATCH_KERNELS = ("softmax_fp32_w1000", "softmax_bf16_w1000", "rmsnorm_bf16_h5000",
                    "liger_layer_norm_h1544")


def markdown(report: dict[str, Any]) -> str:
    out = [f"# Guarded versions and shape buckets on {report['device']}", "", "Command:", "",
           f"    {report['command']}", "",
           f"torch {report['torch']}, triton {report['triton']}, Python {report['python']}. Timing: "
           f"`do_bench` medians (L2 flushed), {report['rounds']} round(s) of JIT / eqsat / JIT per shape, "
           f"both through prebound `CompiledKernel[grid]` runners; noise = the two JIT timings' spread. "
           f"Copy: {report['copy']['GBps']:.0f} GB/s.", "",
           "Columns JIT µs .. guard on both sides: every candidate version (`load(..., versions=\"all\")`); "
           "verified dispatch: what `load(plan_dir)` (versions=\"verified\") runs, its speedup over the JIT "
           "and bits.", "",
           "| kernel | shape | grid | JIT µs | eqsat µs | speedup | noise % | measured | bucket | version | "
           "bits | guard on both sides | verified dispatch | verified speedup | verified bits |",
           "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | ---: | --- |"]
    for r in report["results"]:
        for s in r.get("shapes", []):
            guards = "; ".join(f"{g['bucket']}: {g['version']} {'same' if g['bit_identical'] else 'DIFF'}"
                               for g in s["guard_checks"]) or "-"
            out.append(f"| {r['kernel']} | {s['shape']} | {s['grid'][0]} | {s['jit_us']:.1f} | "
                       f"{s['eqsat_us']:.1f} | {s['speedup']:.3f} | {100 * s['noise']:.2f} | "
                       f"{s['measured']} | {s['bucket']} | {s['version']} | "
                       f"{'same' if s['bit_identical'] else '**DIFF**'} | {guards} | "
                       f"{s.get('verified_version', '-')} | {s.get('verified_speedup', float('nan')):.3f} | "
                       f"{'same' if s.get('verified_bit_identical') else '**DIFF**'} |")
    out += ["", "Dispatch overhead (CPU µs per call, small launch; overhead = dispatching call - prebound "
            "runner):", "", "| kernel | select | dispatching call | prebound runner | JIT call | overhead |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["results"]:
        d = r.get("dispatch")
        if d:
            out.append(f"| {r['kernel']} | {d['select_us']:.2f} | {d['dispatching_call_us']:.2f} | "
                       f"{d['prebound_runner_us']:.2f} | {d['jit_call_us']:.2f} | {d['overhead_us']:.2f} |")
    ver = report.get("verification")
    if ver:
        out += ["", f"Device verification ({ver['seeds']} seeds of fresh random inputs per production shape "
                "where the version's guards hold; a trial = the version's outputs torch.equal to the "
                "fallback's and the JIT's):", "",
                "| plan folder | version | bit-identical | trials | mismatches | shapes |",
                "| --- | --- | --- | ---: | ---: | --- |"]
        for rel, r in ver["folders"].items():
            for slug, e in r["versions"].items():
                out.append(f"| {rel} | {e.get('name', slug)} | {'yes' if e['bit_identical'] else '**no**'} | "
                           f"{e['trials']} | {e['mismatches']} | {', '.join(e['shapes']) or '-'} |")
    s = report["summary"]
    out += ["", f"Summary: {s['shapes']} shapes, bit-identical {s['bit_identical']}/{s['shapes']}, "
            f"guard checks bit-identical {s['guard_checks_ok']}/{s['guard_checks']}, JIT TTGIR = input.ttgir "
            f"{s['ttgir_matches_jit']}/{s['shapes']}, slower beyond noise: {s['slower'] or 'none'}; "
            f"verified dispatch bit-identical {s['verified_bit_identical']}/{s['shapes']}."]
    return "\n".join(out) + "\n"


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    shapes = [s for r in results for s in r.get("shapes", [])]
    checks = [g for s in shapes for g in s["guard_checks"]]
    return {"shapes": len(shapes), "bit_identical": sum(s["bit_identical"] for s in shapes),
            "guard_checks": len(checks), "guard_checks_ok": sum(g["bit_identical"] for g in checks),
            "ttgir_matches_jit": sum(s["ttgir_matches_jit"] for s in shapes),
            "verified_bit_identical": sum(bool(s.get("verified_bit_identical")) for s in shapes),
            "slower": [f"{r['kernel']}/{s['shape']}" for r in results for s in r.get("shapes", [])
                       if s["measured"] == "slower"]}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="gpu_versions.py")
    ap.add_argument("run_dir")
    ap.add_argument("--kernel", action="append", dest="kernels")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rep", type=int, default=60, help="do_bench rep (ms)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--verify", action="store_true", help="device-check every version first "
                    "(benchmarks/gpu_verify_versions.py) and write verified.json")
    ap.add_argument("--seeds", type=int, default=3, help="--verify: seeds per production shape")
    args = ap.parse_args(argv)
    torch = require_gpu()
    import triton

    run_dir = Path(args.run_dir)
    results = []
    for entry in read_run(run_dir):
        if entry.target not in ("h100", "h200") or entry.status != "ok":
            continue
        if args.kernels and entry.kernel not in args.kernels:
            continue
        try:
            results.append(bench_kernel(entry, run_dir, args.rounds, args.rep, args.seed,
                                        lambda line: print(line, flush=True),
                                        args.seeds if args.verify else 0))
        except Exception as e:  # noqa: BLE001 - one kernel's failure is its record, the others go on
            results.append({"kernel": entry.kernel, "target": entry.target,
                            "error": f"{type(e).__name__}: {e}"})
            print(f"{entry.kernel}: ERROR {type(e).__name__}: {e}", flush=True)
    props = torch.cuda.get_device_properties(0)
    report = {"command": "python benchmarks/gpu_versions.py " + " ".join(shlex.quote(a) for a in argv),
              "device": props.name, "torch": torch.__version__, "triton": triton.__version__,
              "python": platform.python_version(), "rounds": args.rounds, "copy": copy_bandwidth(),
              "results": results, "summary": summarize(results)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.verify:
        import gpu_verify_versions as gvv

        folders = {rel: r for res in results for rel, r in res.get("verification", {}).items()}
        report["verification"] = gvv.report(folders, args.seeds, report["command"])
        (out / "versions_verified.json").write_text(json.dumps(report["verification"], indent=1) + "\n")
    (out / "gpu_versions_h200.json").write_text(json.dumps(report, indent=1) + "\n")
    md = markdown(report)
    (out / "gpu_versions_h200.md").write_text(md)
    print(md)
    s = report["summary"]
    return 0 if s["verified_bit_identical"] == s["shapes"] else 1


if __name__ == "__main__":
    sys.exit(main())
