"""z3 proofs of F2 index maps: swizzles are bijections, conversions fetch the right element, chained
conversions fold; broken maps give counterexamples. Synthesised XOR swizzles are conflict-free by the cost
model's bank simulator (an independent implementation of the phase tables)."""

from __future__ import annotations

import numpy as np
import pytest
from eqsat.rules.instances import linear_text_of, random_layout, random_shape, random_swizzled
from eqsat.rules.swizzle import candidate_encodings, conflicts, offset_map, prove_encoding, synthesize

from eqsat.egraph.interpret import _pow2_layout
from eqsat.egraph.proofs import prove_bijective, prove_conversion, prove_equal, prove_fold
from eqsat.layout import LinearLayout


@pytest.mark.parametrize("seed", range(12))
def test_swizzled_encodings_are_bijections(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 2, pow2=True)
    enc = random_swizzled(rng, 2)
    assert prove_bijective(offset_map(enc, shape))


def test_non_bijection_has_a_counterexample() -> None:
    bad = LinearLayout({"offset": [(0, 1), (1, 0), (1, 1), (1, 1)]}, [("dim0", 4), ("dim1", 4)])
    proof = prove_bijective(bad)
    assert not proof and "same output" in proof.detail


@pytest.mark.parametrize("seed", range(12))
def test_conversions_and_folds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 2, pow2=True)
    a, b, c = (_pow2_layout(random_layout(rng, shape), shape) for _ in range(3))
    assert prove_conversion(a, b)
    assert prove_fold(a, b, c)


@pytest.mark.parametrize("seed", range(8))
def test_prove_equal_tells_spellings_from_different_maps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 2, pow2=True)
    text = random_layout(rng, shape)
    same = _pow2_layout(linear_text_of(text, shape), shape)
    assert prove_equal(_pow2_layout(text, shape), same)
    other = _pow2_layout(random_layout(rng, shape), shape)
    assert bool(prove_equal(_pow2_layout(text, shape), other)) == (other == _pow2_layout(text, shape))


@pytest.mark.parametrize("target", ["h100", "mi300x"])
def test_candidates_are_bijections(target: str) -> None:
    for shape in ((64, 64), (32, 20), (16, 128)):
        for enc in candidate_encodings(shape, "f16", target):
            assert prove_encoding(enc, shape) is None, enc


@pytest.mark.parametrize(("target", "warp"), [("h100", 32), ("mi300x", 64)])
def test_synthesised_swizzle_is_conflict_free_by_the_bank_simulator(target: str, warp: int) -> None:
    # a transpose: rows stored with 16-byte vectors, columns loaded one element per lane
    store = f"#ttg.blocked<{{sizePerThread = [1, 8], threadsPerWarp = [{warp // 8}, 8], warpsPerCTA = [4, 1], order = [1, 0]}}>"
    load = f"#ttg.blocked<{{sizePerThread = [8, 1], threadsPerWarp = [8, {warp // 8}], warpsPerCTA = [1, 4], order = [0, 1]}}>"
    shape = (64, 64)
    found = synthesize(store, load, shape, "f16", target)
    assert found is not None and found.startswith("#ttg.shared_linear")
    assert prove_encoding(found, shape) is None
    assert conflicts(store, found, shape, "f16", target)[0] == 0
    assert conflicts(load, found, shape, "f16", target)[1] == 0
    plain = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [1, 0]}>"
    assert sum(conflicts(load, plain, shape, "f16", target)) > 0  # the problem was real


def test_synthesised_swizzle_compiles_with_triton(tmp_path, monkeypatch) -> None:
    """The emitted `#ttg.shared_linear` is an encoding Triton 3.6 accepts: a convert of a real kernel
    rewritten as local_alloc + local_load through it compiles to PTX with shared stores and loads."""
    import re
    from pathlib import Path

    import triton
    from triton.backends.compiler import GPUTarget

    src_layout = "#ttg.blocked<{sizePerThread = [4, 1], threadsPerWarp = [16, 2], warpsPerCTA = [1, 4], order = [0, 1]}>"
    dst_layout = "#ttg.blocked<{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
    enc = synthesize(src_layout, dst_layout, (64, 32), "f32", "h100")
    assert enc is not None
    assert conflicts(src_layout, enc, (64, 32), "f32", "h100")[0] == 0
    assert conflicts(dst_layout, enc, (64, 32), "f32", "h100")[1] == 0
    text = Path("tests/lit/dm/transpose_h100.ttgir").read_text()
    old = "%10 = ttg.convert_layout %tt : tensor<64x32xf32, #blocked3> -> tensor<64x32xf32, #blocked1>"
    assert old in text
    text = text.replace(old, "%buf = ttg.local_alloc %tt : (tensor<64x32xf32, #blocked3>) -> "
                             "!ttg.memdesc<64x32xf32, #synth, #smem>\n    %10 = ttg.local_load %buf : "
                             "!ttg.memdesc<64x32xf32, #synth, #smem> -> tensor<64x32xf32, #blocked1>")
    text = text.replace("module attributes", f"#synth = {enc}\n#smem = #ttg.shared_memory\nmodule attributes", 1)
    path = tmp_path / "k.ttgir"
    path.write_text(text)
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "cache"))
    ptx = triton.compile(str(path), target=GPUTarget("cuda", 90, 32)).asm["ptx"]
    assert re.search(r"st\.shared", ptx) and re.search(r"ld\.shared", ptx)
