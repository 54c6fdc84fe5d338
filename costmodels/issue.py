"""Instruction issue against bytes: the kernel time that decides whether a guarded version pays.

The movement model prices each access's bytes (DRAM/L2) and adds an LSU term per memory instruction. That
says a scalar access always loses to a vector one, but on the GPU a kernel is bound by the larger of its
memory time and its on-SM instruction stream: a plain copy with 4-byte loads was already at bandwidth and
its 16-byte version ran 1.00x, while a row softmax, whose exp/max/sum work shares the issue slots with
one load, one store, their address arithmetic and predicates per element, ran 1.41x faster with 16-byte
vectors (H200, Triton 3.6.0, 32768 x 1000 fp32: 95.1 -> 67.3 us; RMSNorm-like bf16 rows 1.66x).

    warp instructions per CTA = num_warps x sum over ops of per-thread instructions, with e = padded tile
    elements / (num_warps x warp_size) elements per thread:
        load / store / indirect      ceil(e / v) x (1 memory + ADDRESS + PREDICATE if masked); ADDRESS is
                                     a 64-bit add (2) on NVIDIA, a 32-bit buffer offset (1) on CDNA3
                                     + e selects of `other` for a masked load    (v = vector elements)
        other (arith/math/...)       e x weight (math.exp/log/rsqrt/sqrt/div: SFU sequences, 4; splat,
                                     broadcast, expand_dims: 0; anything else 1)
        reduce                       e + REDUCE_TAIL (butterfly shuffles and the cross-warp combine)
        convert (layouts differ)     e + CONVERT_TAIL (vector shared stores, element loads, a barrier)
    issue time I = warp instructions x CTAs x loop trips / (SMs x clock x `warp_instructions_per_clock`)
    kernel time  = max(M, I)         M: the movement model's `global` group (its shared, shuffle and L1
                                     groups are instructions counted in I, so they are not added again)

`warp_instructions_per_clock` (per SM/CU, sustained) is a fit, not a datasheet number. The issue's first
figure (softmax fp32 95.1 us with scalar loads) did not reproduce: on the project's H200 bench
(benchmarks/results/gpu_versions_h200.md, Triton 3.6.0) the JIT's fp32 softmax of 32768 x 1000 ran at
67.8 us (3.87 TB/s, 91% of copy) and its version 1.004x, cross-entropy fp32 0.923x, a masked copy
1.00x, while the 2-byte norms gained (RMSNorm bf16 h5000 1.317x, LayerNorm fp16 h1544 1.53x, QK-norm
fp16 d40 1.155x): a scalar 2-byte access issues twice the instructions per byte of a 4-byte one. NVIDIA
1.3 is inside the range that orders all of these (>= 1.12: the fp32 softmax's scalar issue, 67 us on
the h100 parameters, under its 78 us of memory; < 1.6: RMSNorm bf16's, 72 us, over its 59). CDNA3
(wave64 over 4 SIMDs, one wave instruction per 4 clocks per SIMD: a peak of 1 per CU per clock) is
given the same fraction of its peak, 0.33: not measured.
A version costs `VERSION_NS` on top (a second binary, the dispatch check): it must win more than that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from eqsat.costmodels.base import Cost, CostModel

ADDRESS = {"nvidia": 2, "amd": 1}  # per vector: a 64-bit pointer add; CDNA3 buffer loads: a 32-bit offset
PREDICATE = 1  # predicate of a masked access per vector
REDUCE_TAIL = 14  # 5 butterfly rounds (shuffle + op), the cross-warp store/load/combine
CONVERT_TAIL = 4  # barrier and address setup of a conversion through shared memory
HEAVY = ("math.exp", "math.exp2", "math.log", "math.log2", "math.rsqrt", "math.sqrt", "arith.divf",
         "math.tanh", "math.erf")
FREE_OPS = ("tt.splat", "tt.broadcast", "tt.expand_dims", "tt.reshape", "tt.trans")
VERSION_NS = 500.0  # what a version costs beyond its kernel time (binary, dispatch check): assumption
IPC = {"nvidia": 1.3, "amd": 0.33}  # sustained warp instructions per clock per SM/CU (module docstring)
ACCESS_KINDS = ("load", "store", "indirect_load", "indirect_store")


def _padded(shape: Any) -> int:
    return math.prod(1 << (max(1, int(s)) - 1).bit_length() for s in (shape or [1]))


def op_instructions(op: Mapping[str, Any], threads: int, address: int = ADDRESS["nvidia"]) -> float:
    """Per-thread instructions of one dm op (module docstring)."""
    kind = op.get("kind")
    shape = op.get("shape") or []
    e = max(1.0, _padded(shape) / max(1, threads)) if shape else 1.0
    if kind in ACCESS_KINDS:
        access = op.get("access") or {}
        eb = max(1, _dtype_bytes(op.get("dtype")))
        vec = max(1, int(access.get("vector_bytes") or eb) // eb)
        masked = int(access.get("mask_constancy") or 0) > 0
        n = math.ceil(e / vec)
        count = n * (1 + address + (PREDICATE if masked else 0))
        if masked and kind in ("load", "indirect_load"):
            count += e
        return float(count)
    if kind == "other":
        origin = op.get("origin") or ""
        if not shape or origin in FREE_OPS:
            return 0.0
        return e * (4.0 if origin in HEAVY else 1.0)
    if kind == "reduce":
        return e + REDUCE_TAIL
    if kind == "convert":
        return 0.0 if op.get("src_layout") == op.get("dst_layout") else e + CONVERT_TAIL
    return 0.0


def _dtype_bytes(dtype: Any) -> int:
    from eqsat.costmodels.common import dtype_bytes

    return dtype_bytes(dtype)


def issue_ns(model: CostModel, kernel: Mapping[str, Any]) -> tuple[float, float]:
    """(warp instructions of the launch, their issue time in ns) of a dm JSON kernel."""
    from eqsat.costmodels.common import loop_trips, num_ctas

    rates = getattr(model, "rates", None)
    if rates is None:
        return 0.0, 0.0
    warps = int(kernel.get("num_warps", 4))
    lanes = int(kernel.get("threads_per_warp", rates.warp_size))
    total = 0.0
    address = ADDRESS.get(model.params.model, ADDRESS["nvidia"])
    for op in kernel.get("ops", []):
        per_thread = op_instructions(op, warps * lanes, address)
        if per_thread:
            total += per_thread * warps * num_ctas(op, kernel, rates) * loop_trips(op, rates, kernel)
    ipc = IPC.get(model.params.model, 1.0)
    return total, total / (rates.sms * rates.clock_ghz * ipc)


def kernel_time(model: CostModel, kernel: Mapping[str, Any]) -> Cost:
    """max(memory time, issue time) of a dm JSON kernel, as a Cost whose groups are `global` (M) and
    `on_sm_excess` (what the instruction stream adds beyond M)."""
    # predicted on the h100 parameters (this fit): softmax fp32 32768 x 1000 identity (78.3 us both),
    # RMSNorm bf16 1.23x, masked copy identity
    movement = model.kernel_cost(kernel)
    if not movement.legal:
        return Cost(illegal=movement.illegal)
    memory = float(movement.ns.get("global", 0.0))
    instructions, issue = issue_ns(model, kernel)
    excess = max(0.0, issue - memory)
    return Cost({"warp_instructions": instructions}, {"global": memory, "on_sm_excess": excess},
                info={"memory_ns": round(memory, 3), "issue_ns": round(issue, 3),
                      "bound": "issue" if issue > memory else "memory"})


__all__ = ["IPC", "VERSION_NS", "issue_ns", "kernel_time", "op_instructions"]
