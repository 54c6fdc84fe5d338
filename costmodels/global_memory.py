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
  assumed to revisit a cache-resident footprint, so DRAM moves each useful byte once and the other
  sectors are L2 hits. The model takes the larger of the DRAM time and the L2 time (H200: random sectors
  measured at 5.5-9.3 TB/s, above HBM's 3.8-4.3).
* footprints of indirect loads (`served`): the lift records the argument a pointer starts at (`base_arg`),
  its bytes at the launch (`footprint_bytes`) and the distinct sectors one CTA's tile touches
  (`cta_footprint_bytes`, evaluated from the launch's indices: eqsat/dm/footprint.py). With F_cta the
  CTA's footprint (else the argument's bytes) and F = min(argument bytes, CTAs x F_cta):
      F_cta <= L1 (`l1_bytes` less the kernel's shared memory): DRAM reads min(F, the old DRAM sectors),
              the L2 serves each CTA's fill (CTAs x F_cta; SMs x the table when the whole table fits in
              L1), every other request is an L1 hit;
      F <= L2 (`l2_bytes`): DRAM reads min(F, the old DRAM sectors), every sector is an L2 request;
      else: the rule above. So the global time is non-decreasing in the footprint and the old one
  beyond L2. Measured on an H200 (benchmarks/results/alternatives_h200.md): gather_1d_cross_warp's
  indirect load from a 4 KB table (16384 CTAs) was priced 133 us of L2 sectors against the input's 42 us
  (ran 0.94x), gather_rows_warp_local's over the CTA's own 8 KB of rows 66 us (ran 0.975x).
* program-invariant loads whose per-CTA footprint (tile x trips) fits in L1: each SM fills it once, the
  L2 streams SMs x footprint rather than CTAs x footprint (`invariant_l1_sectors`).
* L1 work (`l1_work`, `l1_clocks`): per warp instruction the distinct 128-byte lines (tag stage,
  `l1_tag_lines_per_clock`) and the data wavefronts (the most distinct 4-byte words one bank serves, at
  least bytes / 128; `l1_lines_per_clock`, calibrated by strided.l1.s32, whose 32 lanes hit one bank);
  the slower stage sets the time. A coalesced access has one wavefront per line (as before); a load
  re-issued with one line per lane and an 8-way bank load is tag-bound: transpose_2d / column_major_load
  v00, priced 0.48x with one clock per line, ran 0.72x / 0.78x (fit: 1.9 lines per clock, params).
  Runtime strides take their launch values (`info["launch_strides"]`); a gather of a loaded tile (the
  e-graph's gather_global, `info["gather_axis"]`) draws its coordinate along the axis at random; an
  indirect access the lift evaluated uses its measured count (`info["l1"]`).
* an indirect load cannot issue before its index arrives: one more round trip per wave of CTAs
  (`dependent_latency_ns`, group `latency`, `indirect_round_trip_ns`).
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


@dataclass
class L1Work:
    """L1/TEX work of a global access per CTA tile: `lines` = distinct 128-byte lines per warp instruction
    (tag stage), `wavefronts` = data-stage cycles per instruction (the most distinct 4-byte words one of
    the 32 banks serves, at least the distinct bytes / 128), each summed over the tile's instructions."""

    lines: float
    wavefronts: float


def _measured_l1(op: Mapping[str, Any], layout: str | None) -> L1Work | None:
    """The lift's count from the evaluated addresses (eqsat.dm.footprint `info["l1"]`, an indirect access in
    its own layout), when the op is priced as lifted."""
    l1 = (op.get("info") or {}).get("l1")
    own = op.get("layout") or op.get("dst_layout") or op.get("src_layout")
    if not l1 or (layout is not None and layout != own) or not str(op.get("kind", "")).startswith("indirect"):
        return None
    return L1Work(float(l1["lines"]), float(l1["wavefronts"]))


def l1_work(op: Mapping[str, Any], layout: str | None, warp_size: int, line_bytes: int = 128) -> L1Work:
    """Lines and wavefronts (`L1Work`) of the access `op` issued in `layout` (else its own), summed over the
    CTA tile. Lanes are placed by the layout, addresses by the access's strides; a stride the compiler
    does not know (a runtime argument, or a gathered row) is taken as at least one line, so different rows
    never share a line. A gather of a loaded tile (`info["gather_axis"]`, the e-graph's gather_global)
    reads the source tile's addresses with the coordinate along the axis drawn at random (fixed seed). An
    indirect access the lift evaluated on the launch's indices uses that count (`info["l1"]`)."""
    measured = _measured_l1(op, layout)
    if measured is not None:
        return measured
    access = op.get("access") or {}
    shape = [int(s) for s in (op.get("shape") or [1])]
    text = layout or op.get("layout") or op.get("dst_layout") or op.get("src_layout")
    if not text or not shape:
        return L1Work(0.0, 0.0)
    eb = dtype_bytes(op.get("dtype"))
    try:
        ll = pow2_layout(text, shape)
    except Exception:  # noqa: BLE001 - a layout the builders cannot make: no L1 term rather than a crash
        return L1Work(0.0, 0.0)
    regs = ll.get_in_dim_size("register") if ll.has_in_dim("register") else 1
    lanes = ll.get_in_dim_size("lane") if ll.has_in_dim("lane") else 1
    warps = ll.get_in_dim_size("warp") if ll.has_in_dim("warp") else 1
    # one warp's (lane, register) -> element, register least significant
    coords = ll.apply_all()[: regs * lanes].reshape(lanes, regs, -1).astype("int64")
    rank = coords.shape[-1]
    fastest = _fastest(access, rank)
    strides = list(access.get("strides") or [])
    at_launch = (op.get("info") or {}).get("launch_strides") or []
    # a runtime stride: its value at the launch (the lift's, eqsat.dm.footprint)
    strides = [at_launch[d] if not isinstance(s, int) and d < len(at_launch) and isinstance(at_launch[d], int)
               else s for d, s in enumerate(strides)]
    klass = access.get("class", "contiguous")
    axis = (op.get("info") or {}).get("gather_axis")
    if axis is not None and 0 <= int(axis) < rank:
        import numpy as np

        klass = "gathered"  # the source tile's strides, one coordinate random
        coords = coords.copy()
        rng = np.random.default_rng(0)
        coords[..., int(axis)] = rng.integers(0, max(1, shape[int(axis)]), size=coords.shape[:-1])
    line_elems = max(1, line_bytes // eb)
    far = line_elems * max(1, -(-(1 << (max(1, shape[fastest]) - 1).bit_length()) // line_elems))
    known = fastest < len(strides) and isinstance(strides[fastest], int) and klass != "indirect"
    if known:
        fast_stride = int(strides[fastest])
    elif klass == "indirect" or int(access.get("contiguity") or 1) > 1:
        fast_stride = 1  # a gathered row, or a dim the compiler knows is contiguous
    else:  # an unknown runtime stride along the layout's fastest dim: its elements are lines apart
        fast_stride = far
    addr = coords[..., fastest] * fast_stride
    for d in range(rank):
        if d == fastest:
            continue
        s = strides[d] if d < len(strides) else None
        if not isinstance(s, int) or klass == "indirect":
            s = far  # unknown or gathered: rows are at least a line apart (and farther than the tile is wide)
        addr = addr + coords[..., d] * int(s)
    vec = max(1, vector_bytes_in(op, layout) // eb)
    lines = wavefronts = 0
    for start in range(0, regs, vec):
        byte = addr[:, start:start + vec].reshape(-1) * eb
        lines += len(set((byte // line_bytes).tolist()))
        words = set((byte // 4).tolist())
        banks: dict[int, int] = {}
        for w in words:
            banks[w % 32] = banks.get(w % 32, 0) + 1
        wavefronts += max(max(banks.values()), -(-len(words) * 4 // line_bytes))
    return L1Work(float(lines * warps), float(wavefronts * warps))


def l1_requests(op: Mapping[str, Any], layout: str | None, warp_size: int, line_bytes: int = 128) -> float:
    """Distinct 128-byte lines each warp instruction touches, summed over the CTA tile (`l1_work`): the
    L1/TEX tag-stage work of a global access. A coalesced warp touches `32 lanes x vector bytes / 128`
    lines per instruction; a warp whose lanes walk the slow dimension of a row-major tile touches one line
    per lane, which is what makes re-issuing a load in a transposed layout lose (measured on an H200:
    transpose_2d 0.72x, gather_rows_1024 0.34x when the model ignored this)."""
    return l1_work(op, layout, warp_size, line_bytes).lines


def l1_clocks(work: L1Work, wavefronts_per_clock: float, tag_lines_per_clock: float) -> float:
    """SM clocks of an access's L1 work: the slower of the data stage (wavefronts) and the tag stage
    (lines). A coalesced access has one wavefront per line (data-bound, as before); an uncoalesced one
    without bank conflicts is tag-bound (see the module docstring for the fit)."""
    return max(work.wavefronts / wavefronts_per_clock, work.lines / tag_lines_per_clock)


# ------------------------------------------------------------------------------ caches and footprints
@dataclass(frozen=True)
class CacheParams:
    l1_bytes: int  # per SM, L1 + shared memory (what the kernel's shared memory leaves caches global loads)
    l2_bytes: int
    l1_tag_lines_per_clock: float
    round_trip_ns: float = 0.0  # one global round trip under load, exposed once per wave by an indirect load


def cache_params(params: Any) -> CacheParams:
    """`l1_bytes`, `l2_bytes`, `l1_tag_lines_per_clock`, `indirect_round_trip_ns` of a parameter file.
    Defaults turn the rules off (a target whose file lacks them, mi300x, is priced as before): no L1 or L2
    regime (0 bytes), the tag rate equal to `l1_lines_per_clock` (the lines-only rule), no round trip."""
    g = params.get
    return CacheParams(int(g("l1_bytes", 0)), int(g("l2_bytes", 0)),
                       float(g("l1_tag_lines_per_clock", g("l1_lines_per_clock", 1.0))),
                       float(g("indirect_round_trip_ns", 0.0)))


def dependent_latency_ns(op: Mapping[str, Any], kernel: Mapping[str, Any] | None, ctas: int, sms: int,
                         cache: CacheParams) -> float:
    """The round trip an indirect load adds to its CTA's critical path (it cannot issue before its index
    arrives, where a load of the tile it replaces issues beside the index load), once per wave of CTAs:
    `round_trip_ns x ceil(CTAs / (SMs x resident))`, resident CTAs per SM from warps alone (64 warps, at
    most 32 CTAs). 0 for every other access, or without a round-trip time."""
    if cache.round_trip_ns <= 0 or op.get("kind") != "indirect_load" \
            or (op.get("access") or {}).get("class") != "indirect":
        return 0.0
    warps = int((kernel or {}).get("num_warps") or 4)
    resident = max(1, min(32, 64 // max(1, warps)))
    return cache.round_trip_ns * math.ceil(max(1, ctas) / (sms * resident))


def kernel_shared_bytes(kernel: Mapping[str, Any] | None) -> int:
    """Shared memory the kernel's `local_alloc`s take (one CTA)."""
    total = 0
    for o in (kernel or {}).get("ops", []):
        if o.get("kind") == "local_alloc" and o.get("shape"):
            total += math.prod(int(s) for s in o["shape"]) * dtype_bytes(o.get("dtype"))
    return total


@dataclass
class Served:
    """Where the sectors of an access come from, per launch: `dram` sectors read from DRAM, `l2` sectors
    the L2 serves, `l1` whether the rest are L1 hits (not L2 traffic)."""

    dram: float
    l2: float
    l1: bool


def served(op: Mapping[str, Any], c: GlobalCounts, scale: float, ctas: int, sms: int, cache: CacheParams,
           kernel: Mapping[str, Any] | None) -> Served | None:
    """The footprint rule of an indirect load (module docstring), or None (priced as before): the
    footprint a CTA's L1 must hold is the lift's `cta_footprint_bytes` (else the base argument's
    `footprint_bytes`), the launch's footprint the smaller of the argument's bytes and CTAs x the CTA's."""
    info = op.get("info") or {}
    if op.get("kind") != "indirect_load" or (op.get("access") or {}).get("class") != "indirect":
        return None
    table = info.get("footprint_bytes")
    per_cta = info.get("cta_footprint_bytes")
    if table is None and per_cta is None:
        return None
    sectors, dram_old = c.sectors * scale, c.dram_sectors * scale
    known = [float(x) for x in (table, None if per_cta is None else per_cta * ctas) if x is not None]
    launch_fp = min(known) / 32.0  # sectors
    resident = float(per_cta if per_cta is not None else table)
    l1_free = cache.l1_bytes - kernel_shared_bytes(kernel)
    if resident <= l1_free:
        dram = min(launch_fp, dram_old)
        fills = ctas * resident / 32.0  # every CTA fills its footprint from the L2 ...
        if table is not None and float(table) <= l1_free:  # ... unless the whole table stays in each SM's L1
            fills = min(fills, sms * float(table) / 32.0)
        return Served(dram, min(sectors, fills), True)
    if launch_fp * 32.0 <= cache.l2_bytes:
        return Served(min(launch_fp, dram_old), sectors, False)
    return None


def invariant_l1_sectors(c: GlobalCounts, scale: float, ctas: int, sms: int, cache: CacheParams,
                         kernel: Mapping[str, Any] | None) -> float | None:
    """L2 sectors of a program-invariant load whose per-CTA footprint (its tile x loop trips) fits in L1:
    each SM fills its L1 once and its other CTAs hit, so the L2 serves SMs x footprint (else None)."""
    per_cta = c.sectors * max(1.0, scale / max(1, ctas))
    if per_cta * 32.0 > cache.l1_bytes - kernel_shared_bytes(kernel):
        return None
    return min(c.sectors * scale, min(ctas, sms) * per_cta)
