"""Test oracle for the bank simulator's instruction choice: what Triton 3.6 + LLVM actually emit.

`ptx_shared_ops(cases)` compiles, for each case (the plain-data form of `bank_oracle`; rank 2), a Gluon
kernel that loads a tile from global memory in the case's register layout, stores it into a shared buffer
of the case's shared layout, loads it back in the same register layout and stores it out; compiled for
`GPUTarget("cuda", 90, 32)` (no GPU needed, never launched). From the PTX it returns, per direction, how
many `st.shared` / `ld.shared` instructions of each width in bytes (`.vN.bM` = N * M / 8) the kernel has,
plus any ldmatrix/stmatrix. The kernel is straight-line, so the static count is the count each thread
executes: the model's `instructions` of `vector_bytes`.

Runs in a child process (libtriton aborts the process on some failed assertions; the parent restarts
it after the failing case, which gets a string); results are cached like bank_oracle's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from bank_oracle import cached_per_case, run_in_children
from triton.experimental import gluon
from triton.experimental.gluon import language as gl

ELEM = {"i8": "i8", "f16": "fp16", "bf16": "bf16", "f32": "fp32", "f64": "fp64", "i64": "i64"}
_OP = re.compile(r"\b((?:ld|st)\.shared(?:\.v\d)?\.\w+|(?:ld|st)matrix\.[\w.]+)")
_WIDTH = re.compile(r"(ld|st)\.shared(?:\.v(\d))?\.[bsuf](\d+)$")


@gluon.jit
def roundtrip(x_ptr, y_ptr, BM: gl.constexpr, BN: gl.constexpr, REG: gl.constexpr, SHARED: gl.constexpr):
    rm = gl.arange(0, BM, layout=gl.SliceLayout(1, REG))
    rn = gl.arange(0, BN, layout=gl.SliceLayout(0, REG))
    offs = rm[:, None] * BN + rn[None, :]
    smem = gl.allocate_shared_memory(x_ptr.dtype.element_ty, [BM, BN], SHARED)
    smem.store(gl.load(x_ptr + offs))
    gl.store(y_ptr + offs, smem.load(REG))


def warps_of(reg: dict[str, Any]) -> int:
    k = reg["kind"]
    if k in ("blocked", "nvidia_mma"):
        return math.prod(reg["wpc"])
    if k == "linear":
        return 1 << len(reg["warp"])
    return math.prod(reg["parent"]["wpc"])


def widths(ops: dict[str, int]) -> dict[str, dict[int, int]]:
    """{"store": {bytes: count}, "load": {bytes: count}, "matrix": {op: count}} from PTX op counts."""
    out: dict[str, dict[int, int]] = {"store": {}, "load": {}, "matrix": {}}
    for op, n in ops.items():
        m = _WIDTH.match(op)
        if m:
            d = "store" if m.group(1) == "st" else "load"
            nbytes = int(m.group(2) or 1) * int(m.group(3)) // 8
            out[d][nbytes] = out[d].get(nbytes, 0) + n
        else:
            out["matrix"][op] = out["matrix"].get(op, 0) + n
    return out


def _child(cases: list[dict[str, Any]]) -> None:
    import triton
    from bank_oracle import _gluon_reg, _gluon_smem
    from triton.backends.compiler import GPUTarget
    from triton.experimental.gluon._runtime import GluonASTSource

    names = list(roundtrip.arg_names)
    for i, c in enumerate(cases):
        try:
            shape = c["shape"]
            consts = {"BM": shape[0], "BN": shape[1], "REG": _gluon_reg(c["reg"], shape),
                      "SHARED": _gluon_smem(c["smem"], shape)}
            sig = {"x_ptr": f"*{ELEM[c['dtype']]}", "y_ptr": f"*{ELEM[c['dtype']]}"}
            sig.update({k: "constexpr" for k in consts})
            src = GluonASTSource(roundtrip, sig, {(names.index(k),): v for k, v in consts.items()},
                                 {(names.index(a),): [["tt.divisibility", 16]] for a in ("x_ptr", "y_ptr")})
            k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps_of(c["reg"])})
            ops: dict[str, int] = {}
            for m in _OP.finditer(k.asm["ptx"]):
                ops[m.group(1)] = ops.get(m.group(1), 0) + 1
            res: Any = ops
        except Exception as err:  # a layout Triton rejects
            res = f"error: {type(err).__name__}: {err}".splitlines()[0][:300]
        print(json.dumps([i, res]), flush=True)


def _cache_file() -> Path:
    d = Path(os.environ.get("EQSAT_ORACLE_CACHE", Path(tempfile.gettempdir()) / "eqsat-bank-oracle"))
    d.mkdir(parents=True, exist_ok=True)
    return d / "ptx.jsonl"


def _key(case: dict[str, Any]) -> str:
    import triton

    text = json.dumps([triton.__version__, "ptx-roundtrip-1", case], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _run(cases: list[dict[str, Any]], timeout: float) -> list[Any]:
    with tempfile.TemporaryDirectory() as work:
        return run_in_children("bank_ptx", cases, timeout,
                               env=dict(os.environ, TRITON_CACHE_DIR=os.path.join(work, "cache")))


def ptx_shared_ops(cases: list[dict[str, Any]], timeout: float = 600.0) -> list[Any]:
    """Per case: `widths(...)` of the compiled round trip's PTX, or a string saying why there is none."""
    got = cached_per_case(_cache_file(), [_key(c) for c in cases], cases, lambda todo: _run(todo, timeout))
    return [widths(r) if isinstance(r, dict) else r for r in got]
