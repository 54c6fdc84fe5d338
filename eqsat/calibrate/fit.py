"""Measured probe times (eqsat/calibrate/run.py) -> cost-model parameters, each with its measurement.

Units follow costmodels/common.py `Rates`: a per-SM cost is the SM time one event takes when events are
spread evenly over the SMs (`t * sms / events`), a rate per clock per SM is `events / (t * clock * sms)`.

    clock_ghz                        clock: median over CTAs of %clock64 cycles / %globaltimer ns
    hbm_gbps, hbm_gbps_measured      copy.dram.k*: best (read + written bytes) / t over the occupancy curve
    l2_gbps                          gather.l2.r1: random 4-byte elements of an 8 MiB table, a sector each
                                     (+ the index sectors): 32 B x sectors / t. It reproduces the H200
                                     tt.gather / indirect-load crossover (tests/test_cost_model.py);
                                     gather.l1.r1 (16 KiB, L1 hits) is kept as `l1_random_gbps`, the upper
                                     bound tile-local gathers approach (gather_1d_cross_warp)
    l2_stream_gbps                   read.l2.v4: bytes / t of a 16 MiB footprint re-read (L2 hits)
    lsu_warp_instructions_per_clock  read.l2.{b16,b32}: the best warp load instructions per clock per SM
    l1_lines_per_clock               strided.l1.s32: one 128-byte line per lane (32 per instruction), the
                                     lines L1 hits (strided.l2.s32, with .cg, is the L2 request rate)
    launch_ns, cta_launch_ns         launch.1; (launch.wave64 - launch.1) * sms / CTAs
    shuffle.results_per_clock_per_sm shuffle: lanes x shfl.sync.idx per clock per SM
    barrier.latency_ns               barrier.k4: t * sms / barriers (4 CTAs of 4 warps per SM)
    shared.bytes_per_clock_per_sm    shared.store.v4: 128 B x wavefronts per clock, the barrier loop's
                                     time (shared.barrier) taken off
    shared.load_wavefront_weight     shared.{load,store}.v4: clocks per load wavefront / per store one
    cp_async.issue_ns, tma.issue_ns  {cp_async,tma}.{4k,8k}: SM time per copy, a + b x tile bytes fitted
                                     through the two tile sizes; a less one barrier (the loops have one)
    occupancy.copy_fraction          copy.dram.k*: copy rate at 4k warps per SM / the best

`fit(report)` returns {dotted key: (value, comment)} and `derived(report)` the informational numbers
(widths, strides, random rows, shared wavefronts per instruction width) that the Markdown report lists.
"""

from __future__ import annotations

import statistics
from typing import Any

Param = tuple[Any, str]


def _t(report: dict[str, Any], name: str) -> float | None:
    """Probe time in ns, None when it failed or was not run."""
    rec = report["probes"].get(name) or {}
    return rec["ms"] * 1e6 if "ms" in rec else None


def _w(report: dict[str, Any], name: str, key: str) -> float:
    return float(report["probes"][name]["work"][key])


def _round(x: float, digits: int = 4) -> float:
    if x == 0:
        return 0.0
    from math import floor, log10

    return round(x, max(0, digits - 1 - floor(log10(abs(x)))))


def clock_ghz(report: dict[str, Any], default: float = 1.98) -> float:
    rec = report["probes"].get("clock") or {}
    return float(rec.get("ghz_per_cta") or default)


