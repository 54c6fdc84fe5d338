"""Pipeline cost model: the time of a kernel's main loop under one transport variant (issue 12).

A variant (eqsat/lowering/transport_variants.py) is compiled, so its shared memory and registers are
known; from them and the launch:

    ctas   = CTAs per SM = min(smem_per_sm // shared, regs_per_sm // (registers * 32 * warps),
                               max_warps // warps, max_ctas)                    (0: the variant is illegal)
    waves  = programs / (sms * ctas)                     (fractional: the hardware refills freed slots)
    round  = one trip of every resident CTA of an SM, in cycles:
             max(ctas * flops / mma_flops_per_clk,                 tensor cores, shared by the SM's CTAs
                 ctas * bytes / l2_bytes_per_clk)                  operand bytes from L2/HBM
             + exposed latency  max(0, latency - (stages - 1) * busy)   what the ring does not hide
                                (stages 1: nothing is in flight, the whole latency is exposed)
             + issue/sync       cp.async: cp_trip + cp_row * rows * ctas   (each row's address and its
                                          cp.async vectors are issued by every thread; async_wait + CTA
                                          barrier per trip)
                                tma:      tma_trip + tma_cta * ctas + tma_box * boxes * ctas   (one thread
                                          issues each box; an mbarrier expect/wait per trip and CTA)
                                registers: cp_trip + cp_row * rows * ctas (plain loads, same issue work)
    time   = waves * trips * round / clock

The issue/sync constants are fitted (`fit`) to the issue's measurements on an H200 (A·Bᵀ 128x64x32
4 warps: TMA 0.91x; 128x256x64 8 warps 1.08x; 128x128x64 1.13x; A·B 128x128x64 1.01x; all 3 stages) with
the hardware numbers (clock, SMs, tensor rate, per-SM limits) from shared/facts/hardware.md. The model
predicts relative speed: `speedup(a, b) = time(b) / time(a)`. On CDNA3 the same shape with the CU
count, LDS size and wave64: `lds` is priced like registers with the latency hidden by the ring and
`direct_to_lds` like cp.async.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PARAMS: dict[str, dict[str, float]] = {
    # fitted by `fit(ISSUE_MEASUREMENTS)` (see module doc); hardware numbers from shared/facts/hardware.md
    "h100": {"clock_ghz": 1.755, "sms": 132, "mma_flops_per_clk": 4096.0, "l2_bytes_per_clk": 64.0,
             "smem_per_sm": 233472, "regs_per_sm": 65536, "max_warps": 64, "max_ctas": 32,
             "latency_clk": 900.0, "cp_trip": 750.0, "cp_row": 0.0, "tma_trip": 500.0, "tma_cta": 80.0,
             "tma_box": 0.0, "warp": 32},
    "mi300x": {"clock_ghz": 2.1, "sms": 304, "mma_flops_per_clk": 2048.0, "l2_bytes_per_clk": 64.0,
               "smem_per_sm": 65536, "regs_per_sm": 131072, "max_warps": 32, "max_ctas": 16,
               "latency_clk": 1200.0, "cp_trip": 700.0, "cp_row": 0.3, "tma_trip": 0.0, "tma_cta": 0.0,
               "tma_box": 0.0, "warp": 64},
}
PARAMS["h200"] = PARAMS["h100"]

# (kernel, mode, stages) -> measured µs (the issue's table; the features come from compiling the corpus)
ISSUE_MEASUREMENTS: dict[tuple[str, str, int], float] = {
    ("mm_bt_128x64x32", "cp_async", 3): 358.0, ("mm_bt_128x64x32", "tma", 3): 392.0,
    ("mm_bt_128x256x64", "cp_async", 3): 264.0, ("mm_bt_128x256x64", "tma", 3): 245.0,
    ("mm_bt_128x128x64", "cp_async", 3): 267.0, ("mm_bt_128x128x64", "tma", 3): 235.0,
    ("mm_ab_128x128x64", "cp_async", 3): 246.0, ("mm_ab_128x128x64", "tma", 3): 243.0,
}
FITTED = ("cp_trip", "cp_row", "tma_trip", "tma_cta")


@dataclass
class PipelineCost:
    ns: float  # whole kernel (main loops), nanoseconds; inf when illegal
    ctas: int
    round_clk: float
    terms: dict[str, float]
    illegal: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"total_ns": None if math.isinf(self.ns) else round(self.ns, 1), "ctas_per_sm": self.ctas,
                "round_clk": round(self.round_clk, 1),
                "terms": {k: round(v, 2) for k, v in self.terms.items()},
                "illegal": self.illegal or None}


def occupancy(f: dict[str, Any], p: dict[str, float]) -> int:
    warps = int(f.get("num_warps") or 4)
    regs = int(f.get("registers") or 0)
    shared = int(f.get("shared") or 0)
    by_smem = int(p["smem_per_sm"] // shared) if shared else int(p["max_ctas"])
    by_regs = int(p["regs_per_sm"] // (regs * p["warp"] * warps)) if regs else int(p["max_ctas"])
    return max(0, min(by_smem, by_regs, int(p["max_warps"] // warps), int(p["max_ctas"])))


def _parts(f: dict[str, Any], p: dict[str, float]) -> tuple[int, float, dict[str, float]]:
    """(ctas, the round's cycles without the fitted issue/sync terms, the issue/sync coefficients)."""
    ctas = occupancy(f, p)
    mode, stages = f["mode"], int(f["stages"])
    flops, nbytes = float(f.get("flops_per_trip") or 0), float(f.get("bytes_per_trip") or 0)
    busy = max(ctas * flops / p["mma_flops_per_clk"], ctas * nbytes / p["l2_bytes_per_clk"])
    exposed = p["latency_clk"] if stages <= 1 else max(0.0, p["latency_clk"] - (stages - 1) * busy)
    rows = float(f.get("rows_per_trip") or 0)
    tma_rows = float(f.get("tma_rows") or 0) if mode == "tma" else 0.0
    coeff = {"cp_trip": 1.0 if mode != "tma" or tma_rows < rows else 0.0,
             "cp_row": (rows - tma_rows) * ctas,
             "tma_trip": 1.0 if mode == "tma" else 0.0, "tma_cta": float(ctas) if mode == "tma" else 0.0}
    return ctas, busy + exposed, coeff


def price(f: dict[str, Any], target: str = "h100", params: dict[str, float] | None = None) -> PipelineCost:
    """The variant's predicted time from its features (transport_variants.Variant.features)."""
    p = params or PARAMS["h100" if target == "h200" else target]
    ctas, base, coeff = _parts(f, p)
    if ctas == 0:
        return PipelineCost(math.inf, 0, math.inf, {}, "no CTA fits on an SM (shared memory or registers)")
    sync = sum(p[k] * c for k, c in coeff.items())
    rnd = base + sync
    waves = float(f.get("programs") or 1) / (p["sms"] * ctas)
    trips = float(f.get("trips") or 1)
    ns = waves * trips * rnd / p["clock_ghz"]
    return PipelineCost(ns, ctas, rnd, {"busy_and_exposed_clk": base, "issue_sync_clk": sync, "waves": waves,
                                        "trips": trips})


def fit(samples: list[tuple[dict[str, Any], float]], target: str = "h100",
        ratio_weight: float = 10.0) -> dict[str, float]:
    """The FITTED constants (non-negative) for measured µs: each sample's round is linear in them, so
    a grid search scores every candidate at once on squared log errors of the times plus `ratio_weight`
    times those of each kernel's TMA/cp.async ratio (what the choice depends on)."""
    import numpy as np

    p = dict(PARAMS["h100" if target == "h200" else target])
    coeffs, bases, scale, keys = [], [], [], []
    for f, _us in samples:
        ctas, base, coeff = _parts(f, p)
        waves = float(f.get("programs") or 1) / (p["sms"] * ctas)
        coeffs.append([coeff[k] for k in FITTED])
        bases.append(base)
        scale.append(waves * float(f.get("trips") or 1) / p["clock_ghz"] / 1e3)  # round clk -> µs
        keys.append((f.get("flops_per_trip"), f.get("rows_per_trip"), f.get("num_warps"),
                     str(f.get("row_bytes"))))
    meas = np.log(np.array([us for _, us in samples]))
    grids = [np.linspace(0, 1500, 31), np.linspace(0, 3, 13), np.linspace(0, 1500, 31),
             np.linspace(0, 200, 21)]
    mesh = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, len(FITTED))
    pred = np.log((np.array(bases)[None, :] + mesh @ np.array(coeffs).T) * np.array(scale)[None, :])
    err = ((pred - meas[None, :]) ** 2).sum(1)
    pairs = [(i, j) for i in range(len(samples)) for j in range(len(samples))
             if i < j and keys[i] == keys[j] and samples[i][0]["mode"] != samples[j][0]["mode"]]
    for i, j in pairs:
        err += ratio_weight * ((pred[:, i] - pred[:, j]) - (meas[i] - meas[j])) ** 2
    best = mesh[int(np.argmin(err))]
    for k, v in zip(FITTED, best, strict=True):
        p[k] = float(round(float(v), 3))
    return p


def speedup(baseline: dict[str, Any], variant: dict[str, Any], target: str = "h100") -> float:
    """Predicted time(baseline) / time(variant)."""
    return price(baseline, target).ns / price(variant, target).ns
