"""Measure shared-memory wavefronts and bank conflicts on an NVIDIA GPU with Nsight Compute (GPU side).

Two sets of kernels, each launched exactly once under `ncu` (so totals are per launch, at a known grid):

* corpus kernels of a manifest (default corpora/project.toml), launched with the JIT and the manifest's
  `launch` table (`eqsat.ingest.launch.build_args`, `grid3`), as `check_jit_equivalence.py` does;
* the Gluon transposes of `gluon_transpose_variants.py` (same kernel, only the shared layout differs), on
  a grid that fills the GPU; these are also timed (`triton.testing.do_bench`, median) outside ncu, and
  checked bit-exact against `x.T` first, each in a child process so that a variant that faults (e.g. a
  misaligned vector access into a padded buffer) is recorded and skipped instead of killing the run.

Counters read (those the installed ncu knows; the list it knows is saved too):
`l1tex__data_pipe_lsu_wavefronts_mem_shared_op_{ld,st}.sum`,
`l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_{ld,st}.sum`, `smsp__inst_executed_op_shared_{ld,st}.sum`
and a few more (ldmatrix, LDGSTS, SASS-level shared bytes), plus the grid and the kernel duration.

Needs only stdlib, torch, triton and eqsat.ingest (no xdsl/egglog):

    python benchmarks/gpu_shared_counters.py --out $OUT [--kernel NAME ...] [--variant NAME ...]

Writes `$OUT/shared_counters_<device>.json` (device e.g. `h100`), `$OUT/ncu_raw.csv`,
`$OUT/ncu_metrics_shared.txt`, and prints a table. Internal modes (`check`, `launch`) are what the
script runs in its child processes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import gluon_transpose_variants as gtv  # noqa: E402

from eqsat.ingest import load_function, load_manifest  # noqa: E402
from eqsat.ingest.launch import build_args, grid3  # noqa: E402

CORE_METRICS = [
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum",
    "smsp__inst_executed_op_shared_ld.sum",
    "smsp__inst_executed_op_shared_st.sum",
]
EXTRA_METRICS = [
    "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ldsm.sum",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ldsm.sum",
    "smsp__inst_executed_op_ldsm.sum",
    "smsp__inst_executed_op_stsm.sum",
    "smsp__inst_executed_op_ldgsts.sum",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_atom.sum",
    "smsp__sass_inst_executed_op_shared_ld.sum",
    "smsp__sass_inst_executed_op_shared_st.sum",
    "smsp__sass_data_bytes_mem_shared_op_ld.sum",
    "smsp__sass_data_bytes_mem_shared_op_st.sum",
    "smsp__sass_l1tex_data_pipe_lsu_wavefronts_mem_shared.sum",
    "smsp__sass_l1tex_data_pipe_lsu_wavefronts_mem_shared_ideal.sum",
    "smsp__sass_l1tex_data_pipe_lsu_wavefronts_mem_shared_op_ldsm.sum",
    "smsp__sass_l1tex_data_bank_conflicts_pipe_lsu_mem_shared_op_ldsm.sum",
    "smsp__sass_l1tex_data_pipe_lsu_wavefronts_mem_shared_op_stsm.sum",
    "smsp__sass_l1tex_data_bank_conflicts_pipe_lsu_mem_shared_op_stsm.sum",
    "smsp__inst_executed_op_shared_stsm.sum",
    "smsp__sass_l1tex_data_pipe_lsu_wavefronts_mem_shared_op_ldgsts.sum",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ldgsts.sum",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_gmma.sum",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_gmma.sum",
    "smsp__sass_data_bytes_mem_shared_op_ldsm.sum",
    "launch__grid_size",
    "launch__block_size",
    "launch__shared_mem_per_block_static",
    "launch__shared_mem_per_block_dynamic",
    "gpu__time_duration.sum",
]
# A transpose of VARIANT_SIZE x VARIANT_SIZE elements: 128 x 128 = 16384 CTAs of 64 x 64 (fills 132 SMs).
VARIANT_SIZE = 8192
# ... and a grid of 8 x 8 = 64 CTAs, fewer than the SMs: one CTA per SM, nothing else in flight beside it.
SMALL_SIZE = 512


def find_ncu() -> str | None:
    found = shutil.which("ncu")
    if found:
        return found
    for p in sorted(Path("/opt/nvidia").glob("nsight-compute/*/ncu"), reverse=True):
        return str(p)
    for p in sorted(Path("/usr/local").glob("cuda*/bin/ncu")):
        return str(p)
    return None


def device_tag(name: str) -> str:
    for tag in ("h100", "h200", "h800", "h20", "gh200", "a100"):
        if tag in name.lower():
            return tag
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ------------------------------------------------------------------------------------------ launching

def _set_allocator() -> None:
    import torch
    import triton

    def alloc(size: int, alignment: int, stream: Any) -> Any:  # in-kernel tensor descriptors (TMA)
        return torch.empty(size, device="cuda", dtype=torch.int8)

    triton.set_allocator(alloc)


def corpus_specs(manifest: str, only: list[str] | None) -> list[Any]:
    man = load_manifest(manifest)
    return [s for s in man.kernels
            if s.kind == "python" and s.supports("h100") and s.launch is not None
            and (not only or s.name in only)]


def launch_corpus_kernel(spec: Any) -> Any:
    """One JIT launch of a corpus kernel with its manifest arguments; returns the CompiledKernel."""
    fn = load_function(spec)
    args = build_args(spec, "cuda", seed=0)
    kwargs = dict(spec.constexprs)
    kwargs.update({k: None for k in spec.none})
    opts: dict[str, Any] = {"num_warps": spec.num_warps, "num_stages": spec.num_stages}
    if spec.num_ctas != 1:
        opts["num_ctas"] = spec.num_ctas
    opts.update(spec.options)
    return fn[grid3(spec)](**args, **kwargs, **opts)


def variant_tensors(v: gtv.Variant, size: int) -> tuple[Any, Any]:
    import torch

    dtype = getattr(torch, v.dtype)
    gen = torch.Generator(device="cpu").manual_seed(1)
    x = torch.randn(size, size, generator=gen).to(dtype).cuda()
    y = torch.empty(size, size, dtype=dtype, device="cuda")
    y.view(torch.uint8).fill_(0xFF)
    return x, y


def launch_variant(v: gtv.Variant, x: Any, y: Any) -> Any:
    size = x.shape[0]
    grid = (size // v.tile[0], size // v.tile[1])
    return gtv.transpose_via_shared[grid](x, y, size, size, **gtv.constexprs(v), num_warps=v.num_warps)


def variant_label(name: str, size: int, main_size: int) -> str:
    """Counters of the timed size are keyed by the variant's name, other sizes by `name@size`."""
    return name if size == main_size else f"{name}@{size}"


