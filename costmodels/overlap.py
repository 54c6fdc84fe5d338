"""Layout conversions (and gathers) hidden under memory time: their price in a memory-bound kernel.

Per-op costs add (extraction sums node prices), but an SM does a CTA's conversion (shared-memory
wavefronts, a CTA barrier, shuffles) while other resident CTAs wait on DRAM: in a kernel whose memory time
exceeds its on-SM time the conversion costs little. The model prices this first-order, per kernel, from
the kernel as it stands (the input program of the extraction):

    M = memory time:  the `global` group of all ops (DRAM / L2 time)
    S = on-SM time:   every other group of all ops (issue, l1, shared, barrier, shuffle, async, tma)
    C = the part of S that is layout conversions (ops of kind `convert`)
    H = max(0, M - (S - C))          the memory time the rest of the SM work leaves idle (the slack)
    a conversion of c ns hides  beta x min(c, H / n)     (n = the kernel's convert ops,
                                                           beta = `overlap.convert_hidden_max`)

i.e. the conversions fill the slack, each its share of it, and beta of what they fill is hidden (the
rest still shows: memory and on-SM work do not overlap perfectly). Every conversion of the kernel (its
`convert` ops, and the e-graph's `Tile.convert` / `Tile.via_shared` alternatives) is priced so: its counts
(wavefronts, barriers) stay, its nanoseconds shrink, and `info["hidden_by_memory"]` says by how much. The
slack is absolute: an alternative conversion much dearer than the input's hides no more than the slack
(an earlier version hid the input's *fraction* of any alternative, so a bank-conflicted swizzle of
column_major_load, 60 us of shared traffic against 16 us of slack, was priced free: measured 0.47x).
A kernel bound by on-SM work (M <= S - C) hides
nothing, so a plan that removes a conversion there still gains its full price (gather_rows_1024: memory
117 ns against 270 ns of shuffles and shared traffic).

beta: fitted on the H200 alternatives (benchmarks/results/alternatives_h200.md: column_major_load's
shared encodings 0.99x / 0.75x / 0.47x, gather_rows_1024's conversions, matmul epilogues), see
`[overlap]` in params/h200.toml.

Source of the first version (H200, Triton 3.6.0, benchmarks/vector_width_convert.py, results in
benchmarks/results/vector_width_convert_h200.json): copy_row_to_runtime_offset's 512-float rows, 65536
CTAs, rows streamed from DRAM, aligned outputs: the 16-byte load + convert + 4-byte store took 76.0 us,
the same without the convert (4-byte load) 74.9 us and with 16-byte stores 74.2 us, so the convert costs
~0.7 us (1%) where the additive model said 16% of the kernel; with the corpus's unaligned output rows the
convert-free plan is 0.946x (bench: 0.941x). Rows resident in L2 (not DRAM) leave less to hide under:
there the convert cost 5.5 us of 54 (11%); the model does not know residency of plain loads (it prices
them as DRAM traffic), so it hides the convert fully in both.

In-register and shared-memory gathers (`tt.gather`: warp shuffles, or the source tile stored to shared
and read at random) are on-SM redistribution like conversions, and hide the same way: C counts the
kernel's `gather` ops too, and the e-graph's `Tile.gather` / `Tile.gather_shared` are priced through
`hide`. An indirect global load that replaces a gather is memory traffic and hides nothing. Measured on
an H200 (benchmarks/results/alternatives_h200.md): gather_1d_cross_warp (16384 CTAs, DRAM-bound) ran its
shared-memory gather 1.06x faster than the indirect load that replaced it (the plan predicted 1.18x the
other way, with the gather's 13 us of shared traffic fully on the critical path); gather_rows_warp_local
likewise (0.975x); gather_rows_1024 is bound by its shuffles (no slack) and keeps its indirect load.

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


class Slack(float):
    """The fraction of the input's conversion time hidden (a float, as callers used it), carrying the
    slack share of one conversion (`per_conversion_ns`) and beta, so that `hide` prices any conversion
    by the absolute slack."""

    per_conversion_ns: float
    beta: float

    def __new__(cls, fraction: float, per_conversion_ns: float, beta: float) -> Slack:
        obj = super().__new__(cls, fraction)
        obj.per_conversion_ns = per_conversion_ns
        obj.beta = beta
        return obj


def hidden_fraction(model: Any, kernel: Mapping[str, Any]) -> float:
    """The fraction of the kernel's conversion time hidden under its memory time (0 when none), as a
    `Slack` that `hide` applies to any conversion by the absolute slack."""
    from eqsat.costmodels.op_costs import cost_of_op, raw_convert, raw_gather

    limit = _max_hidden(model)
    if limit <= 0.0:
        return 0.0
    memory = sm = conv = 0.0
    n = 0
    for op in kernel.get("ops", []):
        if op.get("kind") in ("convert", "gather"):
            n += 1
            c = (raw_convert if op["kind"] == "convert" else raw_gather)(model, op, kernel)
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
    slack = max(0.0, memory - (sm - conv))
    return Slack(min(1.0, slack / conv) * limit, slack / max(1, n), limit)


def hide(cost: Cost, fraction: float) -> Cost:
    """`cost` (a conversion's) with `fraction` of its nanoseconds hidden under memory time; with a `Slack`,
    beta x min(cost, slack share) of them."""
    if fraction <= 0.0 or not cost.legal or not cost.ns:
        return cost
    if isinstance(fraction, Slack):
        total = cost.total_ns
        fraction = fraction.beta * min(1.0, fraction.per_conversion_ns / total) if total > 0 else 0.0
        if fraction <= 0.0:
            return cost
    info = dict(cost.info)
    info["hidden_by_memory"] = round(fraction, 4)
    return Cost(dict(cost.terms), {k: v * (1.0 - fraction) for k, v in cost.ns.items()}, None, info)
