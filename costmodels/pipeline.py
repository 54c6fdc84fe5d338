"""Pipeline cost model: a kernel's main loop under one transport variant (issue 12; refit in issue 13).

A variant (eqsat/lowering/transport_variants.py) is compiled, so its shared memory and registers are
known. Per SM, `C` CTAs are resident; each runs `trips` iterations of its K loop. Per CTA and trip (cycles):

    C      = min(smem_per_sm // (shared + smem_reserved_per_cta),             shared memory per stage ring
                 regs_per_sm // (ceil8(registers) * 32 * warps),              registers (8-per-thread units)
                 max_warps_per_sm // warps, max_ctas_per_sm)                  0: illegal (no CTA fits)
    m      = flops / mma_flops_per_clk                                        tensor cores
             + alu / alu_elems_per_clk + sfu / sfu_elems_per_clk              the loop's vector work (an
                                                                              online softmax between dots)
    x      = bytes / l2_bytes_per_clk                                         operand bytes into the SM
    q      = tma_requests * tma_request_clk                                   the SM's TMA engine (a request
                                                                              per row and 128-byte span)
    issue  = cp_row_clk * rows + cp_kib_clk * KiB not through TMA            the threads' address and
             (+ tma_trip_clk in tma mode)                                    cp.async / ld.global issue;
                                                                              the mbarrier expect/wait
             + reg_store_row_clk * rows        registers@1: the tile's st.shared and barrier (thread work
                                               on the SM, not a latency the other CTAs hide)
    chain  = latency_clk + m                   one tile's load latency and the MMA that frees its buffer
                                               (Triton refills a slot after the wgmma reading it retires);
                                               registers@1: load and MMA in one trip, nothing in flight
    busy   = max(C*m, C*x, C*q)                the SM's resources, shared by its C CTAs
    P      = busy + exposed + C*issue          one trip of every resident CTA
    exposed = max(0, chain/(stages-1) - busy)  stages-1 tiles in flight per CTA (Little's law): the
                                               latency a CTA waits, shared across the resident CTAs
                                               (zero once the others' work covers it);
                                               stages 1: max(0, chain - busy)
    time   = programs / (sms * C) * (trips * P + epilogue_clk_per_kib * epilogue KiB) / clock

so more stages never increase the exposed latency, and a ring that halves C costs only when the fewer
CTAs no longer cover `chain` (the H200 shows no occupancy penalty at 4-5 stages: 1 CTA of 8 warps keeps
the tensor cores as busy as 2). A footprint over `smem_per_block` is illegal (inf).

The constants of `[pipeline]` in costmodels/params/<target>.toml: hardware numbers (named there) and
FITTED ones, fitted by `fit` to measured times (benchmarks/transport_model.py fit: least squares of
log time and of each kernel's log relative times, benchmarks/results/gpu_transport_h200.json; the
leave-one-kernel-out and leave-one-shape-out errors are in benchmarks/results/transport_model_h200.md).
The model predicts relative speed: `speedup(a, b) = time(b) / time(a)`. On CDNA3 the same shape with
the CU count, LDS size and wave64 (constants assumed, `MI300X`): `lds` is priced like registers with the
latency hidden by the ring and `direct_to_lds` like cp.async.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

FITTED = ("mma_flops_per_clk", "latency_clk", "cp_row_clk", "cp_kib_clk", "tma_trip_clk", "tma_request_clk",
          "reg_store_row_clk", "epilogue_clk_per_kib")
HARDWARE = ("clock_ghz", "sms", "l2_bytes_per_clk", "alu_elems_per_clk", "sfu_elems_per_clk",
            "smem_per_sm", "smem_per_block", "smem_reserved_per_cta", "regs_per_sm", "max_warps_per_sm",
            "max_ctas_per_sm", "warp")

# CDNA3 (no [pipeline] in mi300x.toml: the choice is not applied there, transport_variants.CALIBRATED)
MI300X: dict[str, float] = {
    "clock_ghz": 2.1, "sms": 304, "mma_flops_per_clk": 2048.0, "l2_bytes_per_clk": 64.0,
    "alu_elems_per_clk": 256.0, "sfu_elems_per_clk": 64.0, "smem_per_sm": 65536, "smem_per_block": 65536,
    "smem_reserved_per_cta": 0, "regs_per_sm": 131072, "max_warps_per_sm": 32, "max_ctas_per_sm": 16,
    "warp": 64, "latency_clk": 1200.0, "cp_row_clk": 0.5, "cp_kib_clk": 2.0, "tma_trip_clk": 0.0,
    "tma_request_clk": 0.0, "reg_store_row_clk": 2.0, "epilogue_clk_per_kib": 100.0,
}


@cache
def _params(target: str) -> tuple[tuple[str, float], ...]:
    if target.startswith("mi"):
        return tuple(MI300X.items())
    from eqsat.costmodels.base import load_params

    tp = load_params(target)
    sec = dict(tp.get("pipeline") or {})
    if not sec:  # an uncalibrated card: the Hopper fit's cycles with its own clock and SMs (the choice is
        if tp.model == "amd":  # not applied there: transport_variants.CALIBRATED)
            return tuple({**MI300X, "clock_ghz": float(tp["clock_ghz"])}.items())
        sec = dict(load_params("h100").get("pipeline") or {})
    p = {k: float(v) for k, v in sec.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    p.setdefault("clock_ghz", float(tp["clock_ghz"]))
    p.setdefault("sms", float(tp["sms"]))
    p.setdefault("warp", float(tp.get("warp_size", 32)))
    missing = [k for k in FITTED + HARDWARE if k not in p]
    if missing:
        raise KeyError(f"costmodels/params/{target}.toml [pipeline] lacks {', '.join(missing)}")
    return tuple(p.items())


def params_for(target: str) -> dict[str, float]:
    """The `[pipeline]` constants of a target (with clock_ghz and sms from the file's top level)."""
    return dict(_params(target))


@dataclass
class PipelineCost:
    ns: float  # whole kernel (main loops and epilogue), nanoseconds; inf when illegal
    ctas: int
    round_clk: float
    terms: dict[str, float]
    illegal: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"total_ns": None if math.isinf(self.ns) else round(self.ns, 1), "ctas_per_sm": self.ctas,
                "round_clk": None if math.isinf(self.round_clk) else round(self.round_clk, 1),
                "terms": {k: round(v, 2) for k, v in self.terms.items()},
                "illegal": self.illegal or None}


