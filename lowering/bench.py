"""The GPU bench of a run directory: every optimized kernel against Triton's JIT compile of its source.

For each kernel x target of `run.json` (NVIDIA targets only; others are skipped with the reason):

1. Arguments from the spec's launch tables (`eqsat.ingest.launch.build_tensors`: random data, never zeros):
   the correctness `launch` (seed s) and, when the manifest gives one, the larger `bench` launch (seed
   s+1), which is also the one timed. Before every run each output is reset to its initial bytes
   (poison, 0xFF, for outputs that are only written).
2. Baseline: `fn[grid](*args, **constexprs, num_warps=, num_stages=)` through Triton's JIT, with the check
   that the JIT's TTGIR equals the run's `input.ttgir` (locations stripped), at both sizes. The baseline
   is run twice to see that it is deterministic.
3. Optimized: `eqsat.lowering.loader.load(plan_dir)` called with the same runtime arguments. Every output
   must be bit-identical to the baseline's (`torch.equal` on the raw bytes).
4. Timing with `triton.testing.do_bench` (warm-up, median, L2 flushed before each launch) in rounds of
   baseline, optimized, baseline: the two baselines give the noise figure. Both are launched through the
   same `CompiledKernel[grid]` path (prebound arguments), so Python dispatch is the same on both sides.
   Achieved bandwidth = the spec's tensor bytes (every input and output tensor once) / time, against a
   measured device-to-device copy (1 GiB, bytes read + written).
5. The predicted order (run.json `cost_before` / `cost_after`) against the measured one: measured is
   `faster`/`slower` only beyond the noise figure (at least `NOISE_FLOOR`), else `same`.

`bench_run` returns the report (a JSON-able dict); `markdown` renders it. Imports the standard library,
triton, torch and `eqsat.ingest` only (no xdsl/egglog), so it runs on the GPU machines.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eqsat.lowering.irtext import strip_locations
from eqsat.lowering.loader import ensure_allocator, load
from eqsat.lowering.rundir import RunEntry, read_run, read_spec

from eqsat.errors import EqsatError
from eqsat.ingest.compile import constexpr_values, load_function
from eqsat.ingest.launch import TORCH_DTYPES, build_tensors, grid3, init_of, is_output, is_view, numel
from eqsat.ingest.manifest import KernelSpec


def _nvidia_arch(target: str) -> int | None:
    """The sm number of an NVIDIA target (h100, h200, or a calibrated card's parameter file), else None."""
    from eqsat.targets import TARGETS

    t = TARGETS.get(target)
    return int(t.arch) if t is not None and t.backend == "cuda" else None


COPY_BYTES = 1 << 30
# Below this relative difference two timings count as the same even when the two baselines agreed more
# closely: identical binaries were seen to differ by up to ~1% on an H100 (bench_identity_h100.md).
NOISE_FLOOR = 0.02


def require_gpu(where: str | None = None) -> Any:
    """torch with a visible CUDA GPU, or one `EqsatError` line (naming `where`) saying what is missing."""
    try:
        import torch
    except ImportError:
        raise EqsatError("eqsat bench needs torch (with CUDA) to run kernels; torch is not installed",
                         file=where) from None
    if not torch.cuda.is_available() or torch.version.hip is not None:
        raise EqsatError("no CUDA GPU is visible (torch.cuda.is_available() is False): eqsat bench runs "
                         "the kernels on an NVIDIA GPU", file=where)
    return torch


def copy_bandwidth(nbytes: int = COPY_BYTES) -> dict[str, float]:
    """Device-to-device copy of `nbytes` (torch), median time; bandwidth counts bytes read + written."""
    import torch
    from triton.testing import do_bench

    buffers = [torch.randint(0, 256, (nbytes,), dtype=torch.uint8, device="cuda")]
    buffers.append(torch.empty_like(buffers[0]))
    ms = do_bench(lambda: buffers[1].copy_(buffers[0]), warmup=50, rep=300, return_mode="median")
    assert torch.equal(buffers[1], buffers[0])
    buffers.clear()
    torch.cuda.empty_cache()
    return {"bytes": nbytes, "ms": ms, "GBps": 2 * nbytes / (ms * 1e-3) / 1e9}


def tensor_bytes(launch: dict[str, Any]) -> int:
    """Bytes of every tensor argument of a launch table (inputs and outputs once each; a view's bytes are
    its base's, counted once)."""
    total = 0
    for v in launch["args"].values():
        if isinstance(v, dict) and not is_view(v):
            total += numel(v["shape"]) * TORCH_DTYPES[v["dtype"]][1]
    return total


def raw_equal(a: Any, b: Any) -> bool:
    """Bitwise equality of two tensors (NaN payloads and signed zeros included)."""
    import torch

    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return torch.equal(a.contiguous().reshape(-1).view(torch.uint8),
                       b.contiguous().reshape(-1).view(torch.uint8))


def unwritten(t: Any) -> int:
    """Elements whose bytes are all still 0xFF (the poison) after a run."""
    import torch

    b = t.contiguous().reshape(-1).view(torch.uint8).reshape(t.numel(), t.element_size())
    return int((b == 0xFF).all(dim=1).sum().item())


class _Case:
    """One kernel at one launch size: arguments, outputs and their initial bytes, both launchers."""

    def __init__(self, spec: KernelSpec, launch: dict[str, Any], fn: Any, optimized: Any, seed: int) -> None:
        self.spec = dataclasses.replace(spec, launch=launch)
        self.grid = grid3(self.spec)
        # every tensor of the launch (storage tensors that only views of it are passed from included)
        self.tensors = build_tensors(launch, "cuda", seed=seed)
        self.args = {n: self.tensors[n] if n in self.tensors else launch["args"][n]
                     for n, ty in spec.signature.items() if ty != "constexpr"}
        self.outputs = [n for n, v in launch["args"].items() if isinstance(v, dict) and is_output(v)]
        self.poisoned = [n for n in self.outputs
                         if init_of(launch["args"][n])[0] == "poison"]
        self.initial = {n: self.tensors[n].clone() for n in self.outputs}
        self.fn = fn
        kw: dict[str, Any] = constexpr_values(spec)  # "tl.float32" -> tl.float32, none -> None
        opts: dict[str, Any] = {"num_warps": spec.num_warps, "num_stages": spec.num_stages}
        if spec.num_ctas != 1:
            opts["num_ctas"] = spec.num_ctas
        opts.update(spec.options)
        self.jit_kwargs = {**kw, **opts}
        params = {p.name: p for p in fn.params}
        full = []
        for name in fn.arg_names:
            if name in self.args:
                full.append(self.args[name])
            elif name in kw:
                full.append(kw[name])
            else:  # a constexpr with a default that the spec leaves out
                d = params[name].default
                full.append(getattr(d, "value", d))
        self.full_args = full
        self.optimized_launch = optimized.launcher(**self.args, grid=self.grid)
        self.jit_compiled: Any = None
        self.baseline_launch: Callable[[], None] | None = None

    def reset(self) -> None:
        for n in self.outputs:
            self.tensors[n].copy_(self.initial[n])

    def run_jit(self) -> Any:
        """Launch through the JIT (compiling on first use); returns the JIT's CompiledKernel."""
        import torch

        self.reset()
        compiled = self.fn[self.grid](**self.args, **self.jit_kwargs)
        torch.cuda.synchronize()
        if self.jit_compiled is None:
            self.jit_compiled = compiled
            runner = compiled[self.grid]
            full = self.full_args
            self.baseline_launch = lambda: runner(*full)
        return compiled

    def run(self, launch: Callable[[], None]) -> dict[str, Any]:
        import torch

        self.reset()
        launch()
        torch.cuda.synchronize()
        return {n: self.tensors[n].clone() for n in self.outputs}


def _check_size(case: _Case, input_ttgir: str, label: str) -> dict[str, Any]:
    """Correctness at one size: TTGIR of the JIT vs input.ttgir, baseline determinism, bit-identity."""
    compiled = case.run_jit()
    rec: dict[str, Any] = {"size": label, "grid": list(case.grid), "outputs": case.outputs}
    rec["ttgir_matches_jit"] = strip_locations(compiled.asm["ttgir"]) == strip_locations(input_ttgir)
    assert case.baseline_launch is not None
    base = case.run(case.baseline_launch)
    again = case.run(case.baseline_launch)
    rec["baseline_deterministic"] = all(raw_equal(base[n], again[n]) for n in case.outputs)
    opt = case.run(case.optimized_launch)
    diff = [n for n in case.outputs if not raw_equal(base[n], opt[n])]
    rec["bit_identical"] = not diff
    if diff:
        rec["differing_outputs"] = diff
    rec["unwritten_fraction"] = {n: unwritten(base[n]) / max(1, base[n].numel()) for n in case.poisoned}
    return rec


def _time(case: _Case, rounds: int) -> dict[str, Any]:
    from triton.testing import do_bench

    assert case.baseline_launch is not None
    base: list[float] = []
    opt: list[float] = []
    noise: list[float] = []
    for _ in range(rounds):
        a = do_bench(case.baseline_launch, warmup=25, rep=100, return_mode="median")
        o = do_bench(case.optimized_launch, warmup=25, rep=100, return_mode="median")
        b = do_bench(case.baseline_launch, warmup=25, rep=100, return_mode="median")
        base += [a, b]
        opt.append(o)
        noise.append(abs(a - b) / min(a, b))
    return {"baseline_ms": statistics.median(base), "optimized_ms": statistics.median(opt),
            "baseline_runs_ms": base, "optimized_runs_ms": opt, "noise": max(noise)}


def _verdict(ratio: float | None, tolerance: float) -> str | None:
    if ratio is None:
        return None
    if ratio > 1 + tolerance:
        return "faster"
    if ratio < 1 - tolerance:
        return "slower"
    return "same"


def bench_entry(entry: RunEntry, run_dir: Path, rounds: int, seed: int, copy_gbps: float) -> dict[str, Any]:
    """Check and time one kernel x target of a run; returns its record (with `skipped` or `error`)."""
    import torch

    rec: dict[str, Any] = {"kernel": entry.kernel, "target": entry.target, "status": entry.status,
                           "changed": entry.changed, "cost_before": entry.cost_before,
                           "cost_after": entry.cost_after}
    if _nvidia_arch(entry.target) is None:
        rec["skipped"] = f"target {entry.target}: eqsat bench runs NVIDIA (cuda) plans only"
        return rec
    pdir = entry.plan_dir(run_dir)
    if not (pdir / "optimized.ttgir").is_file():
        why = f"; error: {entry.error}" if entry.error else ""
        rec["skipped"] = f"no optimized.ttgir (optimize status '{entry.status}'{why})"
        return rec
    spec = read_spec(pdir)
    if spec is None or spec.kind != "python" or spec.launch is None:
        rec["skipped"] = "no spec.json with a launch table (IR-file kernel): no JIT baseline to compare"
        return rec
    input_path = pdir / "input.ttgir"
    if not input_path.is_file():
        raise EqsatError("no input.ttgir in the plan directory", file=str(pdir))
    input_ttgir = input_path.read_text()
    t0 = time.perf_counter()
    optimized = load(pdir)
    fn = load_function(spec)
    sizes = [("launch", spec.launch)] + ([("bench", spec.bench)] if spec.bench else [])
    checks = []
    case: _Case | None = None
    for i, (label, launch) in enumerate(sizes):
        case = _Case(spec, launch, fn, optimized, seed + i)
        checks.append(_check_size(case, input_ttgir, label))
    assert case is not None
    rec["checks"] = checks
    rec["bit_identical"] = all(c["bit_identical"] for c in checks)
    rec["ttgir_matches_jit"] = all(c["ttgir_matches_jit"] for c in checks)
    rec["baseline_deterministic"] = all(c["baseline_deterministic"] for c in checks)
    timed = sizes[-1][1]
    grid = case.grid
    rec["timed_size"] = sizes[-1][0]
    rec["ctas"] = grid[0] * grid[1] * grid[2]
    rec["bytes"] = tensor_bytes(timed)
    rec.update(_time(case, rounds))
    rec["speedup"] = rec["baseline_ms"] / rec["optimized_ms"]
    for side in ("baseline", "optimized"):
        gbps = rec["bytes"] / (rec[f"{side}_ms"] * 1e-3) / 1e9
        rec[f"{side}_GBps"] = gbps
        rec[f"{side}_copy_fraction"] = gbps / copy_gbps
    predicted = (entry.cost_before / entry.cost_after
                 if entry.cost_before is not None and entry.cost_after else None)
    rec["predicted_speedup"] = predicted
    rec["predicted"] = _verdict(predicted, 1e-9)
    rec["measured"] = _verdict(rec["speedup"], max(rec["noise"], NOISE_FLOOR))
    rec["order_agrees"] = None if predicted is None else rec["predicted"] == rec["measured"]
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    del case
    torch.cuda.empty_cache()
    return rec


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman rank correlation (ties get average ranks); None for fewer than 3 pairs or no spread."""
    if len(xs) < 3:
        return None

    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r

    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    if sx == 0 or sy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True)) / (sx * sy)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    timed = [r for r in results if "speedup" in r]
    noise = [r["noise"] for r in timed]
    preds = [r for r in timed if r.get("predicted_speedup") is not None]
    costed = [r for r in timed if r.get("cost_before") is not None]
    return {
        "entries": len(results),
        "benched": len(timed),
        "skipped": sum(1 for r in results if "skipped" in r),
        "errors": sum(1 for r in results if "error" in r),
        "bit_identical": sum(1 for r in timed if r["bit_identical"]),
        "ttgir_matches_jit": sum(1 for r in timed if r["ttgir_matches_jit"]),
        "baseline_deterministic": sum(1 for r in timed if r["baseline_deterministic"]),
        "noise_median": statistics.median(noise) if noise else None,
        "noise_max": max(noise) if noise else None,
        "speedup_geomean": (math.exp(statistics.fmean(math.log(r["speedup"]) for r in timed))
                            if timed else None),
        "baseline_copy_fraction_median": (statistics.median(r["baseline_copy_fraction"] for r in timed)
                                          if timed else None),
        "order_agrees": sum(1 for r in preds if r["order_agrees"]),
        "with_prediction": len(preds),
        "spearman_predicted_vs_measured_speedup": spearman([r["predicted_speedup"] for r in preds],
                                                           [r["speedup"] for r in preds]),
        "spearman_cost_before_vs_baseline_time": spearman([r["cost_before"] for r in costed],
                                                          [r["baseline_ms"] for r in costed]),
    }


def bench_run(run_dir: str | Path, kernels: list[str] | None = None, rounds: int = 2, seed: int = 0,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Check and time every NVIDIA entry of a run directory; the report as a JSON-able dict."""
    run_path = Path(run_dir)
    entries = read_run(run_path)
    if kernels:
        known = {e.kernel for e in entries}
        unknown = [k for k in kernels if k not in known]
        if unknown:
            raise EqsatError(f"kernel(s) not in run.json: {', '.join(unknown)}",
                             file=str(run_path / "run.json"))
        entries = [e for e in entries if e.kernel in kernels]
    if rounds < 1:
        raise EqsatError(f"--repeat must be at least 1, got {rounds}")
    torch = require_gpu(str(run_dir))
    import triton

    ensure_allocator()
    cap = torch.cuda.get_device_capability()
    props = torch.cuda.get_device_properties(0)
    copy = copy_bandwidth()
    log(f"device {torch.cuda.get_device_name()} sm_{cap[0]}{cap[1]}, copy {copy['GBps']:.0f} GB/s")
    results: list[dict[str, Any]] = []
    for entry in entries:
        try:
            arch = _nvidia_arch(entry.target)
            if arch is not None and cap != divmod(arch, 10):
                rec = {"kernel": entry.kernel, "target": entry.target,
                       "skipped": f"device is sm_{cap[0]}{cap[1]}; {entry.target} plans are cuda:{arch}"}
            else:
                rec = bench_entry(entry, run_path, rounds, seed, copy["GBps"])
        except EqsatError as e:
            rec = {"kernel": entry.kernel, "target": entry.target, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - one kernel fails alone; the bench goes on
            first = next((ln for ln in str(e).splitlines() if ln.strip()), "")
            rec = {"kernel": entry.kernel, "target": entry.target,
                   "error": f"{type(e).__name__}: {first[:300]}"}
        results.append(rec)
        log(_line(rec))
    return {
        "run_dir": str(run_dir),
        "device": torch.cuda.get_device_name(),
        "capability": list(cap),
        "sm_count": props.multi_processor_count,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "rounds": rounds,
        "seed": seed,
        "copy_bandwidth": copy,
        "summary": summarize(results),
        "results": results,
    }


def ok(report: dict[str, Any]) -> bool:
    """Every benched kernel bit-identical with the JIT's TTGIR matching, and no errors."""
    s = report["summary"]
    return s["errors"] == 0 and s["bit_identical"] == s["benched"] and s["ttgir_matches_jit"] == s["benched"]


def _line(r: dict[str, Any]) -> str:
    head = f"{r['kernel'][:28]:28} {r['target']:6}"
    if "skipped" in r:
        return f"{head} SKIP  {r['skipped']}"
    if "error" in r:
        return f"{head} ERROR {r['error']}"
    same = "bits=" + ("ok" if r["bit_identical"] else "DIFF") + " ttgir=" + ("ok" if r["ttgir_matches_jit"]
                                                                          else "DIFF")
    return (f"{head} {same} base {r['baseline_ms'] * 1e3:9.1f} us  opt {r['optimized_ms'] * 1e3:9.1f} us  "
            f"x{r['speedup']:.3f}  noise {100 * r['noise']:.1f}%  {r['baseline_copy_fraction']:.0%} of copy")


def _pct(v: float | None) -> float | None:
    return None if v is None else 100 * v


def _fmt(v: Any, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def markdown(report: dict[str, Any], command: str = "") -> str:
    """The report as a markdown page: environment, summary, one table row per kernel, skips and errors."""
    s = report["summary"]
    c = report["copy_bandwidth"]
    out = [f"# eqsat bench: `{report['run_dir']}`", ""]
    if command:
        out += ["Command:", "", f"    {command}", ""]
    out += [f"Device: {report['device']} (sm_{report['capability'][0]}{report['capability'][1]}, "
            f"{report['sm_count']} SMs), torch {report['torch']}, triton {report['triton']}, "
            f"Python {report['python']}. Timing: `triton.testing.do_bench` medians (L2 flushed before "
            f"each launch), {report['rounds']} round(s) of baseline / optimized / baseline per kernel.",
            "",
            f"Device-to-device copy ({c['bytes'] / 2**30:.0f} GiB, read + write counted): "
            f"{c['GBps']:.0f} GB/s ({c['ms']:.3f} ms).", "",
            f"Summary: {s['benched']} benched, {s['skipped']} skipped, {s['errors']} errors; "
            f"bit-identical {s['bit_identical']}/{s['benched']}, JIT TTGIR = input.ttgir "
            f"{s['ttgir_matches_jit']}/{s['benched']}, deterministic baseline "
            f"{s['baseline_deterministic']}/{s['benched']}; noise (baseline vs baseline) median "
            f"{_fmt(_pct(s['noise_median']), '.2f')}%, max "
            f"{_fmt(_pct(s['noise_max']), '.2f')}%; speedup geomean "
            f"{_fmt(s['speedup_geomean'], '.3f')}; baseline achieved bandwidth median "
            f"{_fmt(_pct(s['baseline_copy_fraction_median']), '.0f')}% "
            f"of copy; predicted order agrees {s['order_agrees']}/{s['with_prediction']}; Spearman "
            f"(predicted vs measured speedup) {_fmt(s['spearman_predicted_vs_measured_speedup'], '.2f')}, "
            f"(cost_before vs baseline time) {_fmt(s['spearman_cost_before_vs_baseline_time'], '.2f')}.", "",
            "| kernel | target | bits | TTGIR=JIT | CTAs | MiB | baseline us | optimized us | speedup | "
            "noise % | GB/s | % copy | predicted | measured |",
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in report["results"]:
        if "speedup" not in r:
            continue
        out.append(
            f"| {r['kernel']} | {r['target']} | {'same' if r['bit_identical'] else '**DIFF**'} | "
            f"{'yes' if r['ttgir_matches_jit'] else '**no**'} | {r['ctas']} | {r['bytes'] / 2**20:.1f} | "
            f"{r['baseline_ms'] * 1e3:.1f} | {r['optimized_ms'] * 1e3:.1f} | {r['speedup']:.3f} | "
            f"{100 * r['noise']:.2f} | {r['baseline_GBps']:.0f} | {100 * r['baseline_copy_fraction']:.0f} | "
            f"{_fmt(r['predicted_speedup'], '.3f')} {r['predicted'] or ''} | {r['measured']} |")
    other = [r for r in report["results"] if "speedup" not in r]
    if other:
        out += ["", "Not benched:", ""]
        for r in other:
            why = r.get("skipped") or "ERROR " + r.get("error", "")
            out.append(f"- {r['kernel']} ({r['target']}): {why}")
    return "\n".join(out) + "\n"
