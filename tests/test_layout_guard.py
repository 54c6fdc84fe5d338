"""Non-power-of-two shapes: ``build`` returns a ``GuardedLayout`` whose waste counts agree with a
brute-force walk over every hardware slot."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqsat.layout import GuardedLayout, LinearLayout, build, next_pow2


@st.composite
def guarded_cases(draw: st.DrawFn) -> tuple[str, dict, tuple[int, ...]]:
    rank = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["blocked", "blocked", "nvidia_mma", "swizzled_shared"])) if rank == 2 \
        else "blocked"

    def split(total_log2: int) -> list[int]:
        logs = [0] * rank
        for _ in range(total_log2):
            logs[draw(st.integers(0, rank - 1))] += 1
        return [1 << x for x in logs]

    if kind == "blocked":
        order = draw(st.permutations(list(range(rank))))
        params = {"size_per_thread": split(draw(st.integers(0, 2))), "threads_per_warp": split(5),
                  "warps_per_cta": split(draw(st.integers(0, 2))), "order": list(order)}
        shape = tuple(draw(st.lists(st.integers(1, 80), min_size=rank, max_size=rank)))
    elif kind == "nvidia_mma":
        params = {"version_major": 2, "version_minor": 0, "warps_per_cta": split(draw(st.integers(0, 2))),
                  "instr_shape": [16, 8]}
        shape = (draw(st.integers(9, 64)), draw(st.integers(5, 64)))
    else:
        params = {"vec": draw(st.sampled_from([1, 4, 8])), "per_phase": 1,
                  "max_phase": draw(st.sampled_from([1, 8])), "order": [1, 0]}
        shape = (draw(st.integers(1, 64)), draw(st.integers(1, 64)))
    return kind, params, shape


def brute(g: GuardedLayout) -> dict[tuple[int, ...], bool]:
    """Validity of every input tuple, one ``apply`` per slot."""
    ll = g.layout
    ranges = [range(ll.get_in_dim_size(d)) for d in ll.in_dims]
    ok = {}
    for x in itertools.product(*ranges):
        out = ll.apply(dict(zip(ll.in_dims, x, strict=True)))
        ok[x] = all(out[d] < v for d, v in zip(ll.out_dims, g.valid_shape, strict=True))
    return ok


@settings(max_examples=60, deadline=None)
@given(guarded_cases())
def test_guard_counts_match_brute_force(case: tuple[str, dict, tuple[int, ...]]) -> None:
    kind, params, shape = case
    g = build(kind, params, shape)
    if all(s & (s - 1) == 0 for s in shape):
        assert isinstance(g, LinearLayout)
        return
    assert isinstance(g, GuardedLayout)
    assert g.padded_shape == tuple(next_pow2(s) for s in shape)
    ok = brute(g)
    ins = list(g.layout.in_dims)
    masked = sum(not v for v in ok.values())
    assert g.num_masked() == masked and g.num_valid() == len(ok) - masked
    assert g.masked_bytes(16) == masked * 2
    assert g.waste_fraction() == pytest.approx(masked / len(ok))
    first = ins[0]
    per = np.zeros(g.layout.get_in_dim_size(first), dtype=int)
    for x, v in ok.items():
        per[x[0]] += not v
    np.testing.assert_array_equal(g.masked_per(first), per)
    if "lane" in ins and "warp" in ins:
        li, wi, ri = ins.index("lane"), ins.index("warp"), ins.index("register")
        lanes = np.zeros(g.layout.get_in_dim_size("warp"), dtype=int)
        for x, v in ok.items():
            if x[ri] == 0 and all(x[k] == 0 for k in range(len(ins)) if k not in (li, wi, ri)):
                lanes[x[wi]] += not v
        np.testing.assert_array_equal(g.masked_lanes_per_warp(), lanes)
    # every valid tensor element is held by some slot; no masked slot maps inside the shape
    held = {tuple(g.layout.apply(dict(zip(ins, x, strict=True))).values()) for x, v in ok.items() if v}
    if g.layout.is_surjective():
        assert len(held) == int(np.prod(shape))


def test_guard_example_and_errors() -> None:
    g = build("blocked", {"size_per_thread": [1, 4], "threads_per_warp": [4, 8], "warps_per_cta": [4, 1],
                          "order": [1, 0]}, (50, 20))
    assert isinstance(g, GuardedLayout) and g.padded_shape == (64, 32)
    # dim1: 32 columns, 20 valid -> 12 of 32 columns masked; dim0: 14 of 64 rows masked
    assert g.num_masked() == 64 * 32 - 50 * 20
    assert g.fully_masked("warp").sum() == 0
    assert g.is_valid({"register": 0, "lane": 0, "warp": 0, "block": 0}) is not False
    with pytest.raises(ValueError):
        build("blocked", {"size_per_thread": [1], "threads_per_warp": [32], "warps_per_cta": [1],
                          "order": [0]}, (0,))
    with pytest.raises(ValueError):
        GuardedLayout(LinearLayout.identity_1d(8, "register", "dim0"), (9,))


def test_guard_detects_wrong_count() -> None:
    g = build("blocked", {"size_per_thread": [2], "threads_per_warp": [32], "warps_per_cta": [2],
                          "order": [0]}, (100,))
    assert isinstance(g, GuardedLayout)
    assert g.num_masked() == 128 - 100 and g.num_masked() != 128 - 99
    np.testing.assert_array_equal(g.masked_lanes_per_warp(), [0, 14])