def derived(report: dict[str, Any]) -> dict[str, Any]:
    """Every rate the probes give, by group (the Markdown tables)."""
    sms = int(report["sms"])
    clk = clock_ghz(report)
    out: dict[str, Any] = {"clock_ghz": clk, "sms": sms}

    def per_clock(name: str, key: str) -> float | None:
        t = _t(report, name)
        return None if t is None else _w(report, name, key) / (t * clk * sms)

    def gbps(name: str, key: str = "bytes") -> float | None:
        t = _t(report, name)
        return None if t is None else _w(report, name, key) / t

    out["read"] = {
        n.split(".", 1)[1]: {
            "GBps": gbps(n),
            "instructions_per_clock": per_clock(n, "instructions"),
            "lines_per_clock": per_clock(n, "lines"),
        }
        for n in report["probes"]
        if n.startswith("read.") and _t(report, n)
    }
    out["copy"] = {
        int(report["probes"][n]["work"]["warps_per_sm"]): gbps(n)
        for n in report["probes"]
        if n.startswith("copy.") and _t(report, n)
    }
    def sector_family(prefix: str, extra: str, rate: Any) -> dict[str, Any]:
        """Useful and sector bandwidth of every measured `prefix.*` probe, plus `extra` = rate(name)."""
        return {
            n.split(".", 1)[1]: {
                "GBps_useful": gbps(n), "sector_GBps": 32 * gbps(n, "sectors"), extra: rate(n)
            }
            for n in report["probes"]
            if n.startswith(prefix + ".") and _t(report, n)
        }

    out["strided"] = sector_family("strided", "lines_per_clock", lambda n: per_clock(n, "lines"))
    out["gather"] = sector_family("gather", "rows_per_ns", lambda n: gbps(n, "rows"))
    bar = _t(report, "shared.barrier")
    bar_per = bar / _w(report, "shared.barrier", "barriers") if bar else 0.0
    shared = {}
    for n in report["probes"]:
        if n.startswith("shared.") and n != "shared.barrier" and _t(report, n):
            t = _t(report, n) - bar_per * _w(report, n, "barriers")
            wf = _w(report, n, "wavefronts")
            ins = _w(report, n, "instructions")
            shared[n.split(".", 1)[1]] = {
                "clocks_per_instruction": t * clk * sms / ins,
                "wavefronts_per_clock": wf / (t * clk * sms),
                "modelled_wavefronts_per_instruction": wf / ins,
            }
    if "store.v4" in shared:
        clocks_per_wf = 1.0 / shared["store.v4"]["wavefronts_per_clock"]
        for rec in shared.values():
            rec["measured_wavefronts_per_instruction"] = rec["clocks_per_instruction"] / clocks_per_wf
    out["shared"] = shared
    out["shared_barrier_loop_ns_per_sm"] = (
        bar * sms / _w(report, "shared.barrier", "barriers") if bar else None
    )
    for label in ("cp_async", "sync_copy", "tma", "ptr"):
        pts = [
            (
                _w(report, f"{label}.{k}", "tile_bytes"),
                _t(report, f"{label}.{k}") * sms / _w(report, f"{label}.{k}", "copies"),
            )
            for k in ("4k", "8k")
            if _t(report, f"{label}.{k}")
        ]
        if len(pts) == 2:
            (b1, y1), (b2, y2) = pts
            slope = (y2 - y1) / (b2 - b1)
            out[label] = {
                "ns_per_copy_per_sm": {int(b): y for b, y in pts},
                "fixed_ns": y1 - slope * b1,
                "ns_per_kib": slope * 1024,
            }
    for k in ("barrier.k1", "barrier.k4"):
        t = _t(report, k)
        if t:
            out[k] = {
                "ns_per_barrier_per_sm": t * sms / _w(report, k, "barriers"),
                "ns_per_barrier_per_cta": t / (8192.0),
            }
    t1, t64 = _t(report, "launch.1"), _t(report, "launch.wave64")
    if t1:
        out["launch_ns"] = t1
    if t1 and t64:
        out["cta_launch_ns"] = (t64 - t1) * sms / _w(report, "launch.wave64", "ctas")
    t = _t(report, "shuffle")
    if t:
        out["shuffle_results_per_clock"] = _w(report, "shuffle", "results") / (t * clk * sms)
    return out


