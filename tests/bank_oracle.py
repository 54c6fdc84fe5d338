"""Test oracle for `eqsat.costmodels.banks`: Triton's own bank-conflict count (Gluon `bank_conflicts`).

Only tests import this module; the model never touches libtriton.

A *case* is plain data: `{"reg": {"kind", ...fields}, "smem": {"kind", ...fields}, "shape", "dtype"}`
with register kinds `blocked`, `linear`, `nvidia_mma`, `dot_operand` (of an `nvidia_mma` parent) and
shared kinds `swizzled_shared`, `nvmma_shared`, `shared_linear`, `padded_shared`. `case_texts(case)`
writes the two encodings in TTGIR syntax (what the model and the batch CLI read); the child process
builds the same layouts as Gluon objects.

Two ways to ask Triton, both real libtriton:

* `oracle_bank_conflicts(cases)`: one child process calls `GluonOpBuilder.get_shared_bank_conflicts`,
  the C++ entry point (`ttg::bankConflictsMemDesc(toLinearLayout(reg), toLinearLayout(smem), bits)`)
  behind `ttgl.bank_conflicts`, for every case; results are cached on disk keyed by the case text
  (`$EQSAT_ORACLE_CACHE` or `<tmp>/eqsat-bank-oracle`). libtriton aborts the whole process on a failed
  assertion, so the child prints one result per line and the parent restarts it after the failing case
  (that case gets `None`).
* `gluon_jit_bank_conflicts(cases)`: the documented route, `ttgl.static_print(ttgl.bank_conflicts(...))`
  in a `@gluon.jit` function compiled (never launched) for `GPUTarget("cuda", 90, 32)`; slower, used on a
  few cases to show that the builder route is the same number.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BITS = {"i8": 8, "f16": 16, "bf16": 16, "f32": 32, "f64": 64, "i64": 64}


# ---------------------------------------------------------------------------------------------- text

def _ints(xs: Any) -> str:
    return "[" + ", ".join(str(int(x)) for x in xs) + "]"


def _bases(bs: Any) -> str:
    return "[" + ", ".join(_ints(b) for b in bs) + "]"


def reg_text(r: dict[str, Any]) -> str:
    k = r["kind"]
    if k == "blocked":
        return (f"#ttg.blocked<{{sizePerThread = {_ints(r['spt'])}, threadsPerWarp = {_ints(r['tpw'])}, "
                f"warpsPerCTA = {_ints(r['wpc'])}, order = {_ints(r['order'])}}}>")
    if k == "linear":
        return (f"#ttg.linear<{{register = {_bases(r['register'])}, lane = {_bases(r['lane'])}, "
                f"warp = {_bases(r['warp'])}, block = []}}>")
    if k == "nvidia_mma":
        return (f"#ttg.nvidia_mma<{{versionMajor = {r['version'][0]}, versionMinor = {r['version'][1]}, "
                f"warpsPerCTA = {_ints(r['wpc'])}, instrShape = {_ints(r['instr'])}}}>")
    if k == "dot_operand":
        return (f"#ttg.dot_op<{{opIdx = {r['op_idx']}, parent = {reg_text(r['parent'])}, "
                f"kWidth = {r['k_width']}}}>")
    raise ValueError(k)


def smem_text(s: dict[str, Any], shape: list[int]) -> str:
    k = s["kind"]
    if k == "swizzled_shared":
        return (f"#ttg.swizzled_shared<{{vec = {s['vec']}, perPhase = {s['per_phase']}, "
                f"maxPhase = {s['max_phase']}, order = {_ints(s['order'])}}}>")
    if k == "nvmma_shared":
        return (f"#ttg.nvmma_shared<{{swizzlingByteWidth = {s['swizzle']}, "
                f"transposed = {str(bool(s['transposed'])).lower()}, elementBitWidth = {s['bits']}}}>")
    if k == "shared_linear":
        return f"#ttg.shared_linear<{{offset = {_bases(s['offset'])}}}, alignment = 16>"
    if k == "padded_shared":
        pairs = ", ".join(f"{i}:+{p}" for i, p in s["pairs"])
        return f"#ttg.padded_shared<[{pairs}] {{order = {_ints(s['order'])}, shape = {_ints(shape)}}}>"
    raise ValueError(k)


def case_texts(case: dict[str, Any]) -> tuple[str, str]:
    """(distributed, shared) encoding texts of a case, in Triton's syntax."""
    return reg_text(case["reg"]), smem_text(case["smem"], case["shape"])


