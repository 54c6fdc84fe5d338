"""Program-invariant loads (eqsat.dm.address.program_invariant, info["program_invariant"] in the lift)
and their price: DRAM moves them once, the L2 streams the other CTAs' reads (costmodels/common.py)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from eqsat.costmodels.base import model_for

from eqsat.dm.json import dm_to_json
from eqsat.dm.lift import Launch, lift_module
from eqsat.ingest import ingest
from eqsat.ingest.manifest import KernelSpec
from eqsat.ir.parser import parse_ttgir

KERNELS = str(Path(__file__).with_name("program_invariant_kernels.py"))
SIGS = {"table_lookup": {"table_ptr": "*fp32", "idx_ptr": "*i32", "out_ptr": "*fp32"},
        "loop_weights": {"w_ptr": "*fp32", "x_ptr": "*fp32", "out_ptr": "*fp32", "n_chunks": "i32",
                         "stride": "i32"}}


@cache
def kernel(name: str, target: str, grid: int = 4096) -> dict:
    sig = SIGS[name]
    spec = KernelSpec(name=name, manifest="<inline>", path=KERNELS, function=name,
                      signature={**sig, "BLOCK": "constexpr"}, constexprs={"BLOCK": 1024},
                      divisible=tuple(k for k, s in sig.items() if s.startswith("*")))
    (r,) = ingest([spec], target)
    assert r.ok, r.error
    args = {"n_chunks": 8, "stride": 8192} if name == "loop_weights" else {}
    dm = lift_module(parse_ttgir(r.ttgir, name), kernel=name, target=target,
                     launch=Launch.from_manifest({"grid": [grid], "args": args}))
    k = dm_to_json(dm, target)
    k["grid"] = [grid]
    return k


def _loads(k: dict) -> list[dict]:
    return [o for o in k["ops"] if o["kind"] == "load"]


@pytest.mark.parametrize("target", ["h100", "mi300x"])
def test_only_loads_every_program_reads_alike_are_invariant(target: str) -> None:
    table, idx = _loads(kernel("table_lookup", target))
    assert table["info"].get("program_invariant")
    assert not idx["info"].get("program_invariant")
    w, x, shifted = _loads(kernel("loop_weights", target))
    assert w["info"].get("program_invariant")  # the loop index is the same in every program
    assert not x["info"].get("program_invariant")  # the program's row
    assert not shifted["info"].get("program_invariant")  # the grid size moves it


@pytest.mark.parametrize("target", ["h100", "h200", "mi300x"])
def test_an_invariant_load_reaches_dram_once(target: str) -> None:
    """Priced with the flag, the table's global time is the L2 stream of every CTA's read, well under
    the DRAM time of the same bytes (what it was priced at before: 67 MB for gather_1d_cross_warp);
    without it (the same op, flag dropped) it is DRAM traffic again. Where the table fits in L1 (h100,
    h200: `l1_bytes`) the L2 serves each SM once, so it does not grow with the grid; else it grows at the
    L2's rate, not DRAM's."""
    model = model_for(target)
    k = kernel("table_lookup", target)
    table = _loads(k)[0]
    plain = {**table, "info": {key: v for key, v in table["info"].items() if key != "program_invariant"}}
    shared = model.global_access(table, None, k).ns["global"]
    dram = model.global_access(plain, None, k).ns["global"]
    if target == "mi300x":  # no L2 rate measured for CDNA3: its L2 is priced at the HBM rate
        assert shared <= dram
    else:
        assert shared < dram / 1.5
    big = kernel("table_lookup", target, grid=16384)
    grown = model.global_access(_loads(big)[0], None, big).ns["global"]
    if target == "mi300x":  # no L1 capacity in its parameters: every CTA's read streams from the L2
        assert grown == pytest.approx(4 * shared, rel=0.05)
    else:  # the 4 KB table fits in L1: each SM fills it once whatever the grid (global_memory.py)
        assert grown == pytest.approx(shared, rel=0.05)
