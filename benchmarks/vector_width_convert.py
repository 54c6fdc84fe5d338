"""Separate the price of a narrow (4-byte) global load from the price of a ttg.convert_layout, on a GPU.

The kernel is corpora/project/serving.py's copy_row_to_runtime_offset (a 512-float row at a loaded row index
copied to a loaded output offset). Four variants, chosen by alignment hints so that Triton's coalesce pass
itself picks the vector widths (the PTX of each is checked):

    L4C S1   16-byte load, convert, 4-byte store    (the JIT's own kernel, the plan's baseline)
    L1  S1   4-byte load, 4-byte store, no convert  (the re-issued-load plan)
    L4  S4   16-byte load, 16-byte store, no convert
    L1C S4   4-byte load, 16-byte store             (Triton puts both in one layout: no convert, as checked)

`convert_us` / `narrow_load_extra_us` in the output assume L1C S4 has a convert; it has none on Triton
3.6, so read the direct comparisons instead (L4C S1 vs L1 S1 and L4 S4: the convert's cost when the
load width does not matter). Rows are either L2-resident (4096
distinct source rows, the corpus launch's randint(0, 4096)) or streamed from DRAM (a permutation).

    python benchmarks/vector_width_convert.py [--programs 65536] [--rounds 5]
"""

# ruff: noqa: B023 -- the launch lambdas are called within the loop iteration that binds their tensors
from __future__ import annotations

import argparse
import json
import statistics

import torch
import triton
import triton.language as tl


@triton.jit(do_not_specialize=["stride"])
def _copy(rows_ptr, indptr_ptr, src_ptr, dst_ptr, stride, BLOCK: tl.constexpr, ALIGN_OUT: tl.constexpr):
    pid = tl.program_id(0)
    row = tl.load(rows_ptr + pid)
    out_off = tl.load(indptr_ptr + pid)
    if ALIGN_OUT:
        out_off = tl.multiple_of(out_off, 16)
    offs = tl.arange(0, BLOCK)
    x = tl.load(src_ptr + row * stride + offs)
    tl.store(dst_ptr + out_off + offs, x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    block = 512
    dev = "cuda"
    n = a.programs
    results = {}
    for rows_kind, out_kind in (("l2_resident", "aligned"), ("dram_stream", "aligned"),
                                ("l2_resident", "unaligned"), ("dram_stream", "unaligned"),
                                ("bench", "unaligned")):
        case = f"{rows_kind}_{out_kind}"
        if rows_kind == "bench":  # corpora/serving.toml's [kernel.bench]: rows randint(0, 65536)
            rows = torch.randint(0, n, (n,), dtype=torch.int32, device=dev)
            nsrc = n
        elif rows_kind == "l2_resident":
            rows = torch.randint(0, 4096, (n,), dtype=torch.int32, device=dev)
            nsrc = 4096
        else:
            rows = torch.randperm(n, device=dev).to(torch.int32)
            nsrc = n
        src = torch.randn(nsrc * block, device=dev)
        if out_kind == "aligned":
            indptr = torch.arange(n + 1, device=dev, dtype=torch.int32) * block
        else:  # prefix_sum(512, 1025), as the bench table: row starts only 4-byte aligned
            lens = torch.randint(block, 2 * block + 1, (n,), dtype=torch.int32, device=dev)
            zero = torch.zeros(1, dtype=torch.int32, device=dev)
            indptr = torch.cat([zero, torch.cumsum(lens, 0).to(torch.int32)])
        dst = torch.empty(int(indptr[-1].item()) + block, device=dev)
        kernels = {
            # a constexpr stride (BLOCK): 16-byte load; an unspecialized runtime stride: 4-byte load
            "L4C_S1": lambda: _wide[(n,)](rows, indptr, src, dst, BLOCK=block, ALIGN_OUT=False),
            "L1_S1": lambda: _copy[(n,)](rows, indptr, src, dst, block, BLOCK=block, ALIGN_OUT=False),
            "L4_S4": lambda: _wide[(n,)](rows, indptr, src, dst, BLOCK=block, ALIGN_OUT=True),
            "L1C_S4": lambda: _copy[(n,)](rows, indptr, src, dst, block, BLOCK=block, ALIGN_OUT=True),
        }
        if out_kind == "unaligned":  # an alignment hint would be a lie: only the 4-byte stores
            kernels = {k: v for k, v in kernels.items() if k.endswith("S1")}
        idx = (indptr[:-1].long()[:, None] + torch.arange(block, device=dev)[None, :]).reshape(-1)
        ref = src.view(nsrc, block)[rows.long()].reshape(-1)
        info = {}
        for name, fn in kernels.items():
            dst.zero_()
            k = fn()
            torch.cuda.synchronize()
            ok = bool(torch.equal(dst[idx], ref))
            ttgir = k.asm["ttgir"]
            ptx = k.asm["ptx"]
            info[name] = {"bit_identical": ok, "convert": "convert_layout" in ttgir,
                          "ld_v4": "ld.global.v4" in ptx, "st_v4": "st.global.v4" in ptx}
        times = {name: [] for name in kernels}
        for _ in range(a.rounds):
            for name, fn in kernels.items():
                times[name].append(triton.testing.do_bench(fn, warmup=25, rep=100) * 1000.0)
        med = {k: statistics.median(v) for k, v in times.items()}
        conv = narrow = None
        if "L4_S4" in med:
            conv = (med["L4C_S1"] - med["L1_S1"] - med["L4_S4"] + med["L1C_S4"]) / 2
            narrow = (med["L1_S1"] - med["L4C_S1"] + med["L1C_S4"] - med["L4_S4"]) / 2
        results[case] = {"median_us": med, "all_us": times, "info": info,
                              "convert_us": conv, "narrow_load_extra_us": narrow,
                              "bytes": 2 * n * block * 4}
        print(case, json.dumps({"median_us": {k: round(v, 2) for k, v in med.items()}, "info": info,
                                "speedup_L1_S1": round(med["L4C_S1"] / med["L1_S1"], 3),
                                "convert_us": conv, "narrow_load_extra_us": narrow}))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "triton": triton.__version__,
                       "programs": n, "results": results}, f, indent=1)


@triton.jit
def _wide(rows_ptr, indptr_ptr, src_ptr, dst_ptr, BLOCK: tl.constexpr, ALIGN_OUT: tl.constexpr):
    pid = tl.program_id(0)
    row = tl.load(rows_ptr + pid)
    out_off = tl.load(indptr_ptr + pid)
    if ALIGN_OUT:
        out_off = tl.multiple_of(out_off, 16)
    offs = tl.arange(0, BLOCK)
    x = tl.load(src_ptr + row * BLOCK + offs)
    tl.store(dst_ptr + out_off + offs, x)


if __name__ == "__main__":
    main()
