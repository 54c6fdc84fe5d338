"""The reference interpreter against independent oracles: brute-force redistribution, libtriton's
invert_and_compose, torch.gather, and a per-element shared-memory simulation (random layouts and shapes,
non-powers of two included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eqsat.rules.instances import random_global, random_layout, random_shape, random_shared
from layout_oracle import from_triton, to_triton

from eqsat.egraph.interpret import (
    Env,
    GlobalAccess,
    Interpreter,
    InterpretError,
    Term,
    _pow2_layout,
    difference,
    padded,
    parse_term,
    slot_coords,
    ty_text,
)
from eqsat.egraph.terms import Layout, SharedEnc, Tile

SEEDS = range(25)


def _load(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Env, np.ndarray]:
    acc = random_global(rng, shape)
    env = Env(loads={0: acc})
    logical = np.where(acc.mask, acc.memory[np.clip(acc.address, 0, acc.memory.size - 1)], acc.other)
    return env, logical


@pytest.mark.parametrize("seed", SEEDS)
def test_convert_is_brute_force_redistribution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 3)))
    ty = ty_text(shape, "f32")
    a, b = random_layout(rng, shape), random_layout(rng, shape)
    env, logical = _load(rng, shape)
    got = Interpreter(env)(Tile.load(0, Layout(a), ty).convert(Layout(a), Layout(b), ty))
    # oracle: every destination slot holds the logical element at its coordinate
    coords = slot_coords(b, shape)
    want = logical[tuple(coords.T)]
    valid = got.slot_valid()
    np.testing.assert_array_equal(got.dist[valid], want[valid])


@pytest.mark.parametrize("seed", SEEDS)
def test_conversion_map_matches_libtriton(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 2, pow2=True)
    a, b = (_pow2_layout(random_layout(rng, shape), shape) for _ in range(2))
    ours = b.invert_and_compose(a)
    theirs = from_triton(to_triton(b).invert_and_compose(to_triton(a)))
    assert ours.apply_all().tolist() == theirs.apply_all().tolist()


@pytest.mark.parametrize("seed", SEEDS)
def test_gather_matches_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 3))
    src_shape = random_shape(rng, rank)
    axis = int(rng.integers(rank))
    idx_shape = list(src_shape)
    idx_shape[axis] = random_shape(rng, 1)[0]
    env, logical = _load(rng, src_shape)
    index = rng.integers(0, src_shape[axis], size=padded(tuple(idx_shape)))
    env.loads[1] = GlobalAccess(index.astype(np.float64).reshape(-1), np.arange(index.size).reshape(index.shape),
                                np.ones(index.shape, dtype=bool))
    la, li = random_layout(rng, src_shape), random_layout(rng, tuple(idx_shape))
    term = Tile.gather(Tile.load(0, Layout(la), ty_text(src_shape, "f32")),
                       Tile.load(1, Layout(li), ty_text(tuple(idx_shape), "i32")), axis, Layout(li),
                       ty_text(tuple(idx_shape), "f32"))
    got = Interpreter(env)(term).logical()
    sl = tuple(slice(0, s) for s in idx_shape)
    src_sl = tuple(slice(0, s) for s in src_shape)
    want = torch.gather(torch.from_numpy(logical[src_sl]), axis, torch.from_numpy(index[sl])).numpy()
    np.testing.assert_array_equal(got[sl], want)


@pytest.mark.parametrize("seed", SEEDS)
def test_via_shared_equals_convert_for_bijective_encodings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 3)))
    ty = ty_text(shape, "f16")
    a, b, enc = random_layout(rng, shape), random_layout(rng, shape), random_shared(rng, shape)
    env, _ = _load(rng, shape)
    interp = Interpreter(env)
    leaf = Tile.load(0, Layout(a), ty)
    assert difference(interp(leaf.convert(Layout(a), Layout(b), ty)),
                      interp(leaf.via_shared(Layout(a), SharedEnc(enc), Layout(b), ty))) is None


def test_non_bijective_encoding_loses_elements() -> None:
    rng = np.random.default_rng(1)
    shape = (8, 8)
    ty = ty_text(shape, "f32")
    a = random_layout(rng, shape)
    bad = "#ttg.shared_linear<{offset = [[0, 1], [0, 2], [0, 4], [1, 0], [2, 0], [2, 0]]}, alignment = 16>"
    env, _ = _load(rng, shape)
    with pytest.raises(InterpretError, match="no address"):
        Interpreter(env)(Tile.load(0, Layout(a), ty).via_shared(Layout(a), SharedEnc(bad), Layout(a), ty))


def test_layout_mismatch_is_an_error() -> None:
    rng = np.random.default_rng(2)
    shape = (16, 16)
    ty = ty_text(shape, "f32")
    a, b = (random_layout(rng, shape) for _ in range(2))
    env, _ = _load(rng, shape)
    with pytest.raises(InterpretError, match="input held in"):
        Interpreter(env)(Tile.load(0, Layout(a), ty).convert(Layout(b), Layout(a), ty))


def test_parse_term_reads_egglog_let_bindings() -> None:
    text = '_Layout_1 = Layout("x")\nTile.load(0, _Layout_1, "4xf32").convert(\n    _Layout_1, _Layout_1, "4xf32"\n)'
    term = parse_term(text)
    assert isinstance(term, Term) and term.kind == "convert" and term.args[1] == "x"
    with pytest.raises(InterpretError):
        parse_term("__import__('os')")
