"""The refit pipeline model (issue 13, costmodels/pipeline.py): its monotonic properties, legality, the
committed H200 measurements it was fitted on and the held-out ones, the transport choice they give.

No GPU: the features of every measured variant are committed with the measurements
(benchmarks/results/gpu_transport_*.json); a few real Triton compiles for the choice on the corpus."""

from __future__ import annotations

import copy
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from eqsat.costmodels import pipeline as pm

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

import transport_model as tm  # noqa: E402

FIT = RESULTS / "gpu_transport_h200.json"
RUN2 = RESULTS / "gpu_transport_h200_run2.json"
HOLDOUT = RESULTS / "gpu_transport_holdout_h200.json"


def _features(path: Path) -> list[dict]:
    return [r["features"] for r in tm.rows_of(tm.load(path))]


ALL = _features(FIT) + _features(HOLDOUT)


def test_more_stages_never_increase_exposed_latency() -> None:
    """At a fixed footprint (same CTAs per SM), each added ring slot leaves no more latency exposed and
    no longer a round: on every measured variant's features and on random ones."""
    p = pm.params_for("h200")
    rng = random.Random(13)
    feats = list(ALL)
    for _ in range(300):
        f = copy.deepcopy(rng.choice(ALL))
        f.update(flops_per_trip=rng.choice([2**18, 2**20, 2**22, 2**23]), num_warps=rng.choice([4, 8]),
                 shared=rng.randrange(8192, 200000), registers=rng.randrange(32, 255),
                 bytes_per_trip=rng.choice([8192, 16384, 49152]), mode=rng.choice(["cp_async", "tma"]))
        feats.append(f)
    for f in feats:
        rounds = []
        for s in range(1, 8):
            t = pm.terms({**f, "stages": s}, p)
            rounds.append((t["exposed_clk"], t["round_clk"] - (t["issue_clk"] * t["ctas"] if s == 1 else 0)))
        for (e0, r0), (e1, r1) in zip(rounds[1:], rounds[2:], strict=False):
            assert e1 <= e0 + 1e-9 and r1 <= r0 + 1e-9, (f["mode"], rounds)
        assert all(e >= 0 for e, _ in rounds)


