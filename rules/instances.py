"""Random instances for the rule checks: layouts, shared encodings, shapes and global memory, by seed.

Everything is drawn from a `numpy.random.Generator`, so `check(seed)` is reproducible. Shapes include
non-powers of two (the tile is padded and guarded as Triton does); register layouts are random blocked
encodings (any order, any split of lanes and warps, sizePerThread vectors) or random `#ttg.linear` ones
(a random invertible mix of the coordinate bits over registers, lanes and warps); shared encodings are
random swizzled, padded and (for 16-bit types) nvmma encodings.
"""

from __future__ import annotations

import numpy as np

from eqsat.egraph.interpret import GlobalAccess, padded, ty_text

DTYPES = ("f16", "f32", "i32")
ELEM_BYTES = {"f16": 2, "bf16": 2, "f32": 4, "i32": 4, "i8": 1, "i64": 8, "f64": 8, "i16": 2}


def _split(total_log: int, parts: int, rng: np.random.Generator) -> list[int]:
    """Random powers of two with product 2**total_log over `parts` dims."""
    out = [0] * parts
    for _ in range(total_log):
        out[int(rng.integers(parts))] += 1
    return [1 << e for e in out]


def random_shape(rng: np.random.Generator, rank: int = 2, pow2: bool | None = None) -> tuple[int, ...]:
    """A tile shape; about a third of them have a non-power-of-two extent."""
    if pow2 is None:
        pow2 = bool(rng.random() < 0.65)
    dims = []
    for _ in range(rank):
        p = 1 << int(rng.integers(1, 7 - rank + 1))
        if not pow2 and rng.random() < 0.6:
            p = int(rng.integers(max(2, p // 2 + 1), p + 1))
        dims.append(max(2, p))
    return tuple(dims)


def _list(xs: list[int] | tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(x)) for x in xs) + "]"


def random_blocked(rng: np.random.Generator, rank: int, num_warps: int = 4, warp_size: int = 32) -> str:
    spt = [1 << int(rng.integers(0, 3)) for _ in range(rank)]
    tpw = _split(warp_size.bit_length() - 1, rank, rng)
    wpc = _split(num_warps.bit_length() - 1, rank, rng)
    order = list(rng.permutation(rank))
    return (f"#ttg.blocked<{{sizePerThread = {_list(spt)}, threadsPerWarp = {_list(tpw)}, "
            f"warpsPerCTA = {_list(wpc)}, order = {_list(order)}}}>")


def random_linear(rng: np.random.Generator, shape: tuple[int, ...], num_warps: int = 4,
                  warp_size: int = 32) -> str:
    """A surjective `#ttg.linear` layout of the padded shape: the coordinate bits shuffled over
    register, lane and warp bits, some XOR-mixed, extra hardware bits broadcasting (zero bases)."""
    pshape = padded(shape)
    coord_bits = [(d, k) for d, s in enumerate(pshape) for k in range(s.bit_length() - 1)]
    order = list(rng.permutation(len(coord_bits)))
    vectors = []
    for i in order:
        d, k = coord_bits[i]
        v = [0] * len(pshape)
        v[d] = 1 << k
        vectors.append(v)
    # XOR-mix: each vector may absorb an earlier one (keeps the set independent)
    for i in range(1, len(vectors)):
        if rng.random() < 0.3:
            j = int(rng.integers(i))
            vectors[i] = [a ^ b for a, b in zip(vectors[i], vectors[j], strict=True)]
    n_lane, n_warp = warp_size.bit_length() - 1, num_warps.bit_length() - 1
    zero = [0] * len(pshape)
    slots: dict[str, list[list[int]]] = {"register": [], "lane": [], "warp": []}
    want = {"lane": n_lane, "warp": n_warp}
    for v in vectors:
        open_dims = [d for d in ("register", "lane", "warp") if d == "register" or len(slots[d]) < want[d]]
        slots[open_dims[int(rng.integers(len(open_dims)))]].append(v)
    for d in ("lane", "warp"):
        while len(slots[d]) < want[d]:
            slots[d].insert(int(rng.integers(len(slots[d]) + 1)), zero)

    def bases(vs: list[list[int]]) -> str:
        return "[" + ", ".join(_list(v) for v in vs) + "]"

    return (f"#ttg.linear<{{register = {bases(slots['register'])}, lane = {bases(slots['lane'])}, "
            f"warp = {bases(slots['warp'])}, block = []}}>")


def random_layout(rng: np.random.Generator, shape: tuple[int, ...], num_warps: int = 4,
                  warp_size: int = 32) -> str:
    if rng.random() < 0.7:
        return random_blocked(rng, len(shape), num_warps, warp_size)
    return random_linear(rng, shape, num_warps, warp_size)


def random_swizzled(rng: np.random.Generator, rank: int) -> str:
    vec = 1 << int(rng.integers(0, 4))
    per_phase = 1 << int(rng.integers(0, 3))
    max_phase = 1 << int(rng.integers(0, 4))
    order = list(rng.permutation(rank))
    return (f"#ttg.swizzled_shared<{{vec = {vec}, perPhase = {per_phase}, maxPhase = {max_phase}, "
            f"order = {_list(order)}}}>")


def random_padded(rng: np.random.Generator, shape: tuple[int, ...]) -> str:
    pshape = padded(shape)
    interval = 1 << int(rng.integers(2, 7))
    pad = 1 << int(rng.integers(0, 3))
    order = list(rng.permutation(len(shape)))
    return f"#ttg.padded_shared<[{interval}:+{pad}] {{order = {_list(order)}, shape = {_list(pshape)}}}>"


def random_shared(rng: np.random.Generator, shape: tuple[int, ...]) -> str:
    if rng.random() < 0.3:
        return random_padded(rng, shape)
    return random_swizzled(rng, len(shape))


def random_ty(rng: np.random.Generator, shape: tuple[int, ...]) -> str:
    return ty_text(shape, DTYPES[int(rng.integers(len(DTYPES)))])


def random_global(rng: np.random.Generator, shape: tuple[int, ...], *, masked: bool = True,
                  mask_axis: int | None = None) -> GlobalAccess:
    """A row-major global tile (random leading stride >= row length) with a guard on the valid shape and,
    when `masked`, a random bound along `mask_axis` (or along a random axis) on top."""
    pshape = padded(shape)
    rank = len(shape)
    strides = [1] * rank
    for d in range(rank - 2, -1, -1):
        strides[d] = strides[d + 1] * (int(shape[d + 1]) + int(rng.integers(0, 5)))
    grid = np.indices(pshape)
    address = sum(grid[d] * strides[d] for d in range(rank)).astype(np.int64)
    mask = np.ones(pshape, dtype=bool)
    for d in range(rank):
        mask &= grid[d] < shape[d]
    if masked:
        axis = int(rng.integers(rank)) if mask_axis is None else mask_axis
        bound = int(rng.integers(1, shape[axis] + 1))
        mask &= grid[axis] < bound
    size = int(address[mask].max()) + 1 if mask.any() else 1
    memory = rng.standard_normal(size + int(rng.integers(0, 9))).round(3)
    return GlobalAccess(memory=memory, address=address, mask=mask, other=float(rng.integers(-3, 4)))


def mask_free_of(access: GlobalAccess, axis: int) -> bool:
    """True when the mask of a global access is constant along `axis` (the gathered axis)."""
    first = np.take(access.mask, [0], axis=axis)
    return bool((access.mask == first).all())


def linear_text_of(text: str, shape: tuple[int, ...]) -> str:
    """The same register layout as `text`, written as a `#ttg.linear` encoding (an F2-equal map)."""
    from eqsat.egraph.interpret import _pow2_layout

    ll = _pow2_layout(text, tuple(shape))

    def bases(dim: str) -> str:
        bs = ll.in_bases(dim) if ll.has_in_dim(dim) else ()
        return "[" + ", ".join(_list(b) for b in bs) + "]"

    return (f"#ttg.linear<{{register = {bases('register')}, lane = {bases('lane')}, warp = {bases('warp')}, "
            f"block = {bases('block')}}}>")


def layouts_equal(a: str, b: str, shape: tuple[int, ...]) -> bool:
    """a and b are the same F2 map on a tile of `shape` (False when either cannot be built)."""
    from eqsat.egraph.interpret import InterpretError, slot_coords

    if a == b:
        return True
    try:
        return bool(np.array_equal(slot_coords(a, tuple(shape)), slot_coords(b, tuple(shape))))
    except (InterpretError, ValueError, KeyError):
        return False
