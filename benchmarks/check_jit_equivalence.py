"""Check on a GPU that ingest's CPU compile of each corpus kernel equals what Triton's JIT builds.

For every Python kernel of the manifest(s) that runs on this GPU's target, build its arguments from the
manifest's `launch` table, launch it with the JIT (`kernel[grid](...)` returns the `CompiledKernel`),
and compare `compiled.asm["ttgir"]` with `compile_spec(spec, h100).ttgir`, both with location info
stripped. Also compares the specialization (signature, constants, attrs) the JIT derived with the one
the manifest states. Needs only triton and torch (no xdsl/egglog):

    python benchmarks/check_jit_equivalence.py --out $OUT [--manifest corpora/project.toml] [--kernel NAME]

Writes `$OUT/jit_equivalence.json` and prints a summary; exits non-zero if any kernel mismatches.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eqsat  # noqa: E402

if str(ROOT) not in eqsat.__path__:  # eqsat.lowering lives in ROOT/lowering (package-dir when installed)
    eqsat.__path__.append(str(ROOT))

from eqsat.lowering.irtext import strip_locations  # noqa: E402

from eqsat.errors import EqsatError  # noqa: E402
from eqsat.ingest import compile_spec, load_function, load_manifest  # noqa: E402
from eqsat.ingest.compile import ast_source_args  # noqa: E402
from eqsat.ingest.launch import build_args, grid3  # noqa: E402
from eqsat.targets import get_target  # noqa: E402


def _norm_attrs(attrs: dict[Any, Any]) -> dict[str, Any]:
    return {str(tuple(k)): [list(a) for a in v] for k, v in attrs.items() if v}


def check_one(spec: Any, target: Any) -> dict[str, Any]:
    import torch

    rec: dict[str, Any] = {"kernel": spec.name, "source": spec.source_label}
    fn = load_function(spec)
    args = build_args(spec, "cuda", seed=0)
    kwargs = {k: v for k, v in spec.constexprs.items()}
    kwargs.update({k: None for k in spec.none})
    opts: dict[str, Any] = {"num_warps": spec.num_warps, "num_stages": spec.num_stages}
    if spec.num_ctas != 1:
        opts["num_ctas"] = spec.num_ctas
    opts.update(spec.options)
    t0 = time.perf_counter()
    compiled = fn[grid3(spec)](**args, **kwargs, **opts)
    torch.cuda.synchronize()
    rec["jit_seconds"] = round(time.perf_counter() - t0, 3)
    rec["ran"] = True
    jit_ttgir = compiled.asm["ttgir"]

    ours = compile_spec(spec, target, use_cache=False)
    a, b = strip_locations(jit_ttgir), strip_locations(ours.ttgir)
    rec["match"] = a == b
    rec["ttgir_lines"] = a.count("\n")
    if not rec["match"]:
        rec["diff"] = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "jit", "ingest", n=1,
                                                lineterm=""))[:40]

    # the specialization the JIT derived vs the one the manifest states
    sig, consts, attrs = ast_source_args(spec, fn, target)
    src = compiled.src
    jit_consts = {str(tuple(k)): repr(getattr(v, "value", v)) for k, v in src.constants.items()}
    names = list(fn.arg_names)
    our_consts = {str((names.index(k),)): repr(v) for k, v in consts.items()}
    rec["specialization_match"] = (dict(src.signature) == sig and jit_consts == our_consts
                                   and _norm_attrs(src.attrs) == _norm_attrs(attrs))
    if not rec["specialization_match"]:
        rec["jit_specialization"] = {"signature": dict(src.signature), "constants": jit_consts,
                                     "attrs": _norm_attrs(src.attrs)}
        rec["manifest_specialization"] = {"signature": sig, "constants": our_consts,
                                          "attrs": _norm_attrs(attrs)}
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "."), help="directory for jit_equivalence.json")
    ap.add_argument("--manifest", action="append", default=None, help="manifest(s); default project.toml")
    ap.add_argument("--kernel", action="append", default=None, help="only these kernels")
    ns = ap.parse_args(argv)

    import torch
    import triton

    def alloc(size: int, alignment: int, stream: Any) -> Any:  # in-kernel tensor descriptors
        return torch.empty(size, device="cuda", dtype=torch.int8)

    triton.set_allocator(alloc)
    cap = torch.cuda.get_device_capability()
    target = get_target("h100")
    manifests = ns.manifest or [str(ROOT / "corpora" / "project.toml")]
    results: list[dict[str, Any]] = []
    for m in manifests:
        man = load_manifest(m)
        for name, err in man.errors:
            results.append({"kernel": name, "error": str(err)})
        for spec in man.kernels:
            if spec.kind != "python" or not spec.supports(target.name):
                continue
            if ns.kernel and spec.name not in ns.kernel:
                continue
            try:
                rec = check_one(spec, target)
            except EqsatError as e:
                rec = {"kernel": spec.name, "error": str(e)}
            except Exception as e:  # noqa: BLE001 - record and go on
                rec = {"kernel": spec.name, "error": f"{type(e).__name__}: {e}",
                       "traceback": traceback.format_exc().splitlines()[-6:]}
            results.append(rec)
            status = "MATCH" if rec.get("match") else ("ERROR" if "error" in rec else "MISMATCH")
            spec_ok = rec.get("specialization_match")
            print(f"{status:8s} {spec.name:28s} spec={'ok' if spec_ok else spec_ok}"
                  + (f"  {rec['error']}" if "error" in rec else ""), flush=True)

    summary = {
        "total": len(results),
        "match": sum(1 for r in results if r.get("match")),
        "mismatch": sum(1 for r in results if r.get("match") is False),
        "error": sum(1 for r in results if "error" in r),
        "specialization_mismatch": sum(1 for r in results if r.get("specialization_match") is False),
    }
    report = {
        "command": "python benchmarks/check_jit_equivalence.py " + " ".join(sys.argv[1:]),
        "device": torch.cuda.get_device_name(),
        "capability": list(cap),
        "triton": triton.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "summary": summary,
        "results": results,
    }
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "jit_equivalence.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(summary))
    return 0 if summary["match"] == summary["total"] else 1


if __name__ == "__main__":
    sys.exit(main())
