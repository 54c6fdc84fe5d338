"""GPU side of benchmarks/alternatives.py: time each prepared alternative of a kernel against Triton's JIT.

For each `DIR/<kernel>/h200/` that `alternatives.py prepare` wrote (input.ttgir, spec.json, vNN.ttgir,
variants.json), on a GPU machine with only torch and triton (no xdsl/egglog; imports as
benchmarks/gpu_bench.py):

1. every `vNN.ttgir` is compiled first, in parallel worker processes (forked before CUDA starts), which
   fills Triton's cache so that the timed process only loads them;
2. at the manifest's `launch` and `bench` sizes (random inputs, seeds s and s+1): the JIT baseline (its TTGIR
   must equal input.ttgir), then each variant through `eqsat.lowering.loader`; every output must be bit
   for bit the baseline's (lowering/bench.py's checks);
3. at the bench size, `rounds` rounds of baseline, v00, v01, ..., baseline (`do_bench` medians, L2 flushed
   before each launch); the two baselines of a round give the kernel's noise figure.

    python benchmarks/alternatives_gpu.py DIR --out FILE.json [--rounds 3] [--kernel NAME] [--jobs 12]

The JSON holds per kernel the baseline time and noise and per variant its time, speedup and checks;
`alternatives.py report` joins it with the predictions.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
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

from eqsat.errors import EqsatError  # noqa: E402

TARGET = "h200"


def _precompile(item: tuple[str, str]) -> tuple[str, str, str | None]:
    from eqsat.lowering.loader import compile_ttgir
    from eqsat.lowering.rundir import read_spec

    kdir, name = item
    try:
        compile_ttgir(Path(kdir) / name, TARGET, read_spec(Path(kdir)))
        return kdir, name, None
    except Exception as e:  # noqa: BLE001 - reported, the variant is skipped later
        return kdir, name, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"


def precompile(dirs: list[Path], jobs: int) -> dict[tuple[str, str], str]:
    items = []
    for d in dirs:
        meta = json.loads((d / "variants.json").read_text())
        items += [(str(d), v["file"]) for v in meta["variants"]]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        results = pool.map(_precompile, items, chunksize=1)
    return {(k, n): err for k, n, err in results if err}


class VariantCrash(Exception):
    """A variant broke the CUDA context (an illegal/misaligned access): the kernel's process must end."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(message)
        self.file = file
        self.message = message