# ------------------------------------------------------------------------------------ child processes

def mode_check(names: list[str], size: int) -> int:
    """Child: launch each variant once and compare with x.T bit for bit; one line per variant."""
    import torch

    for name in names:
        v = gtv.by_name(name)
        x, y = variant_tensors(v, size)
        launch_variant(v, x, y)
        torch.cuda.synchronize()
        same = torch.equal(y.view(torch.uint8), x.t().contiguous().view(torch.uint8))
        print(f"CHECK {name} {'ok' if same else 'wrong'}", flush=True)
    return 0


def mode_launch(kernels: list[str], variants: list[str], manifest: str, sizes: list[int],
                order_file: str) -> int:
    """Child under ncu: one launch of each kernel, and of each variant at each size; writes the order."""
    import torch

    _set_allocator()
    order: list[dict[str, Any]] = []
    for spec in corpus_specs(manifest, kernels):
        try:
            launch_corpus_kernel(spec)
            torch.cuda.synchronize()
            order.append({"label": spec.name, "function": spec.function, "kind": "corpus"})
        except Exception as e:  # noqa: BLE001 - record and go on
            order.append({"label": spec.name, "kind": "corpus", "error": f"{type(e).__name__}: {e}"})
    for size in sizes:
        for name in variants:
            v = gtv.by_name(name)
            x, y = variant_tensors(v, size)
            launch_variant(v, x, y)
            torch.cuda.synchronize()
            order.append({"label": variant_label(name, size, sizes[0]), "function": "transpose_via_shared",
                          "kind": "variant"})
    Path(order_file).write_text(json.dumps(order))
    return 0


