"""`eqsat calibrate`: the probes compile to the instructions they measure, the fit inverts the timing
arithmetic, the parameter writer keeps the file's other keys, the committed h200.toml is what the committed
measurements give, bad input is one line, and the GPU side imports no xdsl/egglog/z3."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "calibrate_h200.json"
H200 = ROOT / "costmodels" / "params" / "h200.toml"

# probe -> an instruction its PTX must contain (what the probe claims to measure)
EXPECTED = {
    "read.l2.b16": r"ld\.global\.cg\.b16",
    "read.l2.b32": r"ld\.global\.cg\.b32",
    "read.l2.v2": r"ld\.global\.cg\.v2\.b32",
    "read.l2.v4": r"ld\.global\.cg\.v4\.b32",
    "read.l1.v4": r"ld\.global\.v4\.b32",
    "copy.dram.k4": r"ld\.global\.v4\.b32",
    "strided.l2.s32": r"ld\.global\.cg\.b32",
    "strided.l1.s32": r"ld\.global\.b32",
    "shuffle": r"shfl\.sync\.idx\.b32",
    "barrier.k4": r"bar\.sync",
    "clock": r"%clock64",
    "shared.store.b8": r"st\.shared\.b8",
    "shared.load.b16": r"ld\.shared\.b16",
    "shared.store.b32": r"st\.shared\.b32",
    "shared.load.v2": r"ld\.shared\.v2\.b32",
    "shared.store.v4": r"st\.shared\.v4\.b32",
    "shared.load.matrix": r"ldmatrix",
    "cp_async.4k": r"cp\.async\.cg\.shared\.global",
    "tma.4k": r"cp\.async\.bulk\.tensor",
}


def test_every_probe_compiles_to_what_it_measures() -> None:
    from eqsat.calibrate.probes import compile_probe, probes

    listed = probes(132)
    names = [p.name for p in listed]
    assert len(names) == len(set(names)) and set(EXPECTED) <= set(names)
    for p in listed:
        ptx = compile_probe(p).asm["ptx"]
        if p.name in EXPECTED:
            assert re.search(EXPECTED[p.name], ptx), p.name
        if p.name.startswith("shared.") and p.name != "shared.barrier" and not p.name.endswith("matrix"):
            assert "ldmatrix" not in ptx and "stmatrix" not in ptx, p.name  # plain widths, not matrices


def _synthetic_report(clock: float = 1.8, sms: int = 100) -> dict:
    """Probe times computed from known rates with the probes' own work counts."""
    from eqsat.calibrate.probes import probes

    copy_gbps, l2_random, lsu, bar_ns, shuffle_rate, shared_bpc = 3000.0, 20000.0, 0.5, 5.0, 16.0, 100.0
    out = {}
    for p in probes(sms):
        w = p.work
        if p.name.startswith("copy."):
            t = w["bytes"] / copy_gbps
        elif p.name == "gather.l2.r1":
            t = 32 * (w["sectors"] + w["index_bytes"] / 32) / l2_random
        elif p.name in ("read.l2.b16", "read.l2.b32"):
            t = w["instructions"] / (lsu * clock * sms)
        elif p.name.startswith("barrier."):
            t = w["barriers"] * bar_ns / sms
        elif p.name == "shuffle":
            t = w["results"] / (shuffle_rate * clock * sms)
        elif p.name == "shared.barrier":
            t = 1000.0
        elif p.name == "shared.store.v4":
            t = 1000.0 * w["barriers"] / (4 * sms * 1024) + w["wavefronts"] * 128 / (shared_bpc * clock * sms)
        else:
            continue
        out[p.name] = {"ms": t / 1e6, "work": w, "grid": p.grid, "num_warps": p.num_warps}
    out["clock"] = {"ms": 1.0, "work": {}, "grid": sms, "num_warps": 4, "ghz_per_cta": clock}
    return {"device": "synthetic", "sms": sms, "capability": [9, 0], "probes": out}


