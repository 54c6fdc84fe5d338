"""The latency bound of a compiled program at a launch (NVIDIA): round trips to global memory on the
critical path of one CTA, times the waves of CTAs the SMs hold at once.

The throughput model (`common.kernel_time_ns`) prices bytes, wavefronts and instructions per launch; it
cannot see that ptxas scheduled a program so that a warp waits on memory more often. This module reads the
machine code (eqsat/ir/sass.py) and counts those waits:

    round trip   a wait point (an instruction whose wait mask names a barrier, or a `DEPBAR.LE SB0, N`)
                 counts when some global load it waits on (LDG, LD, ATOMG, ATOM; LDGSTS groups closed by
                 LDGDEPBAR) was issued after the previous counted wait: loads issued together and waited
                 together are one trip; a load issued after the warp already waited is another.
    path(CTA)    round trips in straight-line code (forward branches read as straight-line: both sides
                 of an if count) + for each loop, its body's own round trips per iteration (the body
                 simulated `PASSES` times with the state carried over, the mean of all but the first:
                 software-pipelined loads waited an iteration later count in steady state) x its trips
    loops        backward BRAs, matched in program order to the TTGIR's scf.for/scf.while (trips from the
                 launch, eqsat.dm.trips, as the dm lift computes info["trips"]); ptxas's complete unrolling
                 of constant-bound loops and its unroll-by-U + remainder of runtime-bound ones are undone
                 (`match_loops`); a SASS loop left unmatched runs once
    resident     CTAs per SM (the CUDA occupancy calculator): min over
                    registers  floor(floor(regs_per_sm / (ceil(regs x 32 / reg_unit) x reg_unit))
                                     rounded down to warp_granularity / warps)
                    shared     floor(smem_per_sm / ceil(static + dynamic shared, smem_unit))
                    warps      floor(max_warps / warps),   ctas  max_ctas
    waves        ceil(CTAs / (resident x SMs))
    latency      waves x (round trips x memory_latency_ns + stall cycles on the path / clock x
                 issue_weight)
    kernel time  launch + smooth max(throughput T, latency Λ) = launch + (T^p + Λ^p)^(1/p)

The parameters are the `[latency]` section of the target's parameter file (fitted: see there). AMD
(`s_waitcnt vmcnt`) is not built: `latency_of` returns None for non-NVIDIA targets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eqsat.ir.sass import Instruction, Loop, Sass

PASSES = 4  # body simulations per loop; the first warms the state


@dataclass(frozen=True)
class LatencyParams:
    """`[latency]` of a parameter file (defaults: H200 / CUDA occupancy calculator for sm_90)."""

    memory_latency_ns: float = 0.0  # 0: no latency bound (a parameter file without [latency])
    issue_weight: float = 0.0
    smooth_p: float = 2.0
    regs_per_sm: int = 65536
    reg_unit: int = 256
    warp_granularity: int = 4
    max_warps: int = 64
    max_ctas: int = 32
    smem_per_sm: int = 233472
    smem_unit: int = 128
    sms: int = 132
    clock_ghz: float = 1.98

    @staticmethod
    def of(params: Any) -> LatencyParams:
        """The fitted numbers through `common.Rates` (its documented defaults), the occupancy limits from
        `[latency]` (defaults: compute capability 9.0)."""
        from eqsat.costmodels.common import Rates

        rates = Rates.of(params)
        sec = params.get("latency", {}) or {}
        d = LatencyParams()
        return LatencyParams(
            memory_latency_ns=rates.memory_latency_ns,
            issue_weight=rates.latency_issue_weight,
            smooth_p=rates.latency_smooth_p,
            regs_per_sm=int(sec.get("regs_per_sm", d.regs_per_sm)),
            reg_unit=int(sec.get("reg_alloc_unit", d.reg_unit)),
            warp_granularity=int(sec.get("warp_alloc_granularity", d.warp_granularity)),
            max_warps=int(sec.get("max_warps_per_sm", d.max_warps)),
            max_ctas=int(sec.get("max_ctas_per_sm", d.max_ctas)),
            smem_per_sm=int(sec.get("shared_per_sm_bytes", d.smem_per_sm)),
            smem_unit=int(sec.get("shared_alloc_unit", d.smem_unit)),
            sms=rates.sms,
            clock_ghz=rates.clock_ghz,
        )


def resident_ctas(regs: int, shared_bytes: int, warps: int, p: LatencyParams = LatencyParams(),
                  warp_size: int = 32) -> int:
    """CTAs one SM holds at once (the CUDA occupancy calculator); 0 when one CTA does not fit."""
    regs_per_warp = math.ceil(max(1, regs) * warp_size / p.reg_unit) * p.reg_unit
    warps_by_regs = (p.regs_per_sm // regs_per_warp) // p.warp_granularity * p.warp_granularity
    by_regs = warps_by_regs // warps
    smem = math.ceil(shared_bytes / p.smem_unit) * p.smem_unit if shared_bytes > 0 else 0
    by_smem = p.smem_per_sm // smem if smem else p.max_ctas
    by_warps = p.max_warps // warps
    return max(0, min(by_regs, by_smem, by_warps, p.max_ctas))


# ------------------------------------------------------------------------------------ round trips
@dataclass
class _State:
    """Outstanding global loads per scoreboard barrier (issue sequence numbers), LDGSTS groups."""

    seq: int = 0
    last_wait: int = -1  # sequence number of the last counted wait
    pending: dict[int, list[int]] = field(default_factory=dict)
    open_group: list[int] = field(default_factory=list)  # LDGSTS since the last LDGDEPBAR
    groups: list[list[int]] = field(default_factory=list)  # committed LDGSTS groups, oldest first


_DEPBAR = re.compile(r"SB0\s*,\s*(0x[0-9a-f]+|\d+)")


def _step(ins: Instruction, st: _State) -> int:
    """Advance the state over one instruction; 1 when it is a counted round trip."""
    st.seq += 1
    waited: list[int] = []
    for b in range(6):
        if ins.waits_on(b) and st.pending.get(b):
            waited += st.pending.pop(b)
    if ins.base == "DEPBAR":
        m = _DEPBAR.search(ins.operands)
        keep = int(m.group(1), 0) if m else 0
        while len(st.groups) > keep:
            waited += st.groups.pop(0)
    counted = 0
    if waited and max(waited) > st.last_wait:
        counted = 1
        st.last_wait = st.seq
    if ins.base == "LDGSTS":
        st.open_group.append(st.seq)
    elif ins.base == "LDGDEPBAR":
        if st.open_group:
            st.groups.append(st.open_group)
        st.open_group = []
    elif ins.global_load and ins.write_barrier is not None:
        st.pending.setdefault(ins.write_barrier, []).append(st.seq)
    return counted


@dataclass
class Path:
    """What one CTA's critical path holds: round trips, stall cycles, instructions and global loads
    (all weighted by loop trips), and how the loops were matched."""

    round_trips: float
    stall_cycles: float
    instructions: float
    global_loads: float
    static_global_loads: int
    loops: list[dict[str, Any]]


def critical_path(sass: Sass, trips: Sequence[float | None] = ()) -> Path:
    """Round trips and stall cycles of one CTA (see the module docstring); `trips[i]` = iterations per
    program of the i-th matched SASS loop (None or missing: 1)."""
    ins = sass.instructions
    loops = [lp for lp in sass.loops if lp.end > lp.start]
    tops = [lp for lp in loops if lp.depth == 0]
    info: list[dict[str, Any]] = []

    def own(lp: Loop | None, i: int) -> bool:
        """Instruction i belongs to loop lp's own body (not to a loop nested in it); lp None: top."""
        a = ins[i].address
        inner = [q for q in loops if q.start <= a <= q.end and (lp is None or (q is not lp and
                 lp.start <= q.start and q.end <= lp.end))]
        if lp is None:
            return not inner
        return lp.start <= a <= lp.end and not inner

    def body(lp: Loop) -> range:
        return range(sass.index_of(lp.start), sass.index_of(lp.end) + 1)

    def simulate(lp: Loop) -> tuple[float, float, float, float]:
        st = _State()
        counts = []
        idx = body(lp)
        for _ in range(PASSES):
            c = 0
            for i in idx:
                r = _step(ins[i], st)
                if own(lp, i):
                    c += r
            counts.append(c)
        rt = sum(counts[1:]) / (PASSES - 1)
        mine = [i for i in idx if own(lp, i)]
        return (rt, float(sum(ins[i].stall for i in mine)), float(len(mine)),
                float(sum(ins[i].global_load for i in mine)))

    # straight-line part: one pass over everything, counting only top-level instructions
    st = _State()
    rt = 0.0
    for i, x in enumerate(ins):
        r = _step(x, st)
        if own(None, i):
            rt += r
    top = [i for i in range(len(ins)) if own(None, i)]
    stalls = float(sum(ins[i].stall for i in top))
    count = float(len(top))
    loads = float(sum(ins[i].global_load for i in top))
    for k, lp in enumerate(loops):
        t = trips[k] if k < len(trips) and trips[k] is not None else 1.0
        lrt, lst, lcount, lloads = simulate(lp)
        rt += lrt * t
        stalls += lst * t
        count += lcount * t
        loads += lloads * t
        info.append({"start": lp.start, "end": lp.end, "depth": lp.depth, "trips": t,
                     "round_trips_per_iteration": lrt, "matched": k < len(trips) and trips[k] is not None})
    del tops
    return Path(rt, stalls, count, loads, sum(x.global_load for x in ins), info)