def test_an_infeasible_shared_memory_footprint_is_illegal() -> None:
    p = pm.params_for("h200")
    f = next(f for f in ALL if f["stages"] == 4 and f["shared"] > 190000)  # 128x256x64 @4: 196 KiB
    over = {**f, "stages": 5, "shared": f["shared"] * 5 // 4}  # what @5 compiles to (240 KiB)
    c = pm.price(over, params=p)
    assert math.isinf(c.ns) and "shared memory" in c.illegal and c.ctas == 0
    assert math.isfinite(pm.price(f, params=p).ns)
    assert pm.price({**f, "shared": int(p["smem_per_block"])}, params=p).ctas == 1
    c = pm.price({**f, "registers": 255, "num_warps": 16}, params=p)  # 255 x 512 threads > 64 K registers
    assert math.isinf(c.ns) and "no CTA fits" in c.illegal


def test_occupancy_is_the_tightest_of_shared_memory_registers_and_warps() -> None:
    p = pm.params_for("h200")
    base = {"num_warps": 8, "registers": 100, "shared": 98304}
    assert pm.occupancy(base, p) == 2  # 104 x 256 = 26624 registers per CTA: 2
    assert pm.occupancy({**base, "shared": 65536}, p) == 2
    assert pm.occupancy({**base, "registers": 64}, p) == 2  # shared: 233472 // 99328
    assert pm.occupancy({**base, "registers": 64, "shared": 32768}, p) == 4  # registers: 65536 // 16384
    assert pm.occupancy({**base, "num_warps": 32, "registers": 32, "shared": 1024}, p) == 2  # warps


def test_the_fitted_constants_reproduce_the_committed_measurements() -> None:
    """The stated errors (benchmarks/results/transport_model_h200.md): on the 59 fitted variants tau >= 0.7,
    sign >= 35/40 beyond noise, median |time error| <= 5%; on the second run of the same kernels the
    same; on the 66 held-out variants (8 kernels not in the fit) sign >= 32/36, tau >= 0.5, median
    |time error| <= 8%."""
    for path in (FIT, RUN2):
        s = tm.judge(tm.load(path))
        assert s["n"] == 59 and s["kendall_tau"] >= 0.7, s
        assert s["sign_right"] >= 0.87 * s["sign_beyond_noise"] and s["median_abs_time_error"] <= 0.05, s
    s = tm.judge(tm.load(HOLDOUT))
    assert s["n"] == 66 and s["kernels"] == 8, s
    assert s["kendall_tau"] >= 0.5 and s["sign_right"] >= 32 and s["median_abs_time_error"] <= 0.08, s


def test_a_refit_from_the_toml_lands_on_the_toml() -> None:
    """The toml's constants are the fit's optimum: Levenberg-Marquardt started there stays within 2%."""
    rows = tm.rows_of_files([tm.load(FIT), tm.load(RUN2)])
    toml = pm.params_for("h200")
    got = pm.fit([(r["features"], r["ms"] * 1e3) for r in rows], "h200",
                 groups=[f"{r['kernel']}#{r['run']}" for r in rows], restarts=0)
    for k in pm.FITTED:
        assert abs(got[k] - toml[k]) <= 0.02 * toml[k] + 1e-3, (k, got[k], toml[k])


def test_two_stages_are_slower_and_four_cost_no_occupancy() -> None:
    """The measured pattern the refit is about (issue 13): cp.async@2 predicted below @3 on every
    fitted matmul, and @4 (half the CTAs of @3 where the ring doubles past 114 KiB) within 5% of @3."""
    data = tm.load(FIT)
    p = pm.params_for("h200")
    for r in data["results"]:
        v = r["variants"]
        t = {k: pm.price(v[k]["features"], params=p).ns for k in ("cp_async@2", "cp_async@3", "cp_async@4")}
        assert t["cp_async@2"] > 1.05 * t["cp_async@3"], r["kernel"]
        assert t["cp_async@4"] < 1.05 * t["cp_async@3"], r["kernel"]


def test_transport_choice_on_the_measured_variants() -> None:
    """decide() on the committed features (stages <= 4, as transport_hook compiles them): the picks, and
    none measured slower than the JIT beyond the kernel's noise."""
    picks = {k: c["chosen"] for k, c in tm.choices(tm.load(FIT)).items()}
    assert picks == {"attention_fwd_128x64": "cp_async@3", "mm_ab_128x128x64": "tma[a,b]@3",
                     "mm_ab_128x256x64": "tma[a,b]@3", "mm_ab_128x64x32": "cp_async@3",
                     "mm_bt_128x128x64": "tma[a,b]@3", "mm_bt_128x256x64": "tma[a,b]@3",
                     "mm_bt_128x64x32": "cp_async@3"}
    for path in (FIT, RUN2, HOLDOUT):
        for k, c in tm.choices(tm.load(path)).items():
            assert c["measured"] >= 1 - max(c["noise"], 0.02) - 0.03, (path.name, k, c)


def test_reprice_writes_what_the_alternatives_report_imports() -> None:
    from alternatives import transport_rows

    data = tm.load(HOLDOUT)
    out = tm.reprice(data)
    rows = transport_rows(out)
    assert len(rows) == 66
    p = pm.params_for("h200")
    for r in out["results"]:
        base = pm.price(r["variants"][r["input"]]["features"], params=p).ns
        for v in r["variants"].values():
            assert v["predicted_speedup"] == round(base / pm.price(v["features"], params=p).ns, 4)
            assert "predicted_speedup_bench" in v and {"speedup", "ms", "bit_identical_launch",
                                                        "bit_identical_bench"} <= set(v)
    for src, new in ((HOLDOUT, out), (FIT, tm.reprice(tm.load(FIT)))):
        committed = json.loads((RESULTS / f"{src.stem}_repriced.json").read_text())
        assert committed == json.loads(json.dumps(new)), f"regenerate: transport_model.py reprice {src.name}"


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [\n  {"kernel": 1,}\n]}')
    for argv, where in ((["fit", str(bad)], f"{bad}:2:"), (["reprice", str(tmp_path / "none.json"), "--out",
                                                             str(tmp_path / "o.json")], f"{tmp_path / 'none.json'}:1:1")):
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transport_model.py"), *argv],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(where) and "error:" in proc.stderr


@pytest.mark.parametrize("name", ["mm_bt_128x128x64", "attention_fwd_128x64"])
def test_compiled_features_match_the_committed_ones(name: str) -> None:
    """The features a fresh compile gives (transport_variants.variants) are the ones the fit used."""
    from eqsat.lowering.transport_variants import variants

    from eqsat.ingest import load_specs

    spec = next(s for s in load_specs(str(ROOT / "corpora" / "matmul.toml"))[0] if s.name == name)
    got = {v.key: v.features for v in variants(spec, "h100", stages=(3,)) if v.legal}
    committed = next(r for r in tm.load(FIT)["results"] if r["kernel"] == name)["variants"]
    for key, f in got.items():
        ref = committed[key]["features"]
        for k in ("flops_per_trip", "bytes_per_trip", "rows_per_trip", "alu_elems_per_trip",
                  "sfu_elems_per_trip", "epilogue_bytes", "tma_requests", "shared", "programs", "trips"):
            assert f[k] == ref[k], (key, k, f[k], ref[k])
