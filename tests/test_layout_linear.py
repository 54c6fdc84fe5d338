"""The LinearLayout algebra against libtriton's C++ ``LinearLayout`` on random layouts."""

from __future__ import annotations

import random

import numpy as np
import pytest
from layout_oracle import from_triton, to_triton

from eqsat.layout import LinearLayout, blocked

OUTS = ("dim0", "dim1")


def rand_layout(rng: random.Random, ins: dict[str, int], outs: dict[str, int]) -> LinearLayout:
    def comp(size: int) -> int:
        if size == 1 or rng.random() < 0.25:
            return 0
        if rng.random() < 0.6:
            return 1 << rng.randrange(size.bit_length() - 1)
        return rng.randrange(size)

    bases = {n: [tuple(comp(s) for s in outs.values()) for _ in range(k)] for n, k in ins.items()}
    return LinearLayout(bases, outs)


def rand_pair(rng: random.Random) -> LinearLayout:
    outs = {d: 1 << rng.randrange(0, 5) for d in OUTS}
    ins = {"register": rng.randrange(0, 5), "lane": rng.randrange(0, 4), "warp": rng.randrange(0, 3)}
    return rand_layout(rng, ins, outs)


N = 400


def rand_invertible(rng: random.Random) -> LinearLayout:
    """A random bijection: unit bases of the out space, mixed by XOR, shuffled over in-dims."""
    outs = {d: 1 << rng.randrange(0, 5) for d in OUTS}
    units = [tuple((1 << k) if j == d else 0 for j in range(2))
             for d, s in enumerate(outs.values()) for k in range(s.bit_length() - 1)]
    for _ in range(len(units)):
        if len(units) > 1:
            i, j = rng.sample(range(len(units)), 2)
            units[i] = tuple(x ^ y for x, y in zip(units[i], units[j], strict=True))
    rng.shuffle(units)
    cut = sorted(rng.randint(0, len(units)) for _ in range(2))
    parts = {"register": units[:cut[0]], "lane": units[cut[0]:cut[1]], "warp": units[cut[1]:]}
    return LinearLayout(parts, outs)


def test_invert_against_libtriton() -> None:
    rng = random.Random(6)
    for _ in range(150):
        a = rand_invertible(rng)
        assert a.is_invertible()
        inv = a.invert()
        assert from_triton(to_triton(a).invert()) == inv
        assert a.compose(inv).flatten_ins().flatten_outs().bases == \
            LinearLayout.identity_1d(a.total_in_size(), a.in_dims[0], a.in_dims[0]).bases


def test_roundtrip_apply_and_predicates() -> None:
    rng = random.Random(1)
    for _ in range(N):
        a = rand_pair(rng)
        t = to_triton(a)
        assert from_triton(t) == a
        assert (t.is_surjective(), t.is_injective(), t.is_invertible()) == (
            a.is_surjective(), a.is_injective(), a.is_invertible())
        allv = a.apply_all()
        for _ in range(4):
            inp = {n: rng.randrange(a.get_in_dim_size(n)) for n in a.in_dims}
            got = a.apply(inp)
            assert t.apply(inp) == got
            flat, shift = 0, 0
            for n in a.in_dims:
                flat |= inp[n] << shift
                shift += a.get_in_dim_size_log2(n)
            assert tuple(allv[flat]) == tuple(got[d] for d in a.out_dims)
        vec = a.apply_array({n: np.arange(a.get_in_dim_size(n)) if n == "lane" else 0 for n in a.in_dims})
        for lane in range(a.get_in_dim_size("lane")):
            assert vec["dim0"][lane] == a.apply({"lane": lane})["dim0"]


def test_compose_invert_pseudoinvert_against_libtriton() -> None:
    rng = random.Random(2)
    counts = {"compose": 0, "invert": 0, "pseudo_invert": 0}
    for _ in range(N):
        a = rand_pair(rng)
        t = to_triton(a)
        outer = rand_layout(rng, {d: a.get_out_dim_size_log2(d) + rng.randrange(0, 2) for d in OUTS},
                            {"x": 1 << rng.randrange(0, 6), "y": 1 << rng.randrange(0, 3)})
        assert from_triton(t.compose(to_triton(outer))) == a.compose(outer)
        counts["compose"] += 1
        if a.is_invertible():
            assert from_triton(t.invert()) == a.invert()
            counts["invert"] += 1
        if a.is_surjective():
            p = a.pseudo_invert()
            assert from_triton(t.pseudoinvert()) == p
            assert p.compose(a) == LinearLayout.identity_1d(a.get_out_dim_size("dim0"), "dim0", "dim0") * \
                LinearLayout.identity_1d(a.get_out_dim_size("dim1"), "dim1", "dim1")
            counts["pseudo_invert"] += 1
    assert counts["compose"] == N and counts["pseudo_invert"] >= 50, counts


