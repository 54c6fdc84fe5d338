"""What the H200 alternatives bench (benchmarks/alternatives.py, results in
benchmarks/results/alternatives_h200.md) fed back into the cost model, one test per correction, each
pinning the ordering or time the GPU measured (run 2, `python benchmarks/alternatives_gpu.py
runs/altE_h200 ...`, speedups against Triton's JIT at the bench size)."""

from __future__ import annotations

from functools import lru_cache

import pytest
from eqsat.costmodels.base import model_for


@lru_cache(maxsize=4)
def _bench_kernel(manifest: str, name: str, target: str = "h200") -> dict:
    """The dm kernel of a corpus entry lifted at its manifest's bench launch (the size the GPU timed)."""
    from eqsat.dm.json import dm_to_json
    from eqsat.dm.lift import Launch, lift_module
    from eqsat.ingest.manifest import load_manifest
    from eqsat.pipeline import front_end

    spec = next(s for s in load_manifest(manifest).kernels if s.name == name)
    k = next(k for k in front_end([manifest], [target], lift=False) if k.name == name)
    assert k.ok, k.error
    dm = lift_module(k.module, kernel=name, target=target, launch=Launch.from_manifest(spec.bench))
    kernel = dm_to_json(dm, target)
    kernel["grid"] = list(spec.bench["grid"])
    return kernel


def test_dot_operand_tiles_are_l2_reuse_not_dram_traffic() -> None:
    """matmul_fp16 (4096 x 4096 x 2048 fp16, 1024 CTAs): every CTA re-reads its A row panel and B column
    panel; priced as DRAM traffic its loads alone took 289 us, the kernel ran in 116.7 us (117.2 in run
    1). With the re-reads served by L2 the predicted kernel time is 148 us (within 30%; was 2.4x)."""
    from eqsat.costmodels.common import kernel_groups, kernel_time_ns
    from eqsat.costmodels.global_memory import dot_operand_reuse

    model = model_for("h200")
    kernel = _bench_kernel("corpora/project.toml", "matmul_fp16")
    copies = [o for o in kernel["ops"] if o["kind"] == "async_copy"]
    assert copies and all(dot_operand_reuse(o, kernel, 1024) == pytest.approx(32.0) for o in copies)
    groups = kernel_groups(model, kernel)
    assert groups["global"] < 150_000
    assert kernel_time_ns(groups, model.rates) == pytest.approx(116_700, rel=0.3)  # 148 us


# column_major_load's transposing convert done through explicit shared encodings (run 2, measured speedup)
SWIZZLES = [
    ("#ttg.swizzled_shared<{vec = 1, perPhase = 2, maxPhase = 32, order = [1, 0]}>", 0.995),
    ("#ttg.swizzled_shared<{vec = 4, perPhase = 2, maxPhase = 2, order = [1, 0]}>", 0.759),
    ("#ttg.swizzled_shared<{vec = 4, perPhase = 2, maxPhase = 1, order = [1, 0]}>", 0.471),
]


def test_conversion_slack_is_absolute_so_conflicted_swizzles_cost() -> None:
    """The overlap model hid the input's *fraction* of every alternative conversion: all five shared
    encodings of column_major_load were priced at exactly the input's cost (predicted 1.000x), measured
    0.995x / 0.759x / 0.471x. Hidden now is at most beta x the kernel's memory slack: the prices follow the
    measured order and the bank-conflicted one shows most of its 60 us."""
    from eqsat.costmodels.overlap import hidden_fraction, hide

    model = model_for("h200")
    kernel = dict(_bench_kernel("corpora/project.toml", "column_major_load"))
    cv = next(o for o in kernel["ops"] if o["kind"] == "convert")
    ctas = 79 * 47
    f = hidden_fraction(model, kernel)
    priced = []
    for enc, _measured in SWIZZLES:
        raw = model.convert_via_shared(cv["src_layout"], cv["dst_layout"], enc, cv["shape"], cv["dtype"])
        raw = raw.scaled(ctas)
        priced.append((hide(raw, f).total_ns, raw.total_ns))
    assert priced[0][0] < priced[1][0] < priced[2][0]
    slack = getattr(f, "per_conversion_ns", 0.0)
    assert 0 < slack < priced[2][1] / 2
    assert priced[2][0] >= priced[2][1] - slack  # hides no more than the slack