def fit(report: dict[str, Any]) -> dict[str, Param]:
    """Parameter values {dotted key: (value, comment naming the measurement)} from a run_probes report."""
    d = derived(report)
    dev = report.get("device", "the device")
    p: dict[str, Param] = {}
    if (report["probes"].get("clock") or {}).get("ghz_per_cta"):
        p["clock_ghz"] = (
            _round(d["clock_ghz"]),
            f"calibrate 'clock': %clock64 / %globaltimer under load, {dev}",
        )
    p["sms"] = (int(report["sms"]), "calibrate: torch multi_processor_count")
    if d["copy"]:
        best = max(d["copy"].values())
        p["hbm_gbps"] = (
            _round(best),
            "calibrate 'copy.dram.k*': best 1 GiB copy, read + written bytes / time",
        )
        p["hbm_gbps_measured"] = (_round(best), "calibrate 'copy.dram.k*' (same as hbm_gbps)")
        p["occupancy.copy_fraction"] = (
            {str(k): _round(v / best, 3) for k, v in sorted(d["copy"].items())},
            "calibrate 'copy.dram.k*': copy rate by resident warps per SM / best",
        )
    if "read" in d and "dram.v4" in d["read"]:
        p["hbm_read_gbps"] = (
            _round(d["read"]["dram.v4"]["GBps"]),
            "calibrate 'read.dram.v4': 1 GiB read, 16-byte loads (informational)",
        )
    for probe, key, what in (
        ("gather.l2.r1", "l2_gbps", "an 8 MiB table"),
        ("gather.l1.r1", "l1_random_gbps", "a 16 KiB table, L1-resident (informational)"),
    ):
        if _t(report, probe):
            t = _t(report, probe)
            sectors = _w(report, probe, "sectors") + _w(report, probe, "index_bytes") / 32
            p[key] = (
                _round(32 * sectors / t),
                f"calibrate '{probe}': random 4-byte elements of {what}, "
                "one 32 B sector each (+ index sectors) / time",
            )
    if "read" in d and "l2.v4" in d["read"]:
        p["l2_stream_gbps"] = (
            _round(d["read"]["l2.v4"]["GBps"]),
            "calibrate 'read.l2.v4': 16 MiB footprint "
            "re-read with 16-byte ld.global.cg (L2 hits of contiguous streams)",
        )
    narrow = [d["read"][k]["instructions_per_clock"] for k in ("l2.b16", "l2.b32") if k in d["read"]]
    if narrow:
        p["lsu_warp_instructions_per_clock"] = (
            _round(max(narrow)),
            "calibrate 'read.l2.{b16,b32}': warp load instructions per clock per SM, L2-resident",
        )
    s = d["strided"].get("l1.s32")
    if s:
        p["l1_lines_per_clock"] = (
            _round(s["lines_per_clock"]),
            "calibrate 'strided.l1.s32': 128-byte lines "
            "per clock per SM, one line per lane, L1-resident (ld.global)",
        )
    if "launch_ns" in d:
        p["launch_ns"] = (
            _round(d["launch_ns"]),
            "calibrate 'launch.1': an empty 1-CTA launch, do_bench median",
        )
    if "cta_launch_ns" in d:
        p["cta_launch_ns"] = (
            _round(max(0.0, d["cta_launch_ns"])),
            "calibrate 'launch.wave64': SM time per empty CTA beyond the launch",
        )
    if "shuffle_results_per_clock" in d:
        p["shuffle.results_per_clock_per_sm"] = (
            _round(d["shuffle_results_per_clock"]),
            "calibrate 'shuffle': shfl.sync.idx.b32 results per clock per SM",
        )
    if "barrier.k4" in d:
        p["barrier.latency_ns"] = (
            _round(d["barrier.k4"]["ns_per_barrier_per_sm"]),
            "calibrate 'barrier.k4': "
            "SM time per bar.sync, 4 CTAs of 4 warps per SM ('barrier.k1', one CTA: "
            f"{_round(d.get('barrier.k1', {}).get('ns_per_barrier_per_sm', 0.0))} ns)",
        )
    sh = d["shared"]
    if "store.v4" in sh:
        p["shared.bytes_per_clock_per_sm"] = (
            _round(128 * sh["store.v4"]["wavefronts_per_clock"]),
            "calibrate 'shared.store.v4': 128 B x st.shared.v4 wavefronts "
            "per clock per SM, barrier loop taken off",
        )
    if "store.v4" in sh and "load.v4" in sh:
        p["shared.load_wavefront_weight"] = (
            _round(sh["store.v4"]["wavefronts_per_clock"] / sh["load.v4"]["wavefronts_per_clock"], 3),
            "calibrate 'shared.{load,store}.v4': clocks per ld.shared.v4 wavefront / per st.shared.v4 one",
        )
    bar = p.get("barrier.latency_ns", (0.0, ""))[0]
    for label, key in (("cp_async", "cp_async.issue_ns"), ("tma", "tma.issue_ns")):
        if label in d:
            fixed = max(1.0, d[label]["fixed_ns"] - bar)
            p[key] = (
                _round(fixed),
                f"calibrate '{label}.{{4k,8k}}': SM time per copy at 0 bytes (fit through "
                "4 and 8 KiB tiles, L2-resident, 8 CTAs per SM), one barrier taken off",
            )
    return p


def summary_rows(report: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(probe, microseconds, what) for every probe that ran (the Markdown report's last table)."""
    rows = []
    for n, rec in report["probes"].items():
        if "ms" in rec:
            rows.append((n, rec["ms"] * 1e3, f"grid {rec['grid']} x {rec['num_warps']} warps"))
    return rows


def spread(report: dict[str, Any]) -> float:
    """The largest relative spread of a probe's three do_bench medians (the noise figure)."""
    worst = 0.0
    for rec in report["probes"].values():
        runs = rec.get("runs_ms") or []
        if len(runs) >= 2 and min(runs) > 0:
            worst = max(worst, (max(runs) - min(runs)) / statistics.median(runs))
    return worst