# -------------------------------------------------------------------------------------- driver steps

def run_checks(names: list[str], size: int) -> tuple[list[str], dict[str, str]]:
    """Check variants in child processes, restarting after one that crashes; (ok names, failures)."""
    ok: list[str] = []
    failed: dict[str, str] = {}
    todo = list(names)
    while todo:
        proc = subprocess.run([sys.executable, __file__, "check", "--size", str(size), "--variant", *todo],
                              capture_output=True, text=True, timeout=300)
        done = re.findall(r"^CHECK (\S+) (ok|wrong)$", proc.stdout, re.M)
        for name, status in done:
            (ok.append(name) if status == "ok" else failed.__setitem__(name, "output differs from x.T"))
        seen = {n for n, _ in done}
        rest = [n for n in todo if n not in seen]
        if rest and proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
            failed[rest[0]] = f"crashed: {(errors[0] if errors else err)[:300]}"
            rest = rest[1:]
        elif rest:
            for n in rest:
                failed[n] = "not reported by the check process"
            rest = []
        todo = rest
    return ok, failed


def static_info(compiled: Any) -> dict[str, Any]:
    asm = compiled.asm
    info: dict[str, Any] = {"shared_bytes": int(compiled.metadata.shared),
                            "ptx_shared_ops": gtv.shared_ptx_ops(asm.get("ptx", ""))}
    ttgir = asm.get("ttgir", "")
    info["ttgir_shared_ops"] = {op: ttgir.count(op) for op in
                                ("ttg.local_alloc", "ttg.local_store", "ttg.local_load", "ttg.convert_layout",
                                 "ttg.async_copy_global_to_local", "ttng.async_tma_copy_global_to_local",
                                 "ttng.warp_group_dot", "tt.reduce", "tt.gather") if op in ttgir}
    return info


def time_variants(names: list[str], size: int, repeat_first: bool) -> dict[str, dict[str, Any]]:
    import torch
    from triton.testing import do_bench

    out: dict[str, dict[str, Any]] = {}
    order = list(names) + ([names[0]] if repeat_first and names else [])
    for i, name in enumerate(order):
        v = gtv.by_name(name)
        x, y = variant_tensors(v, size)
        compiled = launch_variant(v, x, y)
        torch.cuda.synchronize()
        ms = do_bench(lambda v=v, x=x, y=y: launch_variant(v, x, y), warmup=50, rep=300,
                      return_mode="median")
        nbytes = 2 * x.numel() * x.element_size()
        rec = out.setdefault(name, {"times_us": []})
        rec["times_us"].append(round(ms * 1e3, 3))
        if i < len(names):
            rec.update(static_info(compiled))
            rec["encodings"] = gtv.encodings_from_ttgir(compiled.asm["ttgir"])
            rec["GBps"] = round(nbytes / (ms * 1e-3) / 1e9, 1)
        print(f"time {name:14s} {ms * 1e3:9.2f} us", flush=True)
    ms = do_bench(lambda: x.t().contiguous(), warmup=50, rep=300, return_mode="median")
    out["_torch_transpose_last_dtype"] = {"times_us": [round(ms * 1e3, 3)]}
    return out


def corpus_static(specs: list[Any]) -> dict[str, dict[str, Any]]:
    import torch

    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        try:
            compiled = launch_corpus_kernel(spec)
            torch.cuda.synchronize()
            rec = static_info(compiled)
            g = grid3(spec)
            rec.update({"grid": list(g), "ctas": g[0] * g[1] * g[2], "num_warps": spec.num_warps,
                        "num_stages": spec.num_stages, "function": spec.function})
            out[spec.name] = rec
        except Exception as e:  # noqa: BLE001 - record and go on
            out[spec.name] = {"error": f"{type(e).__name__}: {e}"}
    return out


