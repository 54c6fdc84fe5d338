"""Shared-memory encodings against element-wise reference definitions.

Triton 3.6 exposes no working conversion of shared encodings to linear layouts from Python
(``GluonOpBuilder.to_linear_layout`` aborts on the ``offset`` in-dim), so each encoding is checked
against its defining formula evaluated offset by offset -- an independent statement of the
swizzle, not the basis construction the implementation uses.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from eqsat.layout import (
    LinearLayout,
    amd_rotating_shared,
    build,
    nvmma_shared,
    padded_shared,
    shared_linear,
    swizzled_shared,
)


def offsets_to_index(ll: LinearLayout) -> np.ndarray:
    assert ll.in_dims == ("offset", "block") and ll.get_in_dim_size("block") == 1
    return ll.apply_all()


def ref_swizzled(shape, vec, per_phase, max_phase, order, rotating=False) -> np.ndarray:
    """offset -> index: outer dims stacked in ``order``; in a row, the stored column ``p`` holds
    logical column ``p ^ (vec * phase(row)) mod C``."""
    rank = len(shape)
    n = int(np.prod(shape))
    out = np.zeros((n, rank), dtype=np.int64)
    if rank == 1:
        out[:, 0] = np.arange(n)
        return out
    col_d, row_d = order[0], order[1]
    cols, rows = shape[col_d], shape[row_d]
    for off in range(n):
        p = off % cols
        r = (off // cols) % rows
        rest = off // (cols * rows)
        phase = (r // per_phase) % max_phase
        if rotating:
            phase ^= (r // per_phase // max_phase) % max_phase
        out[off, col_d] = p ^ ((vec * phase) % cols)
        out[off, row_d] = r
        for d in order[2:]:
            out[off, d] = rest % shape[d]
            rest //= shape[d]
    return out


def ref_nvmma(shape, swizzle_bytes, bits, transposed) -> np.ndarray:
    """wgmma/TMA swizzle: the contiguous dim is cut into chunks of ``8*swizzle_bytes/bits``
    elements; a chunk is stored for all rows before the next; inside a row of a chunk the 16-byte
    unit ``u`` holds unit ``u ^ ((row % 8) / perPhase)``.  Transposed: dim0 is contiguous.
    Without swizzling Triton 3.6 ignores ``transposed`` (plain row-major)."""
    transposed = transposed and swizzle_bytes != 0
    if transposed:
        shape = [shape[-1]] + list(shape[:-1])
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    width = 8 * swizzle_bytes // bits if swizzle_bytes else cols
    unit = 128 // bits
    per_phase = 128 // swizzle_bytes if swizzle_bytes else 1
    max_phase = swizzle_bytes // 16 if swizzle_bytes else 1
    n = rows * cols
    out = np.zeros((n, len(shape)), dtype=np.int64)
    for off in range(n):
        p = off % width
        r = (off // width) % rows
        chunk = off // (width * rows)
        phase = ((r % 8) // per_phase) % max_phase
        c = chunk * width + (((p // unit) ^ phase) * unit + p % unit)
        idx = []
        rr = r
        for s in reversed(shape[:-1]):
            idx.append(rr % s)
            rr //= s
        out[off] = list(reversed(idx)) + [c]
    if transposed:
        out = np.concatenate([out[:, 1:], out[:, :1]], axis=1)
    return out


def _rand_shape(rng: random.Random, rank: int, lo: int = 0, hi: int = 7) -> list[int]:
    return [1 << rng.randint(lo, hi) for _ in range(rank)]


def test_swizzled_and_rotating_against_definition() -> None:
    rng = random.Random(11)
    n = 0
    for _ in range(150):
        rank = rng.randint(1, 3)
        shape = _rand_shape(rng, rank, 0, 6)
        order = list(range(rank))
        rng.shuffle(order)
        vec, per_phase = rng.choice([1, 2, 4, 8]), rng.choice([1, 2, 4])
        max_phase = rng.choice([1, 2, 4, 8, 16])
        for rotating, fn in ((False, swizzled_shared), (True, amd_rotating_shared)):
            ll = fn(vec, per_phase, max_phase, order, shape=shape)
            ref = ref_swizzled(shape, vec, per_phase, max_phase, order, rotating)
            np.testing.assert_array_equal(offsets_to_index(ll), ref, err_msg=f"{fn.__name__} {shape} {order}")
            assert ll.is_invertible()
            n += 1
    assert n == 300


def test_nvmma_against_definition() -> None:
    rng = random.Random(12)
    n = 0
    while n < 120:
        bits = rng.choice([8, 16, 32])
        sw = rng.choice([0, 32, 64, 128])
        transposed = rng.random() < 0.4
        rank = rng.choice([2, 2, 3])
        shape = [1 << rng.randint(0, 2)] * (rank - 2) + _rand_shape(rng, 2, 3, 8)
        contig = shape[0] if transposed else shape[-1]
        if sw and contig * bits < 8 * sw:
            with pytest.raises(ValueError):
                nvmma_shared(sw, transposed, bits, shape=shape)
            continue
        if sw and (int(np.prod(shape)) // contig) < 8:
            continue
        if int(np.prod(shape)) > 1 << 14:
            continue
        if transposed and rank == 3:
            continue  # the definition above only covers 2-D transposition
        ll = nvmma_shared(sw, transposed, bits, shape=shape)
        ref = ref_nvmma(shape, sw, bits, transposed)
        np.testing.assert_array_equal(offsets_to_index(ll), ref, err_msg=f"{sw} {bits} {transposed} {shape}")
        n += 1


def test_nvmma_known_bases() -> None:
    ll = nvmma_shared(128, False, 16, shape=(64, 64))
    assert ll.bases["offset"][:9] == [[0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [0, 32],
                                      [1, 8], [2, 16], [4, 32]]
    assert ll.is_invertible()


def test_shared_linear() -> None:
    ll = shared_linear([[0, 1], [0, 2], [1, 0]], shape=(2, 4))
    assert ll.apply({"offset": 5}) == {"dim0": 1, "dim1": 1}
    assert build("shared_linear", {"offset": [[0, 1], [0, 2], [1, 0]]}, (2, 4)) == ll


def test_padded_shared_docstring_examples() -> None:
    """Gluon's PaddedSharedLayout documentation examples."""
    p = padded_shared([[2, 2]], shape=(8,), offset_bases=[[2], [1], [4]])
    # [x0, x2, p0 p1, x1, x3, ...]
    phys = {p.offset_of((x,)): x for x in range(8)}
    assert [phys.get(i) for i in range(6)] == [0, 2, None, None, 1, 3]
    q = padded_shared([[8, 1]], shape=(8, 4), offset_bases=[[0, 1], [0, 2], [2, 0], [4, 0], [1, 0]])
    assert q.offset_of((2, 0)) == 4 and q.offset_of((4, 0)) == 9 and q.offset_of((1, 0)) == 18
    r = padded_shared([[2, 1], [4, 2]], [0], shape=(8,))
    # [e0, e1, p0, e2, e3, p1, p2, p3, e4, ...]
    assert [r.offset_of((i,)) for i in range(5)] == [0, 1, 3, 4, 8]
    assert r.alloc_elements() == 8 + (7 // 2) * 1 + (7 // 4) * 2  # no trailing pad after the last


def test_padded_shared_brute_force() -> None:
    rng = random.Random(13)
    for _ in range(100):
        shape = _rand_shape(rng, 2, 0, 5)
        order = rng.choice([[1, 0], [0, 1]])
        pairs = [[1 << k, 1 << rng.randint(0, 3)] for k in rng.sample(range(0, 7), rng.randint(1, 2))]
        p = padded_shared(pairs, order, shape=shape)
        n = shape[0] * shape[1]
        # walk memory element by element, inserting pads after every interval
        phys = []
        pos = 0
        for logical in range(n):
            phys.append(pos)
            pos += 1
            for interval, pad in pairs:
                if (logical + 1) % interval == 0:
                    pos += pad
        np.testing.assert_array_equal(p.offsets_all(), phys)
        for _ in range(5):
            idx = (rng.randrange(shape[0]), rng.randrange(shape[1]))
            logical = idx[order[1]] * shape[order[0]] + idx[order[0]]
            assert p.offset_of(idx) == phys[logical]


def test_perturbed_swizzle_is_detected() -> None:
    ll = swizzled_shared(8, 1, 8, [1, 0], shape=(32, 64))
    ref = ref_swizzled([32, 64], 8, 1, 8, [1, 0])
    wrong = ref_swizzled([32, 64], 8, 2, 8, [1, 0])
    assert (offsets_to_index(ll) == ref).all() and not (offsets_to_index(ll) == wrong).all()
