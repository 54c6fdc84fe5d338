"""Device verification of guarded versions: is each version bit-identical to the fallback and the JIT?

    python benchmarks/gpu_verify_versions.py RUN_DIR [--kernel NAME] [--seeds 3] [--out DIR]
    python benchmarks/gpu_versions.py RUN_DIR --verify ...     (the same check, then the bench)

For every plan folder of the run (every shape bucket of every NVIDIA kernel) and every version in its
plan.json, at every production shape of the spec (`KernelSpec.production_shapes()`, else the launch) where
the version's guards hold on the call's arguments, on several seeds of fresh random inputs (never zeros;
outputs poisoned and reset before every run):

    jit      = Triton's JIT of the source (`fn[grid](...)`, the entry's constexprs and options)
    fallback = the bucket's optimized.ttgir;   version = the version's TTGIR (both from `load(...,"all")`)
    trial    = one (shape, seed): the version's outputs torch.equal (raw bytes) to the fallback's AND the
               JIT's; `mismatches` counts the trials where either differs

Records (lowering/verified.py): one `verified.json` per plan folder, keyed by the version's slug, with the
TTGIR's sha256 (a re-planned version is unverified again). Writes OUT/versions_verified.json:
`{"device", "triton", "torch", "command", "checked_at", "seeds", "folders": {"<kernel>/<target>[/buckets/
<name>]": record}}`, which `eqsat runs verify-import RUN_DIR FILE.json` writes into the run directory on
the CPU side; with `--write` the records are also written into RUN_DIR here (so `load(..., "verified")`
on this machine dispatches by them). GPU-safe imports only (as benchmarks/gpu_versions.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_versions  # noqa: E402 - first: it makes eqsat.lowering importable on GPU machines

differences = gpu_versions.differences

from eqsat.lowering.bench import _Case, raw_equal, require_gpu  # noqa: E402
from eqsat.lowering.loader import DispatchingKernel, load  # noqa: E402
from eqsat.lowering.rundir import read_run, read_spec  # noqa: E402
from eqsat.lowering.specialize import guards_hold  # noqa: E402
from eqsat.lowering.verified import text_sha256, write_verified  # noqa: E402

from eqsat.ingest.compile import load_function  # noqa: E402

SEEDS = 3
SEED_BASE = 7001  # far from the bench's seeds (0, 1, 2 ...): inputs the bench never timed


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def empty_entry(k: DispatchingKernel, bucket_name: str, slug: str) -> dict[str, Any]:
    b = next(b for b in k.buckets if b.name == bucket_name)
    v = next(v for v in b.versions if v.slug == slug)
    return {"bit_identical": False, "shapes": [], "trials": 0, "mismatches": 0, "checked_at": now(),
            "ttgir_sha256": text_sha256(v.kernel.path.read_text()), "name": v.name,
            "fallback_mismatches": 0, "jit_mismatches": 0}


def add_trial(entry: dict[str, Any], shape: str, vs_fallback: bool, vs_jit: bool,
              fallback_vs_jit: bool, diff: dict[str, Any] | None = None) -> None:
    """Fold one trial (the version's outputs equal to the fallback's / the JIT's) into a record entry."""
    entry["trials"] += 1
    if shape not in entry["shapes"]:
        entry["shapes"].append(shape)
    entry["mismatches"] += int(not (vs_fallback and vs_jit))
    entry["jit_mismatches"] += int(not vs_jit)
    entry["fallback_mismatches"] += int(not fallback_vs_jit)
    if diff is not None and "first_difference" not in entry:
        entry["first_difference"] = {"shape": shape, **diff}
    entry["bit_identical"] = entry["trials"] > 0 and entry["mismatches"] == 0
    entry["checked_at"] = now()


def verify_kernel(k: DispatchingKernel, spec: Any, fn: Any, run_dir: Path, seeds: int,
                  log: Any = print) -> dict[str, dict[str, Any]]:
    """The verification records of one kernel's plan folders (run-relative folder -> record)."""
    import torch

    if not any(b.versions for b in k.buckets):
        return {}
    entries = {(b.name, v.slug): empty_entry(k, b.name, v.slug) for b in k.buckets for v in b.versions}
    shapes = spec.production_shapes() or [("launch", spec.launch)]
    for si, (shape, launch) in enumerate(shapes):
        for j in range(seeds):
            case = _Case(spec, launch, fn, k, SEED_BASE + 100 * si + j)
            values = k.args.values((), case.args, k.label)
            todo = [(b, v) for b in k.buckets for v in b.versions if guards_hold(v.guards, values)]
            if not todo:
                break  # the guards are a function of the shape (ints) and the allocator's alignment
            case.run_jit()
            jit = case.run(case.baseline_launch)
            fallbacks: dict[str, dict[str, Any]] = {}
            for b, v in todo:
                if b.name not in fallbacks:
                    fb = b.fallback
                    bound = [values[n] for n in fb.args.passed]
                    runner = fb.runner(case.grid)
                    fallbacks[b.name] = case.run(lambda r=runner, a=bound: r(*a))
                fbo = fallbacks[b.name]
                bound = [values[n] for n in v.kernel.args.passed]
                runner = v.kernel.runner(case.grid)
                out = case.run(lambda r=runner, a=bound: r(*a))
                eq_fb = all(raw_equal(out[n], fbo[n]) for n in case.outputs)
                eq_jit = all(raw_equal(out[n], jit[n]) for n in case.outputs)
                fb_jit = all(raw_equal(fbo[n], jit[n]) for n in case.outputs)
                diff = None
                if not eq_jit:
                    diff = {n: differences(jit[n], out[n]) for n in case.outputs
                            if not raw_equal(jit[n], out[n])}
                add_trial(entries[(b.name, v.slug)], shape, eq_fb, eq_jit, fb_jit, diff)
            del case
            torch.cuda.empty_cache()
    import triton

    device = torch.cuda.get_device_properties(0).name
    records: dict[str, dict[str, Any]] = {}
    for b in k.buckets:
        if not b.versions:
            continue
        rel = str(b.plan_dir.resolve().relative_to(run_dir.resolve()))
        records[rel] = {"device": device, "triton": triton.__version__,
                        "versions": {v.slug: entries[(b.name, v.slug)] for v in b.versions}}
        for v in b.versions:
            e = entries[(b.name, v.slug)]
            ok = "bit-identical" if e["bit_identical"] else "DIFF"
            log(f"verify {k.name:28} {b.name:20} {v.name:>14} {ok} trials {e['trials']} "
                f"mismatches {e['mismatches']} shapes {','.join(e['shapes']) or '-'}")
    return records


def verify_entry(entry: Any, run_dir: Path, seeds: int, log: Any = print) -> dict[str, dict[str, Any]]:
    pdir = entry.plan_dir(run_dir)
    spec = read_spec(pdir)
    if spec is None or spec.kind != "python":
        return {}  # IR-file kernels: no JIT to compare with (their versions stay unverified)
    return verify_kernel(load(pdir, versions="all"), spec, load_function(spec), run_dir, seeds, log)


def report(folders: dict[str, dict[str, Any]], seeds: int, command: str) -> dict[str, Any]:
    import torch
    import triton

    return {"device": torch.cuda.get_device_properties(0).name, "triton": triton.__version__,
            "torch": torch.__version__, "command": command, "checked_at": now(), "seeds": seeds,
            "folders": folders}


def write_records(run_dir: Path, folders: dict[str, dict[str, Any]]) -> None:
    for rel, rec in folders.items():
        write_verified(run_dir / rel, rec)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="gpu_verify_versions.py")
    ap.add_argument("run_dir")
    ap.add_argument("--kernel", action="append", dest="kernels")
    ap.add_argument("--seeds", type=int, default=SEEDS)
    ap.add_argument("--write", action="store_true", help="also write each folder's verified.json here")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args(argv)
    require_gpu()
    run_dir = Path(args.run_dir)
    folders: dict[str, dict[str, Any]] = {}
    for entry in read_run(run_dir):
        if entry.target in ("h100", "h200") and entry.status == "ok" \
                and (not args.kernels or entry.kernel in args.kernels):
            folders.update(verify_entry(entry, run_dir, args.seeds))
    rep = report(folders, args.seeds, "python benchmarks/gpu_verify_versions.py "
                 + " ".join(shlex.quote(a) for a in argv))
    if args.write:
        write_records(run_dir, folders)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "versions_verified.json").write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