def available_metrics(ncu: str, out: Path) -> tuple[list[str], str]:
    proc = subprocess.run([ncu, "--query-metrics", "--chip", "gh100"], capture_output=True, text=True,
                          timeout=120)
    text = proc.stdout + proc.stderr
    (out / "ncu_metrics_shared.txt").write_text(
        "\n".join(line for line in text.splitlines() if "shared" in line or "ldsm" in line or "stsm" in line))
    known = set(re.findall(r"^(\S+)\s", text, re.M))
    chosen = [m for m in CORE_METRICS + EXTRA_METRICS
              if m.startswith("launch__") or m.rsplit(".", 1)[0] in known or m in known]
    return chosen, text


def parse_ncu_csv(text: str) -> list[dict[str, Any]]:
    """Rows of `ncu --csv --page raw`: one dict per profiled launch, numbers as floats."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows:
        return []
    header = rows[0]
    out: list[dict[str, Any]] = []
    for row in rows[1:]:
        if len(row) != len(header):
            continue
        rec: dict[str, Any] = {}
        for k, val in zip(header, row, strict=True):
            s = val.replace(",", "")
            try:
                rec[k] = float(s)
            except ValueError:
                rec[k] = val
        if isinstance(rec.get("ID"), float):
            out.append(rec)
    return out


def profile(ncu: str, metrics: list[str], kernels: list[str], variants: list[str], manifest: str,
            sizes: list[int], out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    functions = sorted({s.function for s in corpus_specs(manifest, kernels)} | {"transpose_via_shared"})
    order_file = out / "launch_order.json"
    cmd = [ncu, "--metrics", ",".join(metrics), "--csv", "--page", "raw", "--print-units", "base",
           "--clock-control", "none", "--kernel-name", "regex:^(" + "|".join(functions) + ")$",
           "--log-file", str(out / "ncu_raw.csv"),
           sys.executable, __file__, "launch", "--manifest", manifest, "--size", *map(str, sizes),
           "--order-file", str(order_file)]
    if kernels:
        cmd += ["--kernel", *kernels]
    cmd += ["--variant", *variants] if variants else ["--no-variants"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=480)
    log = (proc.stdout + proc.stderr)[-4000:]
    raw = (out / "ncu_raw.csv").read_text() if (out / "ncu_raw.csv").exists() else ""
    order = json.loads(order_file.read_text()) if order_file.exists() else []
    return parse_ncu_csv(raw), order, log


def merge(rows: list[dict[str, Any]], order: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    """Pair ncu rows (in launch order) with the launches the child made (in the same order)."""
    launched = [o for o in order if "error" not in o]
    result: dict[str, Any] = {}
    for i, o in enumerate(launched):
        if i >= len(rows):
            result[o["label"]] = {"error": "no ncu row for this launch"}
            continue
        row = rows[i]
        name = row.get("Kernel Name", "")
        if not str(name).startswith(o["function"]):
            result[o["label"]] = {"error": f"ncu row {i} is kernel {name!r}, expected {o['function']!r}"}
            continue
        result[o["label"]] = {m: row[m] for m in metrics if m in row}
    for o in order:
        if "error" in o:
            result[o["label"]] = {"error": o["error"]}
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="all", choices=["all", "check", "launch"])
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--manifest", default=str(ROOT / "corpora" / "project.toml"))
    ap.add_argument("--kernel", nargs="*", default=None, help="only these corpus kernels")
    ap.add_argument("--variant", nargs="*", default=None, help="only these transpose variants")
    ap.add_argument("--no-variants", action="store_true")
    ap.add_argument("--size", type=int, nargs="+", default=[VARIANT_SIZE, SMALL_SIZE],
                    help="variant sizes: the first is timed, every one is profiled")
    ap.add_argument("--order-file", default="")
    ns = ap.parse_args(argv)
    variants = [] if ns.no_variants else (ns.variant or [v.name for v in gtv.VARIANTS])
    if ns.mode == "check":
        return mode_check(variants, ns.size[0])
    if ns.mode == "launch":
        return mode_launch(ns.kernel or [], variants, ns.manifest, ns.size, ns.order_file)
    size = ns.size[0]

    import torch
    import triton

    t0 = time.time()
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    _set_allocator()
    device = torch.cuda.get_device_name()
    report: dict[str, Any] = {
        "command": "python benchmarks/gpu_shared_counters.py " + " ".join(sys.argv[1:]),
        "device": device, "capability": list(torch.cuda.get_device_capability()),
        "sm_count": torch.cuda.get_device_properties(0).multi_processor_count,
        "triton": triton.__version__, "torch": torch.__version__, "python": platform.python_version(),
        "manifest": os.path.relpath(ns.manifest, ROOT), "variant_size": size,
        "profiled_sizes": ns.size,
    }
    ncu = find_ncu()
    report["ncu"] = ncu
    if ncu:
        version = subprocess.run([ncu, "--version"], capture_output=True, text=True)
        report["ncu_version"] = version.stdout.strip().splitlines()[-1:]

    ok, failed = run_checks(variants, size)
    report["variant_check"] = {"ok": ok, "failed": failed}
    print("variant check:", len(ok), "ok;", failed, flush=True)

    specs = corpus_specs(ns.manifest, ns.kernel)
    report["corpus_static"] = corpus_static(specs)
    timings = time_variants(ok, size, repeat_first=True) if ok else {}

    counters: dict[str, Any] = {}
    if ncu:
        metrics, _ = available_metrics(ncu, out)
        report["metrics"] = metrics
        try:
            rows, order, log = profile(ncu, metrics, ns.kernel or [], ok, ns.manifest, ns.size, out)
            if not rows:  # an unknown metric makes ncu profile nothing: retry with the core counters
                report["ncu_first_try_log"] = log.splitlines()[-30:]
                metrics = [m for m in CORE_METRICS + ["launch__grid_size", "gpu__time_duration.sum"]]
                report["metrics"] = metrics
                rows, order, log = profile(ncu, metrics, ns.kernel or [], ok, ns.manifest, ns.size, out)
            counters = merge(rows, order, metrics)
            report["ncu_log_tail"] = log.splitlines()[-30:]
        except Exception as e:  # noqa: BLE001 - keep the timings even if ncu fails
            report["ncu_error"] = f"{type(e).__name__}: {e}"
            report["ncu_traceback"] = traceback.format_exc().splitlines()[-6:]
    else:
        report["ncu_error"] = "ncu not found"

    report["corpus"] = {name: {**rec, "counters": counters.get(name, {})}
                        for name, rec in report.pop("corpus_static").items()}
    vrecs: dict[str, Any] = {}
    for v in gtv.VARIANTS:
        if v.name not in variants:
            continue
        rec: dict[str, Any] = {"family": v.family, "dtype": v.dtype, "tile": list(v.tile),
                               "num_warps": v.num_warps, "grid": [size // v.tile[0], size // v.tile[1]]}
        if v.name in failed:
            rec["error"] = failed[v.name]
        rec.update(timings.get(v.name, {}))
        rec["counters"] = counters.get(v.name, {})
        rec["counters_at"] = {str(n): counters.get(variant_label(v.name, n, size), {}) for n in ns.size[1:]}
        vrecs[v.name] = rec
    report["variants"] = vrecs
    report["torch_transpose_us"] = timings.get("_torch_transpose_last_dtype", {}).get("times_us")
    report["seconds"] = round(time.time() - t0, 1)
    path = out / f"shared_counters_{device_tag(device)}.json"
    path.write_text(json.dumps(report, indent=1))

    print(f"{'kernel':28s} {'ld_wf':>10s} {'st_wf':>10s} {'ld_conf':>10s} {'st_conf':>10s} {'time_us':>9s}")
    for name, rec in list(report["corpus"].items()) + list(vrecs.items()):
        c = rec.get("counters", {})
        vals = [c.get(m) for m in CORE_METRICS[:4]]
        t = rec.get("times_us", [None])[0] if "times_us" in rec else None
        print(f"{name:28s} " + " ".join(f"{x:10.0f}" if isinstance(x, float) else f"{'-':>10s}" for x in vals)
              + (f" {t:9.2f}" if t else "") + (f"  {rec.get('error') or c.get('error')}"
                                               if rec.get("error") or c.get("error") else ""))
    print("wrote", path, "in", report["seconds"], "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