# ------------------------------------------------------------------------------- loops of the TTGIR
def ttgir_loop_trips(module: Any, launch: Any) -> list[tuple[float | None, bool]]:
    """(trips per program, constant bounds) of every scf.for / scf.while of the first function, in
    program order (pre-order: an outer loop before its inner ones); trips None when not evaluated."""
    from xdsl.ir import OpResult

    from eqsat.dm.cfg import ControlFlow
    from eqsat.dm.lift import Locations, functions
    from eqsat.dm.trips import enclosing_loops, trip_report
    from eqsat.ir.dialects.base import op_name_of

    funcs = functions(module)
    if not funcs:
        return []
    func = funcs[0]
    values = launch.values().renamed(Locations(module).argument_aliases(func)) if launch is not None else None
    control = ControlFlow(func)
    out: list[tuple[float | None, bool]] = []
    for op in func.walk():
        if op_name_of(op) not in ("scf.for", "scf.while"):
            continue
        first = next((o for r in op.regions for b in r.blocks for o in b.ops), None)
        trips = None
        if first is not None and values is not None:
            loops = enclosing_loops(first)
            outer = control.conditions(loops[0]) if loops else []
            rep = trip_report(first, values, outer) or {}
            if not rep.get("assumed") and rep.get("value") is not None:
                trips = float(rep["value"])
        const = op_name_of(op) == "scf.for" and all(
            isinstance(v, OpResult) and op_name_of(v.owner) == "arith.constant"
            for v in list(op.operands)[:3])
        out.append((trips, const))
    return out


