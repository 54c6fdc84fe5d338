"""Register encodings built by ``eqsat.layout`` against Triton 3.6's own ``toLinearLayout``.

Gluon's ``GluonOpBuilder.to_linear_layout`` (the C++ conversion the compiler uses) is asked for
every random case in one child process per test session; we require identical bases.
"""

from __future__ import annotations

import collections
import random
from functools import partial
from typing import Any

import pytest
from layout_cases import distributed_cases, gen_blocked
from layout_oracle import oracle_batch, oracle_to_ll

from eqsat.layout import (
    AmdMfmaParams,
    LinearLayout,
    NvidiaMmaParams,
    amd_mfma,
    blocked,
    build,
    dot_operand,
    nvidia_mma,
    slice,
)

PER_KIND = 100  # x 6 kinds = 600 random encodings


@pytest.fixture(scope="module")
def oracle_results() -> list[tuple[dict[str, Any], LinearLayout]]:
    cases = distributed_cases(PER_KIND, seed=2024)
    rng = random.Random(99)
    for _ in range(30):  # multi-CTA blocked layouts (Gluon's cga_layout bases)
        c = gen_blocked(rng)
        rank = len(c["shape"])
        used = [0] * rank
        cga = []
        for _ in range(rng.randint(1, 2)):
            d = rng.randrange(rank)
            if rng.random() < 0.2:
                cga.append([0] * rank)  # CTAs that replicate the tensor
            else:
                cga.append([(1 << used[d]) if i == d else 0 for i in range(rank)])
                used[d] += 1
        c["params"]["cga_layout"] = cga
        cases.append(c)
    return [(c, oracle_to_ll(r)) for c, r in zip(cases, oracle_batch(cases), strict=True)]


def _ours(case: dict[str, Any]) -> LinearLayout:
    params = dict(case["params"])
    if "cga_layout" in params:
        params["cta_layout"] = params.pop("cga_layout")
    ll = build(case["kind"], params, case["shape"])
    assert isinstance(ll, LinearLayout)
    return ll


def test_all_kinds_match_triton(oracle_results: list[tuple[dict[str, Any], LinearLayout]]) -> None:
    counts: collections.Counter[str] = collections.Counter()
    bad = []
    for case, expected in oracle_results:
        counts[case["kind"]] += 1
        got = _ours(case)
        if got != expected:
            bad.append(f"{case}\nexpected:{expected}\ngot:{got}")
    assert not bad, f"{len(bad)} mismatches, first:\n{bad[0]}"
    assert sum(counts.values()) >= 600 and min(counts.values()) >= PER_KIND, counts


def test_subkinds_covered(oracle_results: list[tuple[dict[str, Any], LinearLayout]]) -> None:
    seen = collections.Counter()
    for case, _ in oracle_results:
        p = case["params"]
        if case["kind"] == "nvidia_mma":
            seen[f"mma_v{p['version_major']}"] += 1
        if case["kind"] == "dot_operand":
            seen[f"dot_{p['parent_kind']}_{p['op_idx']}"] += 1
        if case["kind"] == "amd_mfma" and len(case["shape"]) == 3:
            seen["mfma_rank3"] += 1
    for key in ("mma_v2", "mma_v3", "dot_nvidia_mma_0", "dot_nvidia_mma_1", "dot_amd_mfma_0",
                "dot_amd_mfma_1", "mfma_rank3"):
        assert seen[key] >= 5, seen


def test_perturbed_layout_is_detected(oracle_results: list[tuple[dict[str, Any], LinearLayout]]) -> None:
    """The comparison can fail: a layout with one register basis moved differs from Triton's."""
    rng = random.Random(7)
    detected = 0
    for case, expected in oracle_results[:200]:
        bases = expected.bases
        nonzero = [(n, i) for n in ("register", "lane", "warp") for i, b in enumerate(bases[n]) if any(b)]
        if len(nonzero) < 2:
            continue
        (n1, i1), (n2, i2) = rng.sample(nonzero, 2)
        if bases[n1][i1] == bases[n2][i2]:
            continue
        bases[n1][i1], bases[n2][i2] = bases[n2][i2], bases[n1][i1]
        perturbed = LinearLayout(bases, expected.out_dim_sizes)
        assert perturbed != expected
        assert _ours(case) != perturbed
        detected += 1
    assert detected > 100


def test_known_examples() -> None:
    ll = blocked([1, 8], [4, 8], [4, 1], [1, 0], shape=(64, 64))
    assert ll.bases["register"] == [[0, 1], [0, 2], [0, 4], [16, 0], [32, 0]]
    assert ll.bases["lane"] == [[0, 8], [0, 16], [0, 32], [1, 0], [2, 0]]
    assert ll.bases["warp"] == [[4, 0], [8, 0]]
    sl = slice(1, partial(blocked, [1, 8], [4, 8], [4, 1], [1, 0]), (64,))
    assert sl.bases["register"] == [[16], [32]] and sl.bases["lane"] == [[0], [0], [0], [1], [2]]
    assert sl.free_variable_masks()["lane"] == 0b00111
    mma = nvidia_mma(3, 0, [4, 1], [16, 128, 16], shape=(64, 128))
    assert mma.bases["warp"] == [[16, 0], [32, 0]] and mma.is_surjective()
    mfma = amd_mfma(3, [2, 2], [32, 32, 8], True, shape=(64, 64))
    assert mfma.get_in_dim_size("lane") == 64 and mfma.is_injective()
    a = dot_operand(0, NvidiaMmaParams(2, 0, (2, 2), (16, 8)), 2, shape=(64, 32))
    assert a.bases["warp"][0] == [0, 0] or a.bases["warp"][1] == [0, 0]  # broadcast along K... or M
    b = dot_operand(1, AmdMfmaParams(3, (2, 2), (32, 32, 8), True), 4, shape=(64, 64))
    assert b.is_surjective()
    with pytest.raises(ValueError):
        dot_operand(1, NvidiaMmaParams(3, 0, (4, 1), (16, 64, 16)), 2, shape=(64, 64))
    with pytest.raises(ValueError):
        blocked([1], [32], [4], [0], shape=(48,))
