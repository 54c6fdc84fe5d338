"""The probes of `eqsat calibrate`: one launch of a microbenchmark kernel (eqsat/calibrate/kernels.py) each,
sized for the device at hand, with the work it does counted exactly (so a time becomes a rate).

A probe is data: kernel name, grid, warps, tensor arguments (numel, dtype, how to fill them: random, never
zeros), integer arguments, constexprs, and `work` (bytes, warp instructions, sectors, L1 lines, wavefronts,
shuffles, barriers, copies, CTAs). `probes(sms)` lists them; `fit.py` turns their times into parameters.

    read.dram.v4             1 GiB footprint, 16-byte loads                     -> hbm (read)
    read.l2.{b16,b32,v2,v4}  16 MiB footprint, ld.global.cg                     -> L2 B/s, LSU instr/clk
    read.l1.{b32,v4}         16 KiB per CTA, re-read (ld.global, L1 hits)       -> L1 lines/clk
    copy.dram.k{1..16}       1 GiB copy at 1..16 CTAs of 4 warps per SM        -> hbm (copy), occupancy curve
    strided.{dram,l2,l1}.s{8,32}  one 4-byte element per lane, 32 B / 128 B apart -> sectors, lines/clk
    gather.{dram,l2}.r{1,8,32,128}, gather.l1.r{1,8}  random rows of 4..512 bytes -> random-sector rates
    shuffle                  shfl.sync.idx chains                               -> shuffle results/clk
    barrier.k{1,4}           bar.sync loops at 1 and 4 CTAs per SM              -> barrier ns
    clock                    %clock64 vs %globaltimer                           -> clock_ghz
    launch.{1,wave64}        empty launches: 1 CTA, 64 CTAs per SM              -> launch_ns, cta_launch_ns
    shared.{store,load}.{b8,b16,b32,v2,v4}, shared.barrier   (Gluon)            -> wavefronts/clk per width
    cp_async.{4k,8k}, sync_copy.{4k,8k}  (Gluon cp.async vs ld+st.shared)       -> cp_async issue ns
    tma.{4k,8k}, ptr.{4k,8k}  (tensor descriptor vs pointer loads)              -> tma issue ns
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ELEM_BYTES = {"float32": 4, "float16": 2, "int8": 1, "int32": 4, "int64": 8}
KIB = 1024
MIB = 1024 * KIB


@dataclass
class Probe:
    name: str
    kernel: str
    grid: int
    num_warps: int
    tensors: dict[str, tuple[int, str, str]]  # arg -> (numel, dtype, init: "rand" | "randint:N" | "empty")
    ints: dict[str, int] = field(default_factory=dict)
    constexprs: dict[str, Any] = field(default_factory=dict)
    work: dict[str, float] = field(default_factory=dict)
    num_stages: int = 1
    needs_allocator: bool = False


def _read(
    name: str,
    sms: int,
    footprint: int,
    dtype: str,
    vec: int,
    cache: str,
    iters: int,
    ctas_per_sm: int = 8,
    warps: int = 4,
    chunk_bytes: int = 64 * KIB,
    per_cta: bool = False,
) -> Probe:
    from eqsat.calibrate.kernels import vector_layout

    eb = ELEM_BYTES[dtype]
    grid = ctas_per_sm * sms
    unroll = 4
    block = vec * 32 * warps * unroll
    chunk = chunk_bytes // eb
    n_chunks = grid if per_cta else footprint // chunk_bytes
    nbytes = grid * iters * chunk_bytes
    width = vec * eb
    return Probe(
        name,
        "read_stream",
        grid,
        warps,
        {"x_ptr": (n_chunks * chunk, dtype, "rand"), "out_ptr": (grid * block, "float32", "empty")},
        {"n_chunks": n_chunks},
        {"ITERS": iters, "CHUNK": chunk, "BLOCK": block, "LAYOUT": vector_layout(vec, warps), "CACHE": cache},
        {
            "bytes": nbytes,
            "instructions": nbytes / (32 * width),
            "sectors": nbytes / 32,
            "lines": nbytes / 128,
            "vector_bytes": width,
            "footprint": n_chunks * chunk_bytes,
        },
    )


def probes(sms: int) -> list[Probe]:
    """Every probe, sized for a device of `sms` SMs."""
    from eqsat.calibrate.kernels import padded_1d, plain_shared, row_layout, vector_layout

    out: list[Probe] = []
    # ---- streaming reads: DRAM, L2 by width, L1
    out.append(_read("read.dram.v4", sms, 1024 * MIB, "float32", 4, "", 16))
    for label, dtype, vec in (
        ("b16", "float16", 1),
        ("b32", "float32", 1),
        ("v2", "float32", 2),
        ("v4", "float32", 4),
    ):
        out.append(_read(f"read.l2.{label}", sms, 16 * MIB, dtype, vec, ".cg", 48))
    for label, vec in (("b32", 1), ("v4", 4)):
        out.append(
            _read(f"read.l1.{label}", sms, 0, "float32", vec, "", 192, chunk_bytes=16 * KIB, per_cta=True)
        )
    # ---- copies: DRAM bandwidth and the occupancy curve (CTAs of 4 warps per SM)
    n = 256 * MIB  # float32 elements: 1 GiB read + 1 GiB written
    for k in (1, 2, 4, 8, 16):
        out.append(
            Probe(
                f"copy.dram.k{k}",
                "copy_stream",
                k * sms,
                4,
                {"x_ptr": (n, "float32", "rand"), "y_ptr": (n, "float32", "empty")},
                {"n": n},
                {"BLOCK": 2048},
                {"bytes": 2 * n * 4, "sectors": 2 * n * 4 / 32, "warps_per_sm": 4 * k},
            )
        )
    # ---- strided: one element per lane at 32 B (a sector each) or 128 B (a line each)
    for where, rows_log2, iters in (("dram", 23, 16), ("l2", 17, 64), ("l1", 7, 256)):
        for stride in (8, 32):
            grid, warps = 8 * sms, 4
            block = 32 * warps * 4
            rows = 1 << rows_log2
            elems = grid * iters * block
            out.append(
                Probe(
                    f"strided.{where}.s{stride}",
                    "strided_read",
                    grid,
                    warps,
                    {
                        "x_ptr": (rows * stride, "float32", "rand"),
                        "out_ptr": (grid * block, "float32", "empty"),
                    },
                    {"stride": stride, "mask_rows": rows - 1},
                    {
                        "ITERS": iters,
                        "BLOCK": block,
                        "LAYOUT": vector_layout(1, warps),
                        "CACHE": "" if where == "l1" else ".cg",
                    },
                    {
                        "elements": elems,
                        "bytes": elems * 4,
                        "sectors": elems,
                        "lines": elems if stride * 4 >= 128 else elems * stride * 4 / 128,
                        "instructions": elems / 32,
                        "footprint": rows * stride * 4,
                    },
                )
            )
    # ---- random rows (indirect loads)
    for where, table_bytes in (("dram", 1024 * MIB), ("l2", 8 * MIB), ("l1", 16 * KIB)):
        for row in (1, 8, 32, 128) if where != "l1" else (1, 8):
            grid, warps, iters = 8 * sms, 4, 32
            rows_per_tile = 2048 // row
            n_rows = table_bytes // (row * 4)
            n_idx = 1 << 20
            fetched = grid * iters * rows_per_tile
            out.append(
                Probe(
                    f"gather.{where}.r{row}",
                    "gather_rows",
                    grid,
                    warps,
                    {
                        "table_ptr": (n_rows * row, "float32", "rand"),
                        "idx_ptr": (n_idx, "int32", f"randint:{n_rows}"),
                        "out_ptr": (grid * 2048, "float32", "empty"),
                    },
                    {"idx_mask": n_idx - 1},
                    {"ITERS": iters, "ROW": row, "ROWS": rows_per_tile},
                    {
                        "rows": fetched,
                        "bytes": fetched * row * 4,
                        "sectors": fetched * max(1, row * 4 // 32),
                        "index_bytes": fetched * 4,
                        "footprint": table_bytes,
                    },
                )
            )
    # ---- shuffles, barriers, clock, launches
    warps = 8
    block = 32 * warps * 8
    out.append(
        Probe(
            "shuffle",
            "shuffle_chain",
            4 * sms,
            warps,
            {"out_ptr": (4 * sms * block, "int32", "empty")},
            {},
            {"ITERS": 4096, "BLOCK": block},
            {"shuffles": 4 * sms * block / 32 * 4096, "results": 4 * sms * block * 4096},
        )
    )
    for k, w in ((1, 4), (4, 4)):
        blk = 32 * w
        out.append(
            Probe(
                f"barrier.k{k}",
                "barrier_loop",
                k * sms,
                w,
                {"out_ptr": (k * sms * blk, "int32", "empty")},
                {},
                {"ITERS": 8192, "BLOCK": blk},
                {"barriers": k * sms * 8192, "ctas_per_sm": k},
            )
        )
    out.append(
        Probe(
            "clock",
            "clock_spin",
            sms,
            4,
            {"out_ptr": (sms * 128 * 3, "int64", "empty")},
            {},
            {"ITERS": 1 << 19, "BLOCK": 128},
            {"fma": sms * 128 * (1 << 19)},
        )
    )
    out.append(
        Probe("launch.1", "noop", 1, 4, {"out_ptr": (64, "int32", "empty")}, {"flag": 0}, {}, {"ctas": 1})
    )
    out.append(
        Probe(
            "launch.wave64",
            "noop",
            64 * sms,
            4,
            {"out_ptr": (64 * sms, "int32", "empty")},
            {"flag": 0},
            {},
            {"ctas": 64 * sms},
        )
    )
    # ---- shared memory by instruction width (Gluon, 1-D buffers padded once in the middle, so Triton emits
    # plain ld/st.shared of that width: unpadded 4-byte accesses become ldmatrix/stmatrix), one barrier
    # per iteration; `matrix`: a 64 x 32 f32 row tile, which Triton moves with stmatrix/ldmatrix.x4
    iters = 1024
    for label, dtype, vec in (
        ("b8", "int8", 1),
        ("b16", "float16", 1),
        ("b32", "float32", 1),
        ("v2", "float32", 2),
        ("v4", "float32", 4),
    ):
        eb = ELEM_BYTES[dtype]
        w, unroll = 4, 16
        block = 32 * w * vec * unroll
        grid = 4 * sms
        instr = block // (32 * vec)  # warp instructions per CTA per iteration
        per_instr = max(1, 32 * vec * eb // 128)
        for mode, what in ((0, "store"), (1, "load")):
            out.append(
                Probe(
                    f"shared.{what}.{label}",
                    "shared_loop_1d",
                    grid,
                    w,
                    {"out_ptr": (grid * block, dtype, "empty")},
                    {},
                    {
                        "ITERS": iters,
                        "BLOCK": block,
                        "LAYOUT": vector_layout(vec, w),
                        "SHARED": padded_1d(block),
                        "MODE": mode,
                        "DTYPE": dtype,
                    },
                    {
                        "instructions": grid * iters * instr,
                        "wavefronts": grid * iters * instr * per_instr,
                        "barriers": grid * iters,
                        "bytes": grid * iters * block * eb,
                        "vector_bytes": vec * eb,
                    },
                )
            )
    for mode, what in ((0, "store"), (1, "load")):
        bm, bn, w, grid = 64, 32, 4, 4 * sms
        out.append(
            Probe(
                f"shared.{what}.matrix",
                "shared_loop",
                grid,
                w,
                {"out_ptr": (grid * bm * bn, "float32", "empty")},
                {},
                {
                    "ITERS": iters,
                    "BM": bm,
                    "BN": bn,
                    "LAYOUT": row_layout(1, w),
                    "SHARED": plain_shared(),
                    "MODE": mode,
                    "DTYPE": "float32",
                },
                {
                    "instructions": grid * iters * bm * bn * 4 // 512,
                    "wavefronts": grid * iters * bm * bn * 4 // 128,
                    "barriers": grid * iters,
                    "bytes": grid * iters * bm * bn * 4,
                    "vector_bytes": 16,
                },
            )
        )
    out.append(
        Probe(
            "shared.barrier",
            "shared_loop",
            4 * sms,
            4,
            {"out_ptr": (4 * sms * 64 * 32, "float32", "empty")},
            {},
            {
                "ITERS": iters,
                "BM": 64,
                "BN": 32,
                "LAYOUT": row_layout(1, 4),
                "SHARED": plain_shared(),
                "MODE": 2,
                "DTYPE": "float32",
            },
            {"barriers": 4 * sms * iters},
        )
    )
    # ---- cp.async and TMA: L2-resident 8 MiB source, tiles of 4 and 8 KiB, 8 CTAs per SM
    from triton.experimental.gluon import language as gl

    for kib, bm in ((4, 32), (8, 64)):
        bn, w, grid, iters = 64, 4, 8 * sms, 512
        n_chunks = 8 * MIB // (bm * bn * 2)
        layout = gl.BlockedLayout([1, 8], [4, 8], [w, 1], [1, 0])
        work = {"copies": grid * iters, "bytes": grid * iters * bm * bn * 2, "tile_bytes": bm * bn * 2}
        for mode, label in ((0, "cp_async"), (1, "sync_copy")):
            out.append(
                Probe(
                    f"{label}.{kib}k",
                    "cp_async_loop",
                    grid,
                    w,
                    {
                        "x_ptr": (n_chunks * bm * bn, "float16", "rand"),
                        "out_ptr": (grid * bm * bn, "float16", "empty"),
                    },
                    {"n_chunks": n_chunks},
                    {
                        "ITERS": iters,
                        "BM": bm,
                        "BN": bn,
                        "LAYOUT": layout,
                        "SHARED": plain_shared(),
                        "MODE": mode,
                    },
                    dict(work),
                )
            )
        n_rows = 8 * MIB // (bn * 2)
        for desc, label in ((1, "tma"), (0, "ptr")):
            out.append(
                Probe(
                    f"{label}.{kib}k",
                    "tma_loop",
                    grid,
                    w,
                    {
                        "x_ptr": (n_rows * bn, "float16", "rand"),
                        "out_ptr": (grid * bm * bn, "float32", "empty"),
                    },
                    {"n_rows": n_rows},
                    {"ITERS": iters, "BM": bm, "BN": bn, "DESC": desc},
                    dict(work),
                    needs_allocator=bool(desc),
                )
            )
    return out


TRITON_TYPES = {"float32": "fp32", "float16": "fp16", "int8": "i8", "int32": "i32", "int64": "i64"}


def compile_probe(p: Probe, arch: int = 90) -> Any:
    """Compile one probe for `cuda:<arch>` without a GPU (Triton's own pipeline): what the tests run."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.experimental.gluon._runtime import GluonASTSource

    from eqsat.calibrate.kernels import KERNELS

    fn = KERNELS[p.kernel]
    names = list(fn.arg_names)
    sig: dict[str, str] = {}
    consts: dict[tuple[int, ...], Any] = {}
    attrs: dict[tuple[int, ...], Any] = {}
    for a in names:
        if a in p.tensors:
            sig[a] = "*" + TRITON_TYPES[p.tensors[a][1]]
            attrs[(names.index(a),)] = [["tt.divisibility", 16]]
        elif a in p.ints:
            sig[a] = "i32"
        else:
            sig[a] = "constexpr"
            v = p.constexprs[a]
            if a == "DTYPE":
                import triton.language as tl

                v = getattr(tl, v)
            consts[(names.index(a),)] = v
    gluon = type(fn).__name__ != "JITFunction"
    src = (GluonASTSource if gluon else ASTSource)(fn, sig, consts, attrs)
    return triton.compile(
        src,
        target=GPUTarget("cuda", arch, 32),
        options={"num_warps": p.num_warps, "num_stages": p.num_stages},
    )