# ---------------------------------------------------------------------------------------------- gluon

def _gluon_reg(r: dict[str, Any], shape: list[int]) -> Any:
    from triton.experimental.gluon import language as ttgl

    k = r["kind"]
    if k == "blocked":
        return ttgl.BlockedLayout(r["spt"], r["tpw"], r["wpc"], r["order"])
    if k == "linear":
        return ttgl.DistributedLinearLayout(r["register"], r["lane"], r["warp"], [], shape)
    if k == "nvidia_mma":
        return ttgl.NVMMADistributedLayout(version=r["version"], warps_per_cta=r["wpc"], instr_shape=r["instr"])
    if k == "dot_operand":
        return ttgl.DotOperandLayout(r["op_idx"], _gluon_reg(r["parent"], shape), r["k_width"])
    raise ValueError(k)


def _gluon_smem(s: dict[str, Any], shape: list[int]) -> Any:
    from triton.experimental.gluon import language as ttgl

    k = s["kind"]
    if k == "swizzled_shared":
        return ttgl.SwizzledSharedLayout(s["vec"], s["per_phase"], s["max_phase"], s["order"])
    if k == "nvmma_shared":
        return ttgl.NVMMASharedLayout(s["swizzle"], s["bits"], len(shape), bool(s["transposed"]))
    if k == "shared_linear":
        return ttgl.SharedLinearLayout(s["offset"])
    if k == "padded_shared":
        return ttgl.PaddedSharedLayout.with_identity_for(s["pairs"], shape, s["order"])
    raise ValueError(k)


def _child(cases: list[dict[str, Any]]) -> None:
    from triton._C.libtriton import gluon_ir, ir

    ctx = ir.context()
    ir.load_dialects(ctx)
    b = gluon_ir.GluonOpBuilder(ctx)
    for i, c in enumerate(cases):
        try:
            reg = _gluon_reg(c["reg"], c["shape"])._to_ir(b)
            smem = _gluon_smem(c["smem"], c["shape"])._to_ir(b)
            res: Any = int(b.get_shared_bank_conflicts(reg, smem, list(c["shape"]), BITS[c["dtype"]]))
        except Exception as err:  # a layout Triton rejects: no oracle value for this case
            res = f"error: {type(err).__name__}: {err}".splitlines()[0]
        print(json.dumps([i, res]), flush=True)


