"""Gluon transposes that differ only in the shared-memory layout of their staging buffer.

Each variant loads an `M x N` tile of `x` in an explicit register layout `reg_in` (row-contiguous,
coalesced global reads), stores it into a shared buffer of an explicit shared layout, loads it back in
the transposed register layout `reg_out` (column-contiguous, so the writes of `y = x.T` coalesce) and
stores it. Register layouts, tile, dtype and grid are the same for every variant of a family, so the
shared-memory traffic (and through it the time) is the only thing that changes: an unswizzled buffer
in either order, XOR swizzles of several vector widths, and padded rows.

`VARIANTS` lists them as data; `encodings(variant)` gives the register/shared encodings as Triton
encoding text (read back from the TTGIR of a CPU compile for `cuda:90`, so it is exactly what the
kernel ran with), and `compile_variant` compiles one without a GPU. Imports only triton (and gluon).
Used by `gpu_shared_counters.py` (GPU side) and `compare_bank_model.py` (CPU side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from triton.experimental import gluon
from triton.experimental.gluon import language as gl


@gluon.jit
def transpose_via_shared(x_ptr, y_ptr, M, N, BM: gl.constexpr, BN: gl.constexpr, REG_IN: gl.constexpr,
                         REG_OUT: gl.constexpr, SHARED: gl.constexpr):
    """y[n, m] = x[m, n] for one BM x BN tile, staged through a shared buffer of layout SHARED."""
    pid_m = gl.program_id(0)
    pid_n = gl.program_id(1)
    rm = pid_m * BM + gl.arange(0, BM, layout=gl.SliceLayout(1, REG_IN))
    rn = pid_n * BN + gl.arange(0, BN, layout=gl.SliceLayout(0, REG_IN))
    tile = gl.load(x_ptr + rm[:, None] * N + rn[None, :])
    smem = gl.allocate_shared_memory(x_ptr.dtype.element_ty, [BM, BN], SHARED)
    smem.store(tile)
    out = smem.load(REG_OUT)
    om = pid_m * BM + gl.arange(0, BM, layout=gl.SliceLayout(1, REG_OUT))
    on = pid_n * BN + gl.arange(0, BN, layout=gl.SliceLayout(0, REG_OUT))
    gl.store(y_ptr + on[None, :] * M + om[:, None], out)


@dataclass(frozen=True)
class Variant:
    """One transpose variant: a family (dtype, tile, register layouts) plus its shared layout."""

    name: str
    family: str
    dtype: str  # torch dtype name
    tile: tuple[int, int]
    num_warps: int
    reg_in: Any  # gl.BlockedLayout
    reg_out: Any  # gl.BlockedLayout
    shared: Any  # gl.SwizzledSharedLayout | gl.PaddedSharedLayout


TRITON_ELEM = {"float32": "fp32", "float16": "fp16"}
ELEM_BYTES = {"float32": 4, "float16": 2}


def _family(family: str, dtype: str, tile: tuple[int, int], reg_in: Any, reg_out: Any,
            shared: dict[str, Any]) -> list[Variant]:
    return [Variant(f"{family}_{name}", family, dtype, tile, 4, reg_in, reg_out, layout)
            for name, layout in shared.items()]


def _padded(tile: tuple[int, int], pad: int, interval: int | None = None) -> Any:
    return gl.PaddedSharedLayout.with_identity_for([[interval or tile[1], pad]], list(tile), [1, 0])


# fp32 64x64: 16-byte vectors along the row in, along the column out.
_F32_IN = gl.BlockedLayout([1, 4], [2, 16], [4, 1], [1, 0])
_F32_OUT = gl.BlockedLayout([4, 1], [16, 2], [1, 4], [0, 1])
# fp16 64x64: 16-byte vectors (8 halves) along the row in, along the column out.
_F16_IN = gl.BlockedLayout([1, 8], [4, 8], [4, 1], [1, 0])
_F16_OUT = gl.BlockedLayout([8, 1], [8, 4], [1, 4], [0, 1])
# fp16 64x64 read back two halves per thread along the column: the rows one ld.shared touches are 2 apart,
# so a swizzle or padding can spread them over banks (with [8, 1] above every row of an instruction is
# congruent mod 8 and no 128-byte swizzle can help: that family is the "all equal" control).
_F16B_OUT = gl.BlockedLayout([2, 1], [16, 2], [1, 4], [0, 1])

VARIANTS: list[Variant] = (
    _family("f32", "float32", (64, 64), _F32_IN, _F32_OUT, {
        "row": gl.SwizzledSharedLayout(1, 1, 1, [1, 0]),
        "col": gl.SwizzledSharedLayout(1, 1, 1, [0, 1]),
        "swz_v4": gl.SwizzledSharedLayout(4, 1, 8, [1, 0]),
        "swz_v1": gl.SwizzledSharedLayout(1, 1, 32, [1, 0]),
        "swz_v2": gl.SwizzledSharedLayout(2, 1, 16, [1, 0]),
        "pad4": _padded((64, 64), 4),
        "pad1": _padded((64, 64), 1),
    })
    + _family("f16", "float16", (64, 64), _F16_IN, _F16_OUT, {
        "row": gl.SwizzledSharedLayout(1, 1, 1, [1, 0]),
        "col": gl.SwizzledSharedLayout(1, 1, 1, [0, 1]),
        "swz_v8": gl.SwizzledSharedLayout(8, 1, 8, [1, 0]),
        "swz_v2": gl.SwizzledSharedLayout(2, 1, 8, [1, 0]),
        "pad8": _padded((64, 64), 8),
        "pad2": _padded((64, 64), 2),
    })
    + _family("f16b", "float16", (64, 64), _F16_IN, _F16B_OUT, {
        "row": gl.SwizzledSharedLayout(1, 1, 1, [1, 0]),
        "col": gl.SwizzledSharedLayout(1, 1, 1, [0, 1]),
        "swz_v8": gl.SwizzledSharedLayout(8, 1, 8, [1, 0]),
        "swz_v2": gl.SwizzledSharedLayout(2, 1, 16, [1, 0]),
        "swz_v1": gl.SwizzledSharedLayout(1, 1, 32, [1, 0]),
        "pad16": _padded((64, 64), 16),
        "pad8_per2rows": _padded((64, 64), 8, 128),
    })
)
# pad1 (fp32) and pad2 (fp16) pad a row by 4 bytes while Triton 3.6 still stores 16-byte vectors into the
# buffer: on an H200 they fault (misaligned shared address). Kept to record that; see bank_model_agreement.md.


def by_name(name: str) -> Variant:
    for v in VARIANTS:
        if v.name == name:
            return v
    raise KeyError(f"no transpose variant '{name}' (known: {', '.join(v.name for v in VARIANTS)})")


def constexprs(v: Variant) -> dict[str, Any]:
    return {"BM": v.tile[0], "BN": v.tile[1], "REG_IN": v.reg_in, "REG_OUT": v.reg_out, "SHARED": v.shared}


def compile_variant(v: Variant, arch: int = 90) -> Any:
    """Compile one variant for `cuda:<arch>` without a GPU (Triton's own compile pipeline)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.experimental.gluon._runtime import GluonASTSource

    elem = TRITON_ELEM[v.dtype]
    fn = transpose_via_shared
    sig = {"x_ptr": f"*{elem}", "y_ptr": f"*{elem}", "M": "i32", "N": "i32"}
    consts = constexprs(v)
    sig.update({k: "constexpr" for k in consts})
    names = list(fn.arg_names)
    const_keys = {(names.index(k),): val for k, val in consts.items()}
    attrs = {(names.index(a),): [["tt.divisibility", 16]] for a in ("x_ptr", "y_ptr", "M", "N")}
    src = GluonASTSource(fn, sig, const_keys, attrs)
    return triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": v.num_warps})


_ALIAS_RE = re.compile(r"^(#[A-Za-z_][\w.]*)\s*=\s*(#ttg\.[\w]+<.*>)\s*$", re.M)


def _resolve(ty: str, aliases: dict[str, str]) -> str:
    return aliases.get(ty, ty)


def encodings_from_ttgir(ttgir: str) -> dict[str, str]:
    """The encodings of the shared round trip in a compiled variant's TTGIR: the stored tensor's layout
    (`reg_in`), the buffer's (`shared`) and the loaded tensor's (`reg_out`), as Triton encoding text."""
    aliases = dict(_ALIAS_RE.findall(ttgir))
    store = re.search(r"ttg\.local_store\s+%\S+,\s*%\S+\s*:\s*tensor<[^,]+,\s*(#[\w.]+)>\s*->\s*"
                      r"!ttg\.memdesc<[^,]+,\s*(#[\w.]+)", ttgir)
    load = re.search(r"ttg\.local_load\s+%\S+\s*:\s*!ttg\.memdesc<[^>]*>\s*->\s*tensor<[^,]+,\s*(#[\w.]+)>",
                     ttgir)
    if not store or not load:
        alloc = re.search(r"ttg\.local_alloc\s+%\S+\s*:\s*\(tensor<[^,]+,\s*(#[\w.]+)>\)\s*->\s*"
                          r"!ttg\.memdesc<[^,]+,\s*(#[\w.]+)", ttgir)
        if not alloc or not load:
            raise ValueError("no local_store/local_alloc + local_load pair in the TTGIR")
        store = alloc
    return {"reg_in": _resolve(store.group(1), aliases), "shared": _resolve(store.group(2), aliases),
            "reg_out": _resolve(load.group(1), aliases)}


def shared_ptx_ops(ptx: str) -> dict[str, int]:
    """Static count of shared-memory instructions by opcode (`st.shared.v4.b32`, `ldmatrix...`) in the PTX."""
    counts: dict[str, int] = {}
    for m in re.finditer(r"\b((?:ld|st)\.shared(?:\.v\d)?\.\w+|(?:ld|st)matrix\.[\w.]+)", ptx):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return dict(sorted(counts.items()))
