"""The serving-style corpus (corpora/serving.toml): every launch, on every target, addresses only memory
inside its tensors and writes no element twice, checked on the CPU from the launch's own tensors
(`launch_tensors`, the values `build_args` gives the GPU) against what each kernel reads and writes.

The checks restate each kernel's address arithmetic (corpora/project/serving.py) in torch: the largest
element offset of every access must be below the tensor's size, scattered rows must be distinct (so the
output is deterministic and the bench can compare bits), and grids must cover the work (every query block
of the longest sequence, every draft position)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eqsat.ingest import load_manifest
from eqsat.ingest.launch import launch_tensors, numel

torch = pytest.importorskip("torch")

MANIFEST = Path(__file__).resolve().parent.parent / "corpora" / "serving.toml"
SPECS = {s.name: s for s in load_manifest(MANIFEST).kernels}


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _paged_decode(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    num_seqs, heads = grid[0], grid[1]
    assert heads == c["NUM_HEADS"] and t["q_ptr"].shape[:2] == (num_seqs, heads)
    lens = t["seq_lens_ptr"]
    assert int(lens.min()) >= 0 and bool((lens == 0).any()), "some empty (padded) sequences exit early"
    pages = _cdiv(int(lens.max()), c["PAGE"])
    assert pages <= a["stride_bt"] == t["block_tables_ptr"].shape[1]
    blocks = t["k_cache_ptr"].shape[0]
    assert int(t["block_tables_ptr"].max()) < blocks and int(t["block_tables_ptr"].min()) >= 0
    assert a["stride_cache_block"] == t["k_cache_ptr"].stride(0) == t["v_cache_ptr"].stride(0)
    assert t["k_cache_ptr"].shape[1:] == (c["PAGE"], c["NUM_KV_HEADS"], c["HEAD_DIM"])


def _varlen_prefill(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    cu = t["cu_seqlens_ptr"].tolist()
    assert grid[0] == len(cu) - 1 and grid[2] == c["NUM_HEADS"]
    lens = [y - x for x, y in zip(cu, cu[1:], strict=False)]
    assert grid[1] * c["BLOCK_M"] >= max(lens), "the grid covers every query block of the longest sequence"
    rows = t["q_ptr"].shape[0]
    assert cu[-1] <= rows == t["k_ptr"].shape[0] == t["out_ptr"].shape[0]
    assert a["stride_qkv"] == t["q_ptr"].stride(0) and a["stride_out"] == t["out_ptr"].stride(0)
    assert t["q_ptr"].shape[1] == c["NUM_HEADS"] * c["HEAD_DIM"]
    assert t["k_ptr"].shape[1] == t["v_ptr"].shape[1] == c["NUM_KV_HEADS"] * c["HEAD_DIM"]


def _kv_scatter(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    slots = t["slot_mapping_ptr"]
    assert grid[0] == slots.numel() == t["key_ptr"].shape[0]
    real = slots[slots >= 0]
    assert real.numel() < slots.numel(), "some padding tokens exit early"
    assert real.unique().numel() == real.numel(), "distinct slots: no element written twice"
    assert int(real.max()) < t["key_cache_ptr"].shape[0] * c["PAGE"]
    assert t["key_ptr"].shape[1] == c["ROW"] and t["key_cache_ptr"].shape[2] == c["ROW"]
    assert a["stride_key"] == t["key_ptr"].stride(0) and a["stride_value"] == t["value_ptr"].stride(0)
    assert a["stride_cache_block"] == t["key_cache_ptr"].stride(0)


def _moe_align(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    ids = t["topk_ids_ptr"]
    assert grid == [1] and a["numel"] == ids.numel()
    assert int(ids.min()) >= 0 and int(ids.max()) < c["NUM_EXPERTS"]
    counts = torch.bincount(ids.flatten().long(), minlength=c["NUM_EXPERTS"])
    padded = int(((counts + c["BLOCK_SIZE"] - 1) // c["BLOCK_SIZE"] * c["BLOCK_SIZE"]).sum())
    assert padded <= c["MAX_PADDED"] == t["sorted_token_ids_ptr"].numel()
    assert c["MAX_PADDED"] >= ids.numel() + c["NUM_EXPERTS"] * (c["BLOCK_SIZE"] - 1)
    assert _cdiv(c["MAX_PADDED"], c["BLOCK_SIZE"]) <= c["MAX_BLOCKS"] == t["expert_ids_ptr"].numel()


def _moe_permute(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    src = t["src_row_ptr"]
    assert grid[0] == src.numel() == t["out_ptr"].shape[0]
    assert int(src.max()) // c["TOPK"] < t["hidden_ptr"].shape[0] and int(src.min()) >= 0
    assert a["hidden_size"] == t["hidden_ptr"].shape[1] == t["out_ptr"].shape[1]


def _moe_unpermute(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    inv = t["inv_row_ptr"]
    assert grid[0] == inv.shape[0] == t["out_ptr"].shape[0] and inv.shape[1] == c["TOPK"]
    assert int(inv.max()) < t["permuted_ptr"].shape[0] and int(inv.min()) >= 0
    assert a["hidden_size"] == t["permuted_ptr"].shape[1] == t["out_ptr"].shape[1]
    assert t["weights_ptr"].shape == inv.shape


def _recovered(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    cu = t["cu_num_draft_ptr"].tolist()
    assert grid[0] == len(cu) - 1
    assert grid[1] >= max(y - x for x, y in zip(cu, cu[1:], strict=False)), "every draft position has a program"
    assert cu[-1] <= t["out_ptr"].numel() and cu[-1] <= t["target_probs_ptr"].shape[0]
    assert t["target_probs_ptr"].shape == t["draft_probs_ptr"].shape
    assert t["q_ptr"].shape == (grid[0], a["vocab_size"]) and t["target_probs_ptr"].shape[1] == a["vocab_size"]


def _softmax_row(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    assert c["BLOCK_V"] >= a["vocab_size"] == t["logits_ptr"].shape[1] == t["probs_ptr"].shape[1]
    assert grid[0] == t["logits_ptr"].shape[0] == t["temperature_ptr"].numel()
    assert bool((t["temperature_ptr"] > 0).all())


def _early_return(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    idx = t["idx_ptr"]
    rows = idx[idx >= 0]
    assert rows.numel() < idx.numel() and rows.unique().numel() == rows.numel()
    assert int(rows.max()) < t["dst_ptr"].shape[0] and grid[0] <= t["src_ptr"].shape[0]
    assert t["dst_ptr"].shape[1] == t["src_ptr"].shape[1] == c["BLOCK"]


def _scalar_base(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    start = t["start_ptr"]
    assert grid[0] == start.numel() == t["dst_ptr"].shape[0]
    assert int(start.min()) >= 0 and int(start.max()) + c["BLOCK"] <= t["src_ptr"].numel()


def _copy_row(c: dict, a: dict, t: dict, grid: list[int]) -> None:
    rows, off = t["rows_ptr"], t["indptr_ptr"][:grid[0]]
    assert grid[0] == rows.numel() and int(rows.max()) < t["src_ptr"].shape[0]
    assert bool(((off[1:] - off[:-1]) >= c["BLOCK"]).all()), "output ranges do not overlap"
    assert int(off.max()) + c["BLOCK"] <= t["dst_ptr"].numel()


CHECKS = {
    "paged_decode_attention": _paged_decode, "varlen_prefill_attention": _varlen_prefill,
    "kv_cache_scatter": _kv_scatter, "moe_align_block_size": _moe_align, "moe_permute_rows": _moe_permute,
    "moe_unpermute_reduce": _moe_unpermute, "sample_recovered_tokens": _recovered,
    "temperature_softmax_row": _softmax_row, "early_return": _early_return, "scalar_base_copy": _scalar_base,
    "copy_row_to_runtime_offset": _copy_row,
}


def test_every_serving_kernel_has_a_check() -> None:
    assert set(CHECKS) == set(SPECS)


def _cases():
    for name, spec in SPECS.items():
        for target in ("h100", "mi300x"):
            resolved = spec.for_target(target)
            for size, launch in (("launch", resolved.launch), ("bench", resolved.bench)):
                if launch is not None:
                    yield pytest.param(name, resolved, launch, id=f"{name}-{target}-{size}")


def _sources(tables: dict) -> set[str]:
    """Arguments that diff() inits read."""
    return {v["init"].split("(")[1].rstrip(") ") for v in tables.values() if v.get("init", "").startswith("diff")}


@pytest.mark.parametrize("name, spec, launch", list(_cases()))
def test_launch_stays_in_bounds(name: str, spec, launch: dict) -> None:
    # large data tensors (floats) become zeros: the same shapes, strides and views, built in no time;
    # index tensors and small ones keep their init, the values the GPU gets
    light = {k: ({**v, "init": "zeros"} if isinstance(v, dict) and "view" not in v and numel(v["shape"]) > 2**20
                 and not v["dtype"].startswith(("int", "uint")) else v) for k, v in launch["args"].items()}
    tensors = launch_tensors({**launch, "args": light}, seed=1)
    kept = {k: v for k, v in launch["args"].items() if isinstance(v, dict) and v is light[k]
            and "view" not in v and v["dtype"].startswith(("int", "uint"))}
    full = launch_tensors({"args": {**kept, **{k: launch["args"][k] for k in _sources(kept)}}}, seed=1)
    assert all(torch.equal(tensors[k], full[k]) for k in kept), "index tensors as the GPU gets them"
    scalars = {k: v for k, v in launch["args"].items() if not isinstance(v, dict)}
    CHECKS[name](spec.constexprs, scalars, tensors, list(launch["grid"]))


def test_per_target_overrides_reach_the_spec() -> None:
    spec = SPECS["varlen_prefill_attention"]
    amd, nv = spec.for_target("mi300x"), spec.for_target("h200")
    assert amd.constexprs["BLOCK_M"] == 32 and nv.constexprs["BLOCK_M"] == 64
    assert amd.launch["grid"] == [4, 16, 32] and nv.launch["grid"] == [4, 8, 32]
    assert amd.launch["args"] == nv.launch["args"] and amd.num_stages == 1 and not amd.per_target
    assert SPECS["moe_unpermute_reduce"].for_target("mi300x").num_stages == 0
