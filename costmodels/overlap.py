"""Layout conversions hidden under memory time: the price of a `ttg.convert_layout` in a memory-bound kernel.

Per-op costs add (extraction sums node prices), but an SM does a CTA's conversion (shared-memory
wavefronts, a CTA barrier, shuffles) while other resident CTAs wait on DRAM: in a kernel whose memory time
exceeds its on-SM time the conversion costs little. The model prices this first-order, per kernel, from
the kernel as it stands (the input program of the extraction):

    M = memory time:  the `global` group of all ops (DRAM / L2 time)
    S = on-SM time:   every other group of all ops (issue, l1, shared, barrier, shuffle, async, tma)
    C = the part of S that is layout conversions (ops of kind `convert`)
    hidden = clamp((M - (S - C)) / C, 0, 1) x `overlap.convert_hidden_max`

i.e. the conversions fill the memory time the rest of the SM work leaves idle. Every conversion of the
kernel (its `convert` ops, and the e-graph's `Tile.convert` / `Tile.via_shared` alternatives) is then
priced at `(1 - hidden)` of its on-SM time: its counts (wavefronts, barriers) stay, its nanoseconds
shrink, and `info["hidden_by_memory"]` says by how much. A kernel bound by on-SM work (M <= S - C) hides
nothing, so a plan that removes a conversion there still gains its full price (gather_rows_1024: memory
117 ns against 270 ns of shuffles and shared traffic).

Source (H200, Triton 3.6.0, benchmarks/vector_width_convert.py, results in
benchmarks/results/vector_width_convert_h200.json): copy_row_to_runtime_offset's 512-float rows, 65536
CTAs, rows streamed from DRAM, aligned outputs: the 16-byte load + convert + 4-byte store took 76.0 us,
the same without the convert (4-byte load) 74.9 us and with 16-byte stores 74.2 us, so the convert costs
~0.7 us (1%) where the additive model said 16% of the kernel; with the corpus's unaligned output rows the
convert-free plan is 0.946x (bench: 0.941x). Rows resident in L2 (not DRAM) leave less to hide under:
there the convert cost 5.5 us of 54 (11%); the model does not know residency of plain loads (it prices
them as DRAM traffic), so it hides the convert fully in both.

Limits: M, S and C come from the input program; a plan that also cuts memory time would in truth hide
less. Loop trips of a convert inside a loop follow `common.loop_trips` as for the op's own price.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eqsat.costmodels.base import Cost

MEMORY_GROUPS = ("global",)


def _max_hidden(model: Any) -> float:
    overlap = model.params.get("overlap", {}) or {}
    return max(0.0, min(1.0, float(overlap.get("convert_hidden_max", 1.0))))


def hidden_fraction(model: Any, kernel: Mapping[str, Any]) -> float:
    """The fraction of the kernel's conversion time hidden under its memory time (0 when none)."""
    from eqsat.costmodels.op_costs import cost_of_op, raw_convert

    limit = _max_hidden(model)
    if limit <= 0.0:
        return 0.0
    memory = sm = conv = 0.0
    for op in kernel.get("ops", []):
        if op.get("kind") == "convert":
            c = raw_convert(model, op, kernel)
            conv += c.total_ns
            sm += c.total_ns
            continue
        c = cost_of_op(model, op, kernel)
        if not c.legal:
            return 0.0
        for group, ns in c.ns.items():
            if group in MEMORY_GROUPS:
                memory += ns
            else:
                sm += ns
    if conv <= 0.0:
        return 0.0
    return max(0.0, min(1.0, (memory - (sm - conv)) / conv)) * limit


def hide(cost: Cost, fraction: float) -> Cost:
    """`cost` (a conversion's) with `fraction` of its nanoseconds hidden under memory time."""
    if fraction <= 0.0 or not cost.legal or not cost.ns:
        return cost
    info = dict(cost.info)
    info["hidden_by_memory"] = round(fraction, 4)
    return Cost(dict(cost.terms), {k: v * (1.0 - fraction) for k, v in cost.ns.items()}, None, info)
