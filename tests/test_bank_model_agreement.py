"""Re-check the committed GPU measurement (benchmarks/results/shared_counters_h200.json, Nsight Compute on an
H200) against the current shared-memory model, so that a change of the model that breaks its agreement
with the hardware fails here. CPU only: the numbers were measured once by benchmarks/gpu_shared_counters.py.

What the hardware showed and these tests hold the model to:
- at 64 CTAs (one per SM) every transpose variant's st/ld wavefronts per CTA equal the simulator's exactly;
- at 16384 CTAs the hardware adds 0-16% contention wavefronts, never fewer than predicted;
- executed st.shared/ld.shared instructions equal the simulator's count (except where Triton used ldmatrix);
- the model orders the variants of each family as the measured wavefronts do;
- cp.async (LDGSTS) shared writes of the corpus kernels match the model exactly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "benchmarks" / "results" / "shared_counters_h200.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

import compare_bank_model as cmp  # noqa: E402
from eqsat.costmodels.base import load_params, model_for  # noqa: E402

DATA = json.loads(MEASURED.read_text())
MEASURED_VARIANTS = sorted(n for n, r in DATA["variants"].items() if r.get("counters"))
# Triton lowered these loads to ldmatrix: ncu's ld.shared instruction counter does not count them
LDMATRIX_LOADS = {"f16b_col"}


@pytest.fixture(scope="module")
def rows() -> dict:
    return cmp.compare_variants(load_params("h100"), None, DATA)


def test_measurement_file_is_complete() -> None:
    assert len(MEASURED_VARIANTS) >= 15
    assert sum(1 for r in DATA["corpus"].values() if r["counters"].get(cmp.WF.format("ld"))) >= 10


@pytest.mark.parametrize("name", MEASURED_VARIANTS)
def test_variant_wavefronts_exact_at_one_cta_per_sm(rows: dict, name: str) -> None:
    row = rows[name]
    (small,) = row["measured_at"].values()
    for direction, _ in cmp.DIRECTIONS:
        assert small[direction]["wavefronts"] == row["predicted"][direction]["wavefronts"], direction


@pytest.mark.parametrize("name", MEASURED_VARIANTS)
def test_variant_full_grid_only_adds_contention(rows: dict, name: str) -> None:
    row = rows[name]
    for direction, _ in cmp.DIRECTIONS:
        r = row[f"{direction}_wavefront_ratio"]
        assert 1.0 <= r <= 1.16, (direction, r)
        # ncu: conflicts = wavefronts - ideal, so the measured conflict excess equals the wavefront excess
        excess_wf = row["measured"][direction]["wavefronts"] - row["predicted"][direction]["wavefronts"]
        excess_conf = row["measured"][direction]["conflicts"] - row["predicted"][direction]["conflicts"]
        assert excess_conf == pytest.approx(excess_wf, abs=1e-6)


@pytest.mark.parametrize("name", MEASURED_VARIANTS)
def test_variant_instruction_counts(rows: dict, name: str) -> None:
    row = rows[name]
    assert row["store_instructions_exact"]
    if name not in LDMATRIX_LOADS:
        assert row["load_instructions_exact"]


def test_variant_orders_follow_measured_wavefronts(rows: dict) -> None:
    for family, res in cmp.orderings(rows, noise=0.01).items():
        assert res["wavefronts_vs_measured_wavefronts"]["same_order"], family


def test_cp_async_wavefronts_match_ldgsts_counter() -> None:
    # the op-level model (costmodels/nvidia.py) is written beside this test; until it is committed this
    # check cannot run (the variant checks above need only the committed bank simulator)
    pytest.importorskip("eqsat.costmodels.nvidia", reason="costmodels/nvidia.py is not in this checkout")
    model = model_for("h100")
    kernels = {n: r for n, r in DATA["corpus"].items()
               if r["counters"].get(cmp.LDGSTS_WF)}
    assert kernels, "no corpus kernel with LDGSTS traffic in the measurement"
    dm = cmp.dm_kernels(str(ROOT / DATA["manifest"]))
    for name, rec in kernels.items():
        cost = model.kernel_cost(dm[name])
        predicted = sum(op_cost["terms"].get("shared_wavefronts", 0.0)
                        for op in dm[name]["ops"] if op["kind"] == "async_copy"
                        for op_cost in [cost.info["ops"][op["id"]]])
        assert predicted == rec["counters"][cmp.LDGSTS_WF], name