def test_fit_inverts_the_probe_arithmetic() -> None:
    from eqsat.calibrate.fit import fit

    p = fit(_synthetic_report())
    assert p["clock_ghz"][0] == pytest.approx(1.8)
    assert p["hbm_gbps"][0] == pytest.approx(3000.0, rel=1e-3)
    assert p["l2_gbps"][0] == pytest.approx(20000.0, rel=1e-3)
    assert p["lsu_warp_instructions_per_clock"][0] == pytest.approx(0.5, rel=1e-3)
    assert p["barrier.latency_ns"][0] == pytest.approx(5.0, rel=1e-3)
    assert p["shuffle.results_per_clock_per_sm"][0] == pytest.approx(16.0, rel=1e-3)
    assert p["shared.bytes_per_clock_per_sm"][0] == pytest.approx(100.0, rel=1e-3)
    assert all(isinstance(c, str) and c.startswith("calibrate") for _, c in p.values())


def test_params_writer_replaces_adds_and_unassumes() -> None:
    from eqsat.calibrate.params_file import update_text

    text = H200.read_text()
    before = tomllib.loads(text)
    values = {
        "barrier.latency_ns": (7.5, "probe x"),
        "brand_new_key": (3, "probe y"),
        "occupancy.copy_fraction": ({"4": 0.5, "64": 1.0}, "probe z"),
        "tma.issue_ns": (12.0, "probe w"),
    }
    after = tomllib.loads(update_text(text, values, "test"))
    assert after["barrier"]["latency_ns"] == 7.5 and after["brand_new_key"] == 3
    assert after["occupancy"]["copy_fraction"] == {"4": 0.5, "64": 1.0} and after["tma"]["issue_ns"] == 12.0
    assert "barrier.latency_ns" not in after["assumed"] and "tma.issue_ns" not in after["assumed"]
    for key in ("phases", "shared", "model", "triton_target", "hbm_gbps"):
        assert after[key] == before[key]


def test_committed_h200_params_are_the_committed_measurements() -> None:
    """Refitting benchmarks/results/calibrate_h200.json into h200.toml (the [shared] section kept, as
    committed) changes nothing: the file is what `eqsat calibrate` wrote from those measurements."""
    from eqsat.calibrate.fit import fit
    from eqsat.calibrate.params_file import update_text

    report = json.loads(RESULTS.read_text())
    assert report["device"] == "NVIDIA H200" and report["command"]
    values = {k: v for k, v in fit(report).items() if not k.startswith("shared.")}
    text = H200.read_text()
    assert tomllib.loads(update_text(text, values)) == tomllib.loads(text)
    data = tomllib.loads(text)
    measured = {
        "clock_ghz",
        "barrier.latency_ns",
        "shuffle.results_per_clock_per_sm",
        "tma.issue_ns",
        "cp_async.issue_ns",
    }
    assert not measured & set(data["assumed"])


def test_from_json_writes_a_loadable_file_and_bad_input_is_one_line(tmp_path: Path) -> None:
    from eqsat.costmodels.base import TargetParams
    from eqsat.costmodels.common import Rates

    out = tmp_path / "card.toml"
    measured = tmp_path / "calibrate_card.json"  # a copy: --from-json writes its .md beside the JSON
    measured.write_text(RESULTS.read_text())
    cmd = [
        sys.executable,
        "-m",
        "eqsat.cli",
        "calibrate",
        "--from-json",
        str(measured),
        "--params",
        str(out),
        "--device",
        "card",
        "--base",
        "h100",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = tomllib.loads(out.read_text())
    rates = Rates.of(TargetParams("card", data["model"], data))
    assert rates.hbm_tb_s == pytest.approx(data["hbm_gbps"] / 1000) and rates.launch_ns > 0
    assert data["triton_target"] == ["cuda", 90, 32]
    bad = tmp_path / "bad.json"
    bad.write_text('{"probes": 1')
    proc = subprocess.run(cmd[:5] + [str(bad)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "bad.json" in proc.stderr and "not JSON" in proc.stderr


def test_gpu_side_imports_no_xdsl_egglog_or_z3() -> None:
    from tests.test_loader import _refusing

    code = (
        _refusing("xdsl", "egglog", "z3")
        + f"""
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
sys.argv = ["x"]
import gpu_calibrate, alternatives_gpu
import eqsat.calibrate.run, eqsat.calibrate.fit, eqsat.calibrate.markdown, eqsat.calibrate.params_file
from eqsat.calibrate.probes import probes
assert len(probes(132)) > 40
bad = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
assert not bad, bad
print("ok")
"""
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