def test_transposed_reissue_keeps_the_inputs_sectors() -> None:
    """A load re-issued in a layout whose fastest dim is not the memory-contiguous one is lifted as
    `strided` (fastest dim 1, contiguity 1): priced at a sector per element, column_major_load's load-layout
    alternative was predicted 0.26x; it ran 0.774x. Its DRAM sectors are the input's (the L1 lines price
    the scatter)."""
    from eqsat.costmodels.global_memory import global_counts

    kernel = _bench_kernel("corpora/project.toml", "column_major_load")
    load = next(o for o in kernel["ops"] if o["kind"] == "load")
    assert load["access"]["strides"][0] == 1 and load["access"]["fastest_dim"] == 0
    reissued = {**load, "access": {**load["access"], "class": "strided", "fastest_dim": 1, "contiguity": 1}}
    assert global_counts(reissued, None, 32).sectors == global_counts(load, None, 32).sectors


def test_kernel_time_composition_bounds() -> None:
    """launch + max(M, S) <= kernel_time <= launch + M + S, and 0.2 of the smaller shows (the H200 fit)."""
    from eqsat.costmodels.common import kernel_time_ns

    rates = model_for("h200").rates
    for m, s in ((100.0, 10.0), (10.0, 100.0), (50.0, 50.0), (0.0, 7.0)):
        t = kernel_time_ns({"global": m, "issue": s / 2, "shared": s / 2}, rates) - rates.launch_ns
        assert max(m, s) - 1e-9 <= t <= m + s + 1e-9
        assert t == pytest.approx(max(m, s) + 0.2 * min(m, s))


def test_padded_shared_that_breaks_vector_alignment_is_illegal() -> None:
    """permute_3d's transposing convert through `padded_shared<[8:+1]>` stopped the H200 with CUDA
    `misaligned address` (Triton issues 16-byte f32 vectors and does not cap them by the pad); the same
    convert through `[8:+4]` ran bit-identical (0.918x), as did rope_interleave's `[2:+2]` / `[2:+4]`."""
    model = model_for("h200")
    src = ("#ttg.blocked<{sizePerThread = [4, 1, 1], threadsPerWarp = [8, 4, 1], warpsPerCTA = [1, 1, 4], "
           "order = [0, 1, 2]}>")
    dst = ("#ttg.blocked<{sizePerThread = [1, 1, 4], threadsPerWarp = [16, 1, 2], warpsPerCTA = [2, 2, 1], "
           "order = [2, 0, 1]}>")

    def padded(pad: int) -> str:
        return f"#ttg.padded_shared<[8:+{pad}] {{order = [2, 1, 0], shape = [32, 4, 8]}}>"

    bad = model.convert_via_shared(src, dst, padded(1), [32, 4, 8], "f32")
    assert not bad.legal and "misaligned" in bad.illegal
    assert model.convert_via_shared(src, dst, padded(4), [32, 4, 8], "f32").legal


@pytest.mark.parametrize("target", ["h100", "mi300x"])
def test_gathers_hide_under_memory_time_like_conversions(target: str, tmp_path) -> None:
    """Measured on an H200 at the bench size (alternatives_h200.md): gather_1d_cross_warp's indirect-load
    plan ran 0.942x (noise 0.6%) and gather_rows_warp_local's 0.975x, because their shared-memory /
    shuffle gathers hide under DRAM time; both are identity plans now. gather_rows_1024, bound by its
    shuffles, keeps its indirect load (measured 1.70x)."""
    import json
    import time

    from eqsat.ingest import ingest
    from eqsat.ingest.manifest import load_manifest
    from eqsat.optimize import OptimizeOptions, Task, _optimize_task

    specs = {s.name: s for s in load_manifest("corpora/project.toml").kernels
             if s.name in ("gather_1d_cross_warp", "gather_rows_warp_local", "gather_rows_1024")}
    kinds = {}
    for name, spec in specs.items():
        (r,) = ingest([spec], target)
        assert r.ok, r.error
        kdir = tmp_path / name / target
        row = _optimize_task(Task(name, target, "<test>", r.ttgir, spec.bench, str(kdir), None),
                             OptimizeOptions(), time.perf_counter())
        assert row["status"] == "ok", row
        plan = json.loads((kdir / "plan.json").read_text())
        kinds[name] = [c["params"].get("strategy") for c in plan["choices"] if c["kind"] == "gather_strategy"]
    assert kinds["gather_1d_cross_warp"] == [] and kinds["gather_rows_warp_local"] == []
    if target == "h100":
        assert kinds["gather_rows_1024"] == ["indirect_load"]