def test_invert_and_compose_against_libtriton() -> None:
    rng = random.Random(3)
    done = 0
    for _ in range(3 * N):
        outs = {d: 1 << rng.randrange(0, 5) for d in OUTS}
        a = rand_layout(rng, {"register": rng.randrange(0, 5), "lane": rng.randrange(0, 4),
                              "warp": rng.randrange(0, 3)}, outs)
        if not a.is_surjective():
            continue
        b = rand_layout(rng, {"register": rng.randrange(0, 5), "lane": rng.randrange(0, 4),
                              "warp": rng.randrange(0, 3)}, outs)
        if rng.random() < 0.5:  # share an in-dim exactly: exercises the identity-dims heuristic
            bases = b.bases
            bases["lane"] = a.bases["lane"]
            b = LinearLayout(bases, outs)
        try:
            mine = b.invert_and_compose(a)
        except ValueError:
            continue  # libtriton would abort on this precondition failure
        assert from_triton(to_triton(b).invert_and_compose(to_triton(a))) == mine
        # the defining property: a(X(x)) == b(x)
        for _ in range(3):
            x = {n: rng.randrange(b.get_in_dim_size(n)) for n in b.in_dims}
            assert a.apply(mine.apply(x)) == b.apply(x)
        done += 1
    assert done >= 150, done


def test_perturbed_layout_is_detected() -> None:
    """The comparison can fail: flipping one basis bit changes libtriton's answer."""
    rng = random.Random(4)
    for _ in range(50):
        a = rand_pair(rng)
        names = [n for n in a.in_dims if a.get_in_dim_size(n) > 1]
        if not names or a.total_out_bits() == 0:
            continue
        n = rng.choice(names)
        bases = a.bases
        i = rng.randrange(len(bases[n]))
        j = rng.randrange(2)
        if a.get_out_dim_size(OUTS[j]) == 1:
            continue
        bases[n][i][j] ^= 1
        b = LinearLayout(bases, a.out_dim_sizes)
        assert b != a and hash(b) != hash(a) or b != a
        x = {m: 0 for m in a.in_dims} | {n: 1 << i}  # libtriton needs every in-dim
        assert to_triton(b).apply(x) != a.apply(x)


def test_free_variables_brute_force() -> None:
    rng = random.Random(5)
    for _ in range(200):
        a = rand_pair(rng)
        masks = a.free_variable_masks()
        col = 0
        allv = a.apply_all_flat()
        # a column is free iff its basis is in the span of the earlier columns
        seen = {0}
        for n in a.in_dims:
            for i in range(a.get_in_dim_size_log2(n)):
                v = int(allv[1 << col])
                assert bool(masks[n] >> i & 1) == (v in seen)
                seen |= {s ^ v for s in seen}
                col += 1


def test_reshape_transpose_sublayout() -> None:
    ll = blocked([2, 4], [4, 8], [2, 2], [1, 0], shape=(32, 64))
    flat = ll.flatten_outs()
    assert flat.out_dims == ("dim0",) and flat.get_out_dim_size("dim0") == 32 * 64
    assert flat.reshape_outs([("dim0", 32), ("dim1", 64)]) == ll
    t = ll.transpose_outs(["dim1", "dim0"])
    assert t.apply({"lane": 5}) == ll.apply({"lane": 5})
    assert from_triton(to_triton(t)) == t
    sub = ll.sublayout(["lane"], ["dim1"])
    assert sub.in_dims == ("lane",) and sub.out_dims == ("dim1",)
    assert ll.flatten_ins().reshape_ins([(n, ll.get_in_dim_size(n)) for n in ll.in_dims]) == ll
    with pytest.raises(ValueError):
        ll.transpose_outs(["dim0"])


def test_contiguity_and_vector_width() -> None:
    ll = blocked([1, 8], [4, 8], [4, 1], [1, 0], shape=(64, 64))
    assert ll.contiguous_elements() == 8
    assert ll.largest_vector_width(16) == 8 and ll.largest_vector_width(32) == 4
    assert ll.largest_vector_width(8) == 8
    col = blocked([4, 1], [8, 4], [1, 4], [0, 1], shape=(64, 64))
    assert col.contiguous_elements() == 1 and col.contiguous_elements(fastest="dim0") == 4
    assert blocked([1, 1], [1, 32], [1, 1], [1, 0], shape=(1, 32)).contiguous_elements() == 1
    # registers past a lane stride don't extend the run
    ll2 = LinearLayout({"register": [(1,), (2,), (16,)], "lane": [(4,), (8,)]}, {"dim0": 32})
    assert ll2.contiguous_elements() == 4


def test_immutable_and_str() -> None:
    ll = LinearLayout.identity_1d(4, "lane", "dim0")
    with pytest.raises(AttributeError):
        ll._in = ()  # type: ignore[misc]
    s = str(ll)
    assert "lane=1 -> (1)" in s and "where out dims are: [dim0 (size 4)]" in s
    assert len({ll, LinearLayout.identity_1d(4, "lane", "dim0")}) == 1