def occupancy(f: dict[str, Any], p: dict[str, float]) -> int:
    """CTAs per SM from the variant's shared memory, registers and warps (0: none fits)."""
    warps = int(f.get("num_warps") or 4)
    regs = int(f.get("registers") or 0)
    shared = int(f.get("shared") or 0)
    cap = int(p["max_ctas_per_sm"])
    by_smem = int(p["smem_per_sm"] // (shared + p["smem_reserved_per_cta"])) if shared else cap
    per_warp = math.ceil(regs / 8) * 8 * p["warp"]
    by_regs = int(p["regs_per_sm"] // (per_warp * warps)) if regs else cap
    return max(0, min(by_smem, by_regs, int(p["max_warps_per_sm"] // warps), cap))


def tma_requests(f: dict[str, Any]) -> float:
    if f.get("mode") != "tma":
        return 0.0
    if f.get("tma_requests") is not None:
        return float(f["tma_requests"])
    from eqsat.lowering.transport_variants import tma_requests as box_requests

    return float(sum(box_requests(ll["shape"], ll["elem"]) for ll in f.get("loads") or [] if ll.get("tma")))


def terms(f: dict[str, Any], p: dict[str, float]) -> dict[str, float]:
    """Every per-trip term of the module docstring (cycles), for one variant."""
    ctas = occupancy(f, p)
    stages = max(1, int(f["stages"]))
    m = (float(f.get("flops_per_trip") or 0) / p["mma_flops_per_clk"]
         + float(f.get("alu_elems_per_trip") or 0) / p["alu_elems_per_clk"]
         + float(f.get("sfu_elems_per_trip") or 0) / p["sfu_elems_per_clk"])
    x = float(f.get("bytes_per_trip") or 0) / p["l2_bytes_per_clk"]
    q = tma_requests(f) * p["tma_request_clk"]
    rows = float(f.get("rows_per_trip") or 0)
    tma_rows = float(f.get("tma_rows") or 0) if f.get("mode") == "tma" else 0.0
    tma_bytes = float(f.get("tma_bytes") or 0) if f.get("mode") == "tma" else 0.0
    thread_bytes = max(0.0, float(f.get("bytes_per_trip") or 0) - tma_bytes)
    issue = p["cp_row_clk"] * max(0.0, rows - tma_rows) + p["cp_kib_clk"] * thread_bytes / 1024
    if f.get("mode") == "tma":
        issue += p["tma_trip_clk"]
    if stages == 1:
        issue += p["reg_store_row_clk"] * rows
    latency_bound = (p["latency_clk"] + m) / max(1, stages - 1)
    busy = ctas * max(m, x, q)
    exposed = max(0.0, latency_bound - busy)
    return {"ctas": float(ctas), "mma_clk": m, "transfer_clk": x, "tma_engine_clk": q, "issue_clk": issue,
            "busy_clk": busy, "exposed_clk": exposed, "round_clk": busy + exposed + ctas * issue}


def price(f: dict[str, Any], target: str = "h200", params: dict[str, float] | None = None) -> PipelineCost:
    """The variant's predicted time from its features (transport_variants.Variant.features)."""
    p = params or params_for(target)
    shared = int(f.get("shared") or 0)
    if shared > p["smem_per_block"]:
        return PipelineCost(math.inf, 0, math.inf, {},
                            f"{shared} bytes of shared memory, the block limit is {int(p['smem_per_block'])}")
    t = terms(f, p)
    ctas = int(t["ctas"])
    if ctas == 0:
        return PipelineCost(math.inf, 0, math.inf, {}, "no CTA fits on an SM (shared memory or registers)")
    waves = float(f.get("programs") or 1) / (p["sms"] * ctas)
    trips = float(f.get("trips") or 1)
    epi = p["epilogue_clk_per_kib"] * float(f.get("epilogue_bytes") or 0) / 1024
    ns = waves * (trips * t["round_clk"] + epi) / p["clock_ghz"]
    out = {k: v for k, v in t.items() if k != "ctas"}
    out.update(waves=waves, trips=trips, epilogue_clk=epi)
    return PipelineCost(ns, ctas, t["round_clk"], out)


def speedup(baseline: dict[str, Any], variant: dict[str, Any], target: str = "h200") -> float:
    """Predicted time(baseline) / time(variant)."""
    return price(baseline, target).ns / price(variant, target).ns


def fit(samples: Sequence[tuple[dict[str, Any], float]], target: str = "h200",
        groups: Sequence[str] | None = None, free: Sequence[str] = FITTED, ratio_weight: float = 3.0,
        start: dict[str, float] | None = None, restarts: int = 6) -> dict[str, float]:
    """The `free` constants (positive) for measured µs: Levenberg-Marquardt on their logarithms,
    residuals log(predicted / measured) of each sample plus `ratio_weight` times the same minus its
    group's mean (a group = one kernel's variants: the relative times the choice depends on), from
    `start` (default the target's constants) and `restarts` deterministic perturbations of it."""
    import numpy as np

    base = dict(start or params_for(target))
    names = list(free)
    meas = np.log(np.array([us for _, us in samples], dtype=float))
    gkeys = list(groups) if groups is not None else ["all"] * len(samples)
    index = {g: [i for i, k in enumerate(gkeys) if k == g] for g in dict.fromkeys(gkeys)}

    def params(z: Any) -> dict[str, float]:
        p = dict(base)
        p.update({n: float(math.exp(min(max(v, -30.0), 30.0))) for n, v in zip(names, z, strict=True)})
        return p

    def resid(z: Any) -> Any:
        p = params(z)
        e = np.array([math.log(max(price(f, params=p).ns, 1e-9) / 1e3) for f, _ in samples]) - meas
        rel = np.concatenate([e[ix] - e[ix].mean() for ix in index.values()])
        return np.concatenate([e, ratio_weight * rel])

    def lm(z: Any) -> tuple[Any, float]:
        r = resid(z)
        cost, lam = float(r @ r), 1e-2
        for _ in range(60):
            jac = np.empty((r.size, z.size))
            for j in range(z.size):
                dz = z.copy()
                dz[j] += 1e-5
                jac[:, j] = (resid(dz) - r) / 1e-5
            a, g = jac.T @ jac, jac.T @ r
            improved = False
            while lam < 1e8:
                step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-9), -g)
                z2 = z + step
                r2 = resid(z2)
                c2 = float(r2 @ r2)
                if c2 < cost:
                    z, r, lam, improved = z2, r2, max(lam / 3, 1e-7), True
                    if cost - c2 < 1e-10 * max(cost, 1e-12):
                        return z, c2
                    cost = c2
                    break
                lam *= 4
            if not improved:
                break
        return z, cost

    z0 = np.log(np.array([base[n] for n in names], dtype=float))
    rng = np.random.RandomState(0)
    best = lm(z0.copy())
    for _ in range(restarts):
        cand = lm(z0 + rng.normal(0.0, 0.7, z0.size))
        if cand[1] < best[1]:
            best = cand
    return {**base, **{n: round(v, 4) for n, v in params(best[0]).items() if n in names}}
