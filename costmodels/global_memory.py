"""Global memory accesses: bytes, 32-byte sectors, warp instructions and wasted bytes of one dm access.

Counts are per CTA tile (the model multiplies by CTAs and loop trips). From the dm op's `access`:

* class `indirect` is per-lane indirection only (a gather or scatter: `indirect_via`); an access at a
  uniform data-dependent base (`base` = "uniform_data", `base_via`: cu_seqlens, a block-table entry) has
  class contiguous/strided and is priced exactly as a plain access of its strides (sectors, L1 lines,
  vector width from its alignment), since the whole tile moves together;

* vector width: the op's own `vector_bytes`, or, when priced in another register `layout`, the largest
  run of consecutive registers along the fastest dim in that layout (`contiguous_elements`) times the
  element size, capped at 16 bytes and by the access's contiguity and alignment (in elements);
* contiguous / indirect with contiguous rows: runs of `contiguity` elements along the fastest dim, each
  run touching `ceil(run bytes / 32)` sectors (an indirect gather of contiguous rows: sectors per row x
  rows; a random scalar gather, contiguity 1: one sector per element);
* strided (the fastest dim's stride is not 1): one sector per element unless the stride in bytes is
  known and below 32 (then neighbours share sectors); but when another dim has stride 1 (a load
  re-issued in a layout whose fastest dim is not the memory-contiguous one) the tile still reads whole
  sectors along that dim: priced as contiguous along it (the lanes' scatter is the L1 lines term).
  Measured on an H200 (benchmarks/results/alternatives_h200.md): column_major_load's re-issued load,
  priced 4.5x the input's DRAM time as strided, ran 0.77x (the input plus its L1 lines);
* masks: `info["guard"]` of a non-power-of-two tile gives the masked fraction; masked elements move no
  data but their lanes are issued: their bytes count as `wasted_bytes`, as do the unused bytes of
  fetched sectors.
* DRAM vs L2: every sector is an L2 request; `dram_sectors` are the ones that reach DRAM. They are all
  of them, except for random scalar indirect accesses (class indirect, contiguity 1): their indices are
  assumed to revisit a cache-resident footprint (a gather's rows come from the tile the kernel works on),
  so DRAM moves each useful byte once and the other sectors are L2 hits. The model takes the larger of
  the DRAM time and the L2 time (H200: random sectors measured at 6.6-9.3 TB/s, above HBM's 4.8).
  A gather over a table much larger than L2 is under-priced by this assumption (the dm op does not
  record the index range).
* dot operands (`dot_operand_reuse`): a tile that is staged into a shared buffer a `dot` reads (a GEMM's A
  or B tile) is read by every CTA of its grid row or column; L2 serves the re-reads. DRAM moves the
  sectors once per `sqrt(CTAs)` readers (a square grid's row or column) and the L2 streams all of them
  (`l2_stream_gbps`). Measured on an H200 (benchmarks/results/alternatives_h200.md): matmul_fp16 4096 x
  4096 x 2048, 1024 CTAs, priced 289 us as DRAM traffic, ran in 117 us.
* program-invariant loads (`info["program_invariant"]`, eqsat.dm.address.program_invariant: a lookup
  table, a norm's weight row): every CTA reads the same addresses, so DRAM moves them once and the L2
  streams the rest (as for dot operands, with reuse = CTAs). Measured on an H200
  (benchmarks/results/alternatives_h200.md): gather_1d_cross_warp's 4 KB table read by 16384 CTAs was
  priced as 67 MB of DRAM traffic, so replacing it by an indirect load looked 1.18x faster; it ran 0.94x.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eqsat.costmodels.common import dtype_bytes, pow2_layout

MAX_VECTOR_BYTES = 16


@dataclass
class GlobalCounts:
    bytes: float
    sectors: float
    transactions: float  # warp instructions, summed over the CTA's warps
    wasted_bytes: float
    vector_bytes: int
    dram_sectors: float = -1.0  # sectors that reach DRAM; -1: all of `sectors`

    def __post_init__(self) -> None:
        if self.dram_sectors < 0:
            self.dram_sectors = self.sectors


def _fastest(access: Mapping[str, Any], rank: int) -> int:
    f = access.get("fastest_dim")
    return rank - 1 if f is None else int(f)


def vector_bytes_in(op: Mapping[str, Any], layout: str | None) -> int:
    """Bytes per lane per instruction when the access is issued in `layout` (default: the op's own)."""
    access = op.get("access") or {}
    eb = dtype_bytes(op.get("dtype"))
    shape = op.get("shape") or [1]
    if layout is None:
        vb = access.get("vector_bytes")
        return int(vb) if vb else eb
    fastest = _fastest(access, len(shape))
    ll = pow2_layout(layout, shape)
    run = ll.contiguous_elements("register", f"dim{fastest}")
    cap = min(int(access.get("contiguity") or 1), max(1, int(access.get("alignment") or 1)))
    elems = max(1, min(run, cap, max(1, MAX_VECTOR_BYTES // eb)))
    elems = 1 << (elems.bit_length() - 1)
    return elems * eb


def _masked_fraction(op: Mapping[str, Any]) -> float:
    guard = (op.get("info") or {}).get("guard") or {}
    if guard.get("evaluated") and guard.get("elements"):
        return float(guard["masked_elements"]) / float(guard["elements"])
    return 0.0


def global_counts(op: Mapping[str, Any], layout: str | None, warp_size: int, sector_bytes: int = 32
                  ) -> GlobalCounts:
    """Per-CTA-tile counts of the global access `op` issued in `layout` (or its own)."""
    access = op.get("access") or {}
    shape = [int(s) for s in (op.get("shape") or [1])]
    eb = dtype_bytes(op.get("dtype"))
    elems = math.prod(1 << (max(1, s) - 1).bit_length() for s in shape)  # padded tile
    masked = _masked_fraction(op)
    valid = elems * (1.0 - masked)
    vb = vector_bytes_in(op, layout)
    vec_elems = max(1, vb // eb)
    transactions = elems / (warp_size * vec_elems)
    klass = access.get("class", "contiguous")
    fastest = _fastest(access, len(shape))
    strides = access.get("strides") or []
    inner_stride = strides[fastest] if fastest < len(strides) else 1
    contiguity = max(1, int(access.get("contiguity") or 1))
    unit = [d for d, st in enumerate(strides) if st == 1 and d < len(shape)]
    if klass != "indirect" and inner_stride not in (1, None) and unit:
        # the layout's fastest dim is not the memory-contiguous one (a load re-issued in a transposed
        # layout): sectors are a property of the addresses, the CTA still reads whole rows of `unit[0]`
        # (other registers / instructions take a lane's neighbours); L1 lines price the scatter
        klass, fastest, inner_stride = "contiguous", unit[0], 1
        contiguity = max(contiguity, shape[unit[0]])
    if klass == "strided" or (klass != "indirect" and inner_stride not in (1, None)):
        if isinstance(inner_stride, int) and 0 < inner_stride * eb < sector_bytes:
            per_elem = inner_stride * eb / sector_bytes
        else:
            per_elem = 1.0
        sectors = valid * per_elem
    else:
        run = min(contiguity, shape[fastest] if shape else 1)
        run = max(1, run)
        sectors = (valid / run) * math.ceil(run * eb / sector_bytes)
    useful = valid * eb
    wasted = max(0.0, sectors * sector_bytes - useful) + (elems - valid) * eb
    dram = sectors
    if klass == "indirect" and contiguity == 1:
        dram = min(sectors, math.ceil(useful / sector_bytes))
    return GlobalCounts(useful, sectors, transactions, wasted, vb, dram)


def _dot_buffers(kernel: Mapping[str, Any]) -> set[int]:
    out: set[int] = set()
    for o in kernel.get("ops", []):
        if o.get("kind") == "dot":
            info = o.get("info") or {}
            for b in (o.get("buffer"), info.get("b_buffer")):
                if b is not None:
                    out.add(int(b))
    return out


def dot_operand_reuse(op: Mapping[str, Any], kernel: Mapping[str, Any] | None, ctas: int) -> float:
    """How many CTAs read the same tile when `op` stages a dot operand (its buffer, or the local_alloc it
    feeds, is one a dot reads): sqrt(CTAs), else 1."""
    if kernel is None or ctas <= 1 or op.get("kind") not in ("load", "async_copy", "tma_load"):
        return 1.0
    buffers = _dot_buffers(kernel)
    if not buffers:
        return 1.0
    if op.get("buffer") is not None and int(op["buffer"]) in buffers:
        return math.sqrt(ctas)
    oid = op.get("id")
    for o in kernel.get("ops", []):
        if o.get("kind") in ("local_alloc", "local_store") and oid in (o.get("inputs") or []):
            target = o.get("id") if o.get("kind") == "local_alloc" else o.get("buffer")
            if target is not None and int(target) in buffers:
                return math.sqrt(ctas)
    return 1.0


def tma_counts(op: Mapping[str, Any], sector_bytes: int = 32) -> GlobalCounts:
    """A TMA copy of its box: whole sectors, one transfer."""
    box = (op.get("info") or {}).get("box") or op.get("shape") or [1]
    nbytes = math.prod(int(b) for b in box) * dtype_bytes(op.get("dtype"))
    return GlobalCounts(nbytes, math.ceil(nbytes / sector_bytes), 1, 0.0, 16)


def l1_requests(op: Mapping[str, Any], layout: str | None, warp_size: int, line_bytes: int = 128) -> float:
    """Distinct 128-byte lines each warp instruction touches, summed over the CTA tile: the L1/TEX
    tag-stage work of a global access (one line per clock per SM). A coalesced warp touches
    `32 lanes x vector bytes / 128` lines per instruction; a warp whose lanes walk the slow dimension of
    a row-major tile touches one line per lane, which is what makes re-issuing a load in a transposed
    layout lose (measured on an H200: transpose_2d 0.72x, gather_rows_1024 0.34x when the model
    ignored this). Lanes are placed by the layout (`layout`, else the op's own), addresses by the
    access's strides; a stride the compiler does not know (a runtime argument, or a gathered row) is
    taken as at least one line, so different rows never share a line."""
    access = op.get("access") or {}
    shape = [int(s) for s in (op.get("shape") or [1])]
    text = layout or op.get("layout") or op.get("dst_layout") or op.get("src_layout")
    if not text or not shape:
        return 0.0
    eb = dtype_bytes(op.get("dtype"))
    try:
        ll = pow2_layout(text, shape)
    except Exception:  # noqa: BLE001 - a layout the builders cannot make: no L1 term rather than a crash
        return 0.0
    regs = ll.get_in_dim_size("register") if ll.has_in_dim("register") else 1
    lanes = ll.get_in_dim_size("lane") if ll.has_in_dim("lane") else 1
    warps = ll.get_in_dim_size("warp") if ll.has_in_dim("warp") else 1
    coords = ll.apply_all()[: regs * lanes].reshape(lanes, regs, -1)  # register least significant
    rank = coords.shape[-1]
    fastest = _fastest(access, rank)
    strides = list(access.get("strides") or [])
    klass = access.get("class", "contiguous")
    line_elems = max(1, line_bytes // eb)
    known = fastest < len(strides) and isinstance(strides[fastest], int) and klass != "indirect"
    if known:
        fast_stride = int(strides[fastest])
    elif klass == "indirect" or int(access.get("contiguity") or 1) > 1:
        fast_stride = 1  # a gathered row, or a dim the compiler knows is contiguous
    else:  # an unknown runtime stride along the layout's fastest dim: its elements are lines apart
        fast_stride = line_elems * max(1, -(-(1 << (max(1, shape[fastest]) - 1).bit_length()) // line_elems))
    addr = coords[..., fastest].astype("int64") * fast_stride
    for d in range(rank):
        if d == fastest:
            continue
        s = strides[d] if d < len(strides) else None
        if not isinstance(s, int) or klass == "indirect":
            # unknown or gathered: rows are at least a line apart (and farther than the tile is wide)
            s = line_elems * max(1, -(-(1 << (max(1, shape[fastest]) - 1).bit_length()) // line_elems))
        addr = addr + coords[..., d].astype("int64") * int(s)
    vec = max(1, vector_bytes_in(op, layout) // eb)
    lines = 0
    for start in range(0, regs, vec):
        chunk = addr[:, start:start + vec].reshape(-1) * eb // line_bytes
        lines += len(set(chunk.tolist()))
    return float(lines * warps)
