"""Transport of loop loads (issue 12): TTIR rewrite to tensor-descriptor loads, variants, pipeline model.

Real Triton compiles (h100 and mi300x), no mocks."""

from __future__ import annotations

import re

import pytest
from eqsat.costmodels import pipeline as pm
from eqsat.lowering.transport import TransportIllegal, compile_variant, loop_loads, rewrite_tma
from eqsat.lowering.transport_variants import decide, kernel_ttir, variants
from eqsat.rules.typestate import check_ttgir_pipeline

from eqsat.ingest import load_specs
from eqsat.targets import get_target

SPECS = {s.name: s for s in load_specs("corpora/matmul.toml")[0]}


@pytest.fixture(scope="module")
def bt_ttir() -> str:
    return kernel_ttir(SPECS["mm_bt_128x128x64"], "h100")


def test_loop_loads_are_proven_boxes(bt_ttir: str) -> None:
    loads = loop_loads(bt_ttir)
    assert [ll.name for ll in loads] == ["a", "b"]
    for ll in loads:
        assert ll.box is not None, ll.reason
        assert str(ll.box.strides[-1]) == "1" and len(ll.box.coords) == 2
        assert "trip" in str(ll.box.coords[1]) and str(ll.box.coords[0]) == "0"


def test_rewrite_compiles_to_a_tma_pipeline(bt_ttir: str) -> None:
    new = rewrite_tma(bt_ttir, loop_loads(bt_ttir))
    assert new.count("tt.descriptor_load") == 2 and "tt.load %a_ptrs" not in new
    v = compile_variant(new, get_target("h100"), "tma", 3, 8)
    assert "ttng.async_tma_copy_global_to_local" in v.ttgir and "ttg.async_copy_global_to_local" not in v.ttgir
    assert not re.search(r"scf\.for[^\n]*tensor<128x64x!tt\.ptr", v.ttgir), "dead pointer iter_args stay"
    assert v.shared > 3 * 2 * 128 * 64 * 2 - 1 and v.registers and v.registers < 255
    check_ttgir_pipeline(v.ttgir)


def test_illegal_loads_say_why() -> None:
    ttir = kernel_ttir(SPECS["mm_bt_128x128x64"], "mi300x")
    assert all(ll.box is None and "Hopper" in ll.reason for ll in loop_loads(ttir, target="hip:gfx942"))
    text = kernel_ttir(SPECS["attention_fwd_128x64"], "h100")
    names = {ll.name: ll for ll in loop_loads(text)}
    assert set(names) == {"k", "v"} and all(ll.box is not None for ll in names.values())
    with pytest.raises(TransportIllegal):
        rewrite_tma(text, [type(names["k"])("k", names["k"].loop, [64, 128], "f16", None, "masked")])


def test_variants_compile_for_both_targets_and_pass_the_protocol() -> None:
    spec = SPECS["mm_ab_128x128x64"]
    for target, modes in (("h100", {"registers", "cp_async", "tma"}), ("mi300x", {"registers", "lds",
                                                                               "direct_to_lds"})):
        vs = variants(spec, target, stages=(2, 3))
        assert {v.mode for v in vs} == modes
        multi = [v for v in vs if v.stages > 1]
        assert multi and all(v.ttgir and v.protocol == "ok" for v in multi), [v.reason for v in multi]
    amd = variants(spec, "mi300x", stages=(2,))
    assert any("buffer_load_to_local" in v.ttgir or "async_copy_global_to_local" in v.ttgir
               for v in amd if v.mode == "direct_to_lds")


def test_shared_memory_limits_the_stages() -> None:
    vs = variants(SPECS["mm_bt_128x256x64"], "h100", stages=(5,))
    over = [v for v in vs if v.stages == 5]
    assert over and all(not v.legal and "shared memory" in v.reason for v in over)


def test_pipeline_model_orders_the_issue_measurements() -> None:
    """The fitted model picks TMA for A.B^T 128x128x64 and 128x256x64 and not for 128x64x32."""
    picks = {}
    for name in ("mm_bt_128x64x32", "mm_bt_128x128x64", "mm_bt_128x256x64", "attention_fwd_128x64"):
        spec = SPECS[name]
        picks[name] = decide(variants(spec, "h100", stages=(3,)), spec, "h100").chosen.key
    assert picks == {"mm_bt_128x64x32": "cp_async@3", "mm_bt_128x128x64": "tma[a,b]@3",
                     "mm_bt_128x256x64": "tma[a,b]@3", "attention_fwd_128x64": "cp_async@3"}


def test_fit_recovers_constants_from_their_own_predictions() -> None:
    spec = SPECS["mm_bt_128x128x64"]
    feats = [v.features for v in variants(spec, "h100", stages=(2, 3)) if v.legal]
    truth = {**pm.params_for("h100"), "latency_clk": 2000.0, "cp_row_clk": 2.0, "tma_trip_clk": 50.0}
    samples = [(f, pm.price(f, params=truth).ns / 1e3) for f in feats]
    got = pm.fit(samples, "h100", free=("latency_clk", "cp_row_clk", "tma_trip_clk"), restarts=1)
    for f, us in samples:
        assert abs(pm.price(f, params=got).ns / 1e3 - us) / us < 0.02


def test_epilogue_tma_store_compiles_with_its_fence(bt_ttir: str) -> None:
    from eqsat.lowering.transport import epilogue_stores, rewrite_tma_store

    stores = epilogue_stores(bt_ttir)
    assert len(stores) == 1 and stores[0].box is not None and stores[0].shape == [128, 128]
    new = rewrite_tma_store(rewrite_tma(bt_ttir, loop_loads(bt_ttir)), stores)
    v = compile_variant(new, get_target("h100"), "tma", 3, 8)
    assert "ttng.async_tma_copy_local_to_global" in v.ttgir and "tt.store" not in v.ttgir
    assert check_ttgir_pipeline(v.ttgir)["fences"] >= 1


def test_descriptor_kernels_are_left_alone() -> None:
    """A kernel already written with tl.make_tensor_descriptor has no pointer loop loads to rewrite."""
    from eqsat.lowering.transport_variants import loop_feeds_dot

    spec = next(s for s in load_specs("corpora/project.toml")[0] if s.name == "tma_matmul")
    ttir = kernel_ttir(spec, "h100")
    assert loop_loads(ttir) == [] and not loop_feeds_dot(ttir)