def bench_kernel(kdir: Path, rounds: int, seed: int, failed: dict[tuple[str, str], str]) -> dict[str, Any]:
    import torch
    from eqsat.lowering.bench import _Case, raw_equal
    from eqsat.lowering.irtext import strip_locations
    from eqsat.lowering.loader import load
    from eqsat.lowering.rundir import read_spec
    from triton.testing import do_bench

    from eqsat.ingest.compile import load_function

    meta = json.loads((kdir / "variants.json").read_text())
    spec = read_spec(kdir)
    assert spec is not None and spec.launch is not None
    fn = load_function(spec)
    rec: dict[str, Any] = {"kernel": meta["kernel"], "before_ns": meta["before_ns"], "variants": []}
    loaded = []
    for v in meta["variants"]:
        vr = {k: v[k] for k in ("file", "label", "kinds", "how", "after_ns", "predicted_speedup", "choices")}
        err = failed.get((str(kdir), v["file"]))
        if err is None:
            try:
                loaded.append((vr, load(kdir, ttgir=v["file"])))
            except EqsatError as e:
                err = str(e)
        if err is not None:
            vr["error"] = err
        rec["variants"].append(vr)
    if not loaded:
        rec["error"] = "no variant compiled"
        return rec
    # the control: the input program itself through the loader (the variants' launch path); speedups are
    # also reported against it, which separates a plan's effect from the launch path's
    identity = {"file": "input.ttgir", "label": "identity (input through the loader)", "kinds": [],
                "how": "control", "after_ns": meta["before_ns"], "predicted_speedup": 1.0, "choices": []}
    try:
        loaded.append((identity, load(kdir, ttgir="input.ttgir")))
    except EqsatError as e:
        identity["error"] = str(e)
    rec["identity"] = identity
    input_ttgir = (kdir / "input.ttgir").read_text()
    # the timed size: the first production shape (declared shapes, else the bench table, else the launch;
    # benchmarks/alternatives.py `timed_launch` prices the same one)
    name, production = spec.production_shapes()[0]
    sizes = [("launch", spec.launch)] + ([(name, production)] if production != spec.launch else [])
    case = None
    launchers: list[Any] = []
    for i, (label, launch) in enumerate(sizes):
        case = _Case(spec, launch, fn, loaded[0][1], seed + i)
        compiled = case.run_jit()
        rec.setdefault("ttgir_matches_jit", True)
        rec["ttgir_matches_jit"] &= strip_locations(compiled.asm["ttgir"]) == strip_locations(input_ttgir)
        base = case.run(case.baseline_launch)
        launchers = []
        for vr, opt in loaded:
            if vr.get("bit_identical") is False:
                launchers.append(None)
                continue
            launch_fn = None
            try:
                launch_fn = opt.launcher(**case.args, grid=case.grid)
                out = case.run(launch_fn)
                same = all(raw_equal(base[n], out[n]) for n in case.outputs)
            except Exception as e:  # noqa: BLE001 - a variant fails alone
                vr["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                if "CUDA error" in str(e) or type(e).__name__ == "AcceleratorError":
                    raise VariantCrash(vr["file"], vr["error"]) from None
                same = False
            vr["bit_identical"] = same
            vr.setdefault("checked_sizes", []).append(label)
            launchers.append(launch_fn if same else None)
    assert case is not None and case.baseline_launch is not None
    rec["timed_size"] = sizes[-1][0]
    rec["ctas"] = case.grid[0] * case.grid[1] * case.grid[2]
    times: dict[int, list[float]] = {i: [] for i, f in enumerate(launchers) if f is not None}
    base_ms: list[float] = []
    noise: list[float] = []

    def bench(f: Any) -> float:
        return do_bench(f, warmup=10, rep=40, return_mode="median")

    for _ in range(rounds):
        a = bench(case.baseline_launch)
        for i in times:
            times[i].append(bench(launchers[i]))
        b = bench(case.baseline_launch)
        base_ms += [a, b]
        noise.append(abs(a - b) / min(a, b))
    rec["baseline_ns"] = statistics.median(base_ms) * 1e6
    rec["baseline_runs_ms"] = base_ms
    rec["noise"] = max(noise)
    for i, ms in times.items():
        vr = loaded[i][0]
        vr["measured_ns"] = statistics.median(ms) * 1e6
        vr["runs_ms"] = ms
        vr["measured_speedup"] = rec["baseline_ns"] / vr["measured_ns"]
    ident_ns = identity.get("measured_ns")
    if ident_ns:
        for vr, _ in loaded:
            if "measured_ns" in vr:
                vr["measured_speedup_vs_identity"] = ident_ns / vr["measured_ns"]
    del case
    torch.cuda.empty_cache()
    return rec


def _child(kdir: Path, rounds: int, seed: int, failed: dict[tuple[str, str], str], out: Path) -> None:
    from eqsat.lowering.bench import require_gpu
    from eqsat.lowering.loader import ensure_allocator

    torch = require_gpu(str(kdir))
    ensure_allocator()
    try:
        rec = bench_kernel(kdir, rounds, seed, failed)
    except VariantCrash as e:
        rec = {"crashed": e.file, "error": e.message}
    except Exception as e:  # noqa: BLE001 - one kernel fails alone
        rec = {"kernel": kdir.parent.name, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
    rec["device"] = torch.cuda.get_device_name()
    out.write_text(json.dumps(rec))


def isolated(
    kdir: Path, rounds: int, seed: int, failed: dict[tuple[str, str], str], attempts: int = 4
) -> dict[str, Any]:
    """`bench_kernel` in a forked process (CUDA starts there, never in this one): a variant that breaks
    the CUDA context is recorded as crashed and the kernel is measured again without it."""
    import tempfile

    failed = dict(failed)
    crashed: list[dict[str, str]] = []
    ctx = multiprocessing.get_context("fork")
    rec: dict[str, Any] = {}
    for _ in range(attempts):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "rec.json"
            proc = ctx.Process(target=_child, args=(kdir, rounds, seed, failed, out))
            proc.start()
            proc.join()
            rec = (
                json.loads(out.read_text())
                if out.is_file()
                else {"kernel": kdir.parent.name, "error": f"worker died with exit code {proc.exitcode}"}
            )
        if "crashed" not in rec:
            break
        crashed.append({"file": rec["crashed"], "error": rec["error"]})
        failed[(str(kdir), rec["crashed"])] = "crashed: " + rec["error"]
    rec["crashed"] = crashed
    return rec


def _warm_up(seconds: float) -> None:
    """Keep the GPU busy with 8192^3 fp16 matmuls for `seconds` (the first kernels of a cold machine ran
    with 5-17% baseline spread before the clocks settled)."""
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(8):
            a = (a @ a).clamp_(-1, 1)
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="alternatives_gpu.py", description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kernel", action="append")
    ap.add_argument("--first", action="append", default=[], help="measure these kernels first")
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    ap.add_argument("--warmup-s", type=float, default=0.0,
                    help="run fp16 matmuls this long first (in a child) so the clocks have ramped up")
    args = ap.parse_args(argv)
    dirs = sorted(p.parent for p in args.dir.glob(f"*/{TARGET}/variants.json"))
    if args.kernel:
        dirs = [d for d in dirs if d.parent.name in args.kernel]
    dirs.sort(key=lambda d: (d.parent.name not in args.first, d.parent.name))
    t0 = time.perf_counter()
    failed = precompile(dirs, args.jobs)
    if args.warmup_s > 0:
        ctx = multiprocessing.get_context("fork")
        proc = ctx.Process(target=_warm_up, args=(args.warmup_s,))
        proc.start()
        proc.join()
    print(
        f"precompiled {len(dirs)} kernels' variants in {time.perf_counter() - t0:.1f} s "
        f"({len(failed)} failed)",
        flush=True,
    )
    import torch
    import triton

    results = []
    for d in dirs:
        t1 = time.perf_counter()
        rec = isolated(d, args.rounds, args.seed, failed)
        rec["seconds"] = round(time.perf_counter() - t1, 2)
        results.append(rec)
        if "baseline_ns" in rec:
            parts = [
                f"{v['file'][:3]} {v.get('measured_speedup', float('nan')):.3f}/{v['predicted_speedup']:.3f}"
                for v in rec["variants"]
            ]
            print(
                f"{rec['kernel'][:26]:26} base {rec['baseline_ns'] / 1e3:8.1f} us noise "
                f"{100 * rec['noise']:.1f}%  " + " ".join(parts),
                flush=True,
            )
        else:
            print(f"{rec['kernel'][:26]:26} ERROR {rec.get('error')}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "device": rec.get("device"),
                    "torch": torch.__version__,
                    "triton": triton.__version__,
                    "rounds": args.rounds,
                    "command": "python benchmarks/alternatives_gpu.py " + " ".join(argv or sys.argv[1:]),
                    "results": results,
                },
                indent=1,
            )
            + "\n"
        )
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