def _own_loads(sass: Sass, loops: Sequence[Loop]) -> list[int]:
    """Global loads in each loop's own body (not in a loop nested in it)."""
    out = []
    for lp in loops:
        inner = [q for q in loops if q is not lp and lp.start <= q.start and q.end <= lp.end]
        out.append(sum(1 for x in sass.instructions if x.global_load and lp.start <= x.address <= lp.end
                       and not any(q.start <= x.address <= q.end for q in inner)))
    return out


def match_loops(sass: Sass, ttgir: Sequence[tuple[float | None, bool]]) -> list[float | None]:
    """Trips of each SASS loop (program order), from the TTGIR loops (see the module docstring).

    ptxas changes the loop structure two ways: it unrolls a loop of constant bounds completely (fewer SASS
    loops: constant-bound TTGIR loops are dropped, last first), and it unrolls a runtime-bound loop by U
    with a remainder loop after it (more SASS loops: two neighbours of one depth whose global loads are
    in the ratio U : 1 are one TTGIR loop; the first runs floor(t / U) times, the remainder t mod U)."""
    loops = [lp for lp in sass.loops if lp.end > lp.start]
    keep = list(ttgir)
    i = len(keep) - 1
    while len(keep) > len(loops) and i >= 0:
        if keep[i][1]:
            keep.pop(i)
        i -= 1
    loads = _own_loads(sass, loops)
    unroll: dict[int, int] = {}  # index of a main loop -> U (its remainder is the next loop)
    extra = len(loops) - len(keep)
    for j in range(len(loops) - 1):
        if extra <= 0:
            break
        a, b = loops[j], loops[j + 1]
        if a.depth == b.depth and a.end < b.start and loads[j + 1] and loads[j] % loads[j + 1] == 0 \
                and loads[j] // loads[j + 1] >= 2 and (j - 1) not in unroll:
            unroll[j] = loads[j] // loads[j + 1]
            extra -= 1
    out: list[float | None] = []
    t_iter = iter(t for t, _ in keep)
    j = 0
    while j < len(loops):
        t = next(t_iter, None)
        if j in unroll:
            u = unroll[j]
            out += [None, None] if t is None else [float(t // u), float(t - u * (t // u))]
            j += 2
        else:
            out.append(t)
            j += 1
    return out


# --------------------------------------------------------------------------------- the estimate
@dataclass
class Latency:
    round_trips: float
    stall_cycles: float
    registers: int
    shared_bytes: int
    warps: int
    resident: int
    ctas: int
    waves: int
    path_ns: float
    latency_ns: float
    loops: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (floats rounded to 3 places)."""
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def estimate(sass: Sass, dynamic_shared: int, warps: int, ctas: int, trips: Sequence[float | None],
             p: LatencyParams) -> Latency:
    crit = critical_path(sass, trips)
    shared = sass.static_shared + dynamic_shared
    resident = max(1, resident_ctas(sass.registers, shared, warps, p))
    waves = math.ceil(max(1, ctas) / (resident * p.sms))
    path = path_ns(crit.round_trips, crit.stall_cycles, p.memory_latency_ns, p.issue_weight, p.clock_ghz)
    return Latency(crit.round_trips, crit.stall_cycles, sass.registers, shared, warps, resident, ctas, waves,
                   path, waves * path, crit.loops)


def path_ns(round_trips: float, stall_cycles: float, memory_latency_ns: float, issue_weight: float,
            clock_ghz: float) -> float:
    """One CTA's critical path: round trips x memory latency + stall cycles / clock x issue weight."""
    return round_trips * memory_latency_ns + stall_cycles / clock_ghz * issue_weight


def compose(throughput_ns: float, latency_ns: float, smooth_p: float, launch_ns: float = 0.0) -> float:
    """launch + (T^p + latency^p)^(1/p), T = the throughput time without its launch (`throughput_ns`
    includes it, as `common.kernel_time_ns` returns it); p <= 0 or no latency: the throughput time."""
    t = max(0.0, throughput_ns - launch_ns)
    if smooth_p <= 0 or latency_ns <= 0:
        return launch_ns + t
    if math.isinf(smooth_p):
        return launch_ns + max(t, latency_ns)
    return launch_ns + (t ** smooth_p + latency_ns ** smooth_p) ** (1.0 / smooth_p)


def latency_of(text: str, target: str, launch: Mapping[str, Any] | None, name: str = "kernel"
               ) -> Latency | None:
    """Compile TTGIR `text` for an NVIDIA `target` and estimate its latency at the manifest `launch`
    (`{"grid", "args"}`); None for other targets. Raises EqsatError (bad IR, no cuobjdump)."""
    from eqsat.costmodels.base import load_params

    from eqsat.dm.lift import Launch
    from eqsat.ir.compile import compile_ttgir
    from eqsat.ir.parser import parse_ttgir
    from eqsat.ir.sass import decode_cubin

    params = load_params(target)
    if params.model != "nvidia":
        return None
    module = parse_ttgir(text, name)
    lw = Launch.from_manifest(dict(launch)) if launch else None
    mc = compile_ttgir(text, target, name)
    sass = decode_cubin(mc.binary, name)
    trips = match_loops(sass, ttgir_loop_trips(module, lw))
    grid = (launch or {}).get("grid") or [params.get("sms", 132)]
    ctas = math.prod(int(g) for g in grid)
    return estimate(sass, mc.shared, module.num_warps, ctas, trips, LatencyParams.of(params))