def _cache_dir() -> Path:
    d = Path(os.environ.get("EQSAT_ORACLE_CACHE", Path(tempfile.gettempdir()) / "eqsat-bank-oracle"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key(case: dict[str, Any]) -> str:
    import triton

    text = json.dumps([triton.__version__, case], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_in_children(module: str, cases: list[dict[str, Any]], timeout: float,
                    env: dict[str, str] | None = None) -> list[Any]:
    """`module._child(cases)` in child processes (Triton may abort on a case): the child prints
    `[i, result]` per case; a case that kills its child is recorded as `crash: ...` and the rest go on
    in a fresh child."""
    results: list[Any] = [None] * len(cases)
    start = 0
    while start < len(cases):
        proc = subprocess.run(
            [sys.executable, "-c", "import sys, json; sys.path.insert(0, sys.argv[1]); "
             f"from {module} import _child; _child(json.load(sys.stdin))",
             os.path.dirname(os.path.abspath(__file__))],
            input=json.dumps(cases[start:]), capture_output=True, text=True, timeout=timeout, env=env)
        done = start
        for line in proc.stdout.splitlines():
            if line.startswith("["):
                i, res = json.loads(line)
                results[start + i] = res
                done = start + i + 1
        if proc.returncode == 0:
            break
        results[done] = f"crash: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
        start = done + 1
    return results


def cached_per_case(cache_file: Path, keys: list[str], cases: list[dict[str, Any]],
                    compute: Any) -> list[Any]:
    """The result of each case from the JSON-lines cache `cache_file` (key -> result), computing the
    missing ones with `compute(cases)` and appending them."""
    cache: dict[str, Any] = {}
    if cache_file.is_file():
        for line in cache_file.read_text().splitlines():
            try:
                k, v = json.loads(line)
                cache[k] = v
            except (ValueError, TypeError):
                continue
    todo = [i for i, k in enumerate(keys) if k not in cache]
    if todo:
        fresh = compute([cases[i] for i in todo])
        with cache_file.open("a") as f:
            for i, res in zip(todo, fresh, strict=True):
                cache[keys[i]] = res
                f.write(json.dumps([keys[i], res]) + "\n")
    return [cache[k] for k in keys]


def oracle_bank_conflicts(cases: list[dict[str, Any]], timeout: float = 300.0) -> list[Any]:
    """Gluon's bank-conflict count per case (an int), or a string saying why Triton gave none."""
    return cached_per_case(_cache_dir() / "cases.jsonl", [_key(c) for c in cases], cases,
                           lambda todo: run_in_children("bank_oracle", todo, timeout))


# ---------------------------------------------------------------------------------------------- jit

_JIT_SOURCE = '''
from triton.experimental import gluon
from triton.experimental.gluon import language as ttgl


@gluon.jit
def probe(X, REG: ttgl.constexpr, SMEM: ttgl.constexpr, SHAPE: ttgl.constexpr):
    ttgl.static_print("BANKS", ttgl.bank_conflicts(ttgl.distributed_type(X.dtype.element_ty, SHAPE, REG),
                      ttgl.shared_memory_descriptor_type(X.dtype.element_ty, SHAPE, SMEM, SHAPE)))
'''


def _jit_child(cases: list[dict[str, Any]], workdir: str) -> None:
    import importlib.util

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.experimental.gluon import language as ttgl

    path = os.path.join(workdir, "bank_probe.py")
    with open(path, "w") as f:
        f.write(_JIT_SOURCE)
    spec = importlib.util.spec_from_file_location("bank_probe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ptrs = {"i8": "*i8", "f16": "*fp16", "bf16": "*bf16", "f32": "*fp32", "f64": "*fp64", "i64": "*i64"}
    for i, c in enumerate(cases):
        src = triton.compiler.ASTSource(
            fn=mod.probe, signature={"X": ptrs[c["dtype"]], "REG": "constexpr", "SMEM": "constexpr",
                                     "SHAPE": "constexpr"},
            constexprs={"REG": _gluon_reg(c["reg"], c["shape"]), "SMEM": _gluon_smem(c["smem"], c["shape"]),
                        "SHAPE": ttgl.constexpr(list(c["shape"]))})
        print(f"CASE {i}", flush=True)
        triton.compile(src, target=GPUTarget("cuda", 90, 32))


def gluon_jit_bank_conflicts(cases: list[dict[str, Any]], timeout: float = 300.0) -> list[int]:
    """The same count through `ttgl.static_print` in a compiled (never launched) `@gluon.jit` kernel."""
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, TRITON_CACHE_DIR=os.path.join(work, "cache"))
        proc = subprocess.run(
            [sys.executable, "-c", "import sys, json; sys.path.insert(0, sys.argv[1]); "
             "from bank_oracle import _jit_child; _jit_child(json.load(sys.stdin), sys.argv[2])",
             os.path.dirname(os.path.abspath(__file__)), work],
            input=json.dumps(cases), capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"gluon jit probe failed: {proc.stderr[-3000:]}")
    out: list[int] = []
    for line in proc.stdout.splitlines():
        if "BANKS" in line:
            out.append(int(line.split("BANKS")[-1].strip().strip("[]() ,").split()[-1]))
    return out
