"""Seeded random (register layout, shared layout, shape, dtype) cases for the bank-model tests.

Cases are plain data in the form `bank_oracle` reads (see its docstring): register layouts blocked,
linear (random permutations of the index bits, some broadcasting a lane), nvidia_mma v2/v3 and dot
operands of mma v2; shared layouts swizzled, nvmma (all swizzle widths, transposed or not), shared_linear
(random bijections, some XOR-mixed) and padded. Shapes are powers of two (Triton's layouts need them);
`non_pow2_cases` gives tiles with other extents. Register linear layouts use unit bases only: Triton's
LinearEncodingAttr verifier aborts on XOR-mixed ones.

`family_cases(seed, n, families)` draws from named families (each case carries its `family`):

    base           random_case: every register x shared kind above, i8/f16/f32/f64, rank 2 and 3
    swizzled_vec1  swizzled_shared with vec = 1 (any perPhase/maxPhase/order), every element size
    subword        i8/f16/bf16 with every shared kind, swizzled vec 1-16
    eight_byte     f64/i64 with every shared kind
    padded         padded_shared, one or two (interval, pad) pairs (Triton 3.6 gives no bank count)
    non_pow2       tiles with an extent that is not a power of two (Triton 3.6 gives no bank count)

`GLUON_FAMILIES` are the first four: Triton 3.6's `bank_conflicts` counts them.
"""

from __future__ import annotations

import random
from typing import Any

DTYPES = ("i8", "f16", "f32", "f64")
BITS = {"i8": 8, "f16": 16, "bf16": 16, "f32": 32, "f64": 64, "i64": 64}
SUBWORD = ("i8", "f16", "bf16")
EIGHT_BYTE = ("f64", "i64")
FAMILIES = ("base", "swizzled_vec1", "subword", "eight_byte", "padded", "non_pow2")
GLUON_FAMILIES = FAMILIES[:4]


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """A random factorisation of the power of two `total` into `parts` powers of two."""
    out = [1] * parts
    while total > 1:
        out[rng.randrange(parts)] *= 2
        total //= 2
    return out


def _units(shape: list[int]) -> list[list[int]]:
    units = []
    for d, n in enumerate(shape):
        k = 1
        while k < n:
            units.append([k if j == d else 0 for j in range(len(shape))])
            k *= 2
    return units


def _xor(a: list[int], b: list[int]) -> list[int]:
    return [x ^ y for x, y in zip(a, b, strict=True)]


def _mix(rng: random.Random, bases: list[list[int]], times: int) -> list[list[int]]:
    """Elementary row operations b_i ^= b_j: keeps the map a bijection, makes bases non-unit."""
    bases = [list(b) for b in bases]
    for _ in range(times):
        if len(bases) < 2:
            break
        i, j = rng.sample(range(len(bases)), 2)
        bases[i] = _xor(bases[i], bases[j])
    return bases


def _blocked(rng: random.Random, shape: list[int], warps: int) -> dict[str, Any]:
    rank = len(shape)
    spt = _split(rng, rng.choice([1, 2, 4, 8, 16]), rank)
    return {"kind": "blocked", "spt": spt, "tpw": _split(rng, 32, rank), "wpc": _split(rng, warps, rank),
            "order": rng.sample(range(rank), rank)}


def _linear(rng: random.Random, shape: list[int], warps: int) -> dict[str, Any]:
    units = _units(shape)
    rng.shuffle(units)  # Triton's LinearEncodingAttr verifier rejects non-unit (XOR-mixed) bases
    zero = [0] * len(shape)
    nlane, nwarp = 5, warps.bit_length() - 1
    lane = units[:nlane]
    warp = units[nlane:nlane + nwarp]
    reg = units[nlane + nwarp:]
    lane += [zero] * (nlane - len(lane))
    warp += [zero] * (nwarp - len(warp))
    if rng.random() < 0.2 and reg:  # broadcast one lane bit, the element moves to a register
        i = rng.randrange(nlane)
        if lane[i] != zero:
            reg.append(lane[i])
            lane[i] = zero
    return {"kind": "linear", "register": reg, "lane": lane, "warp": warp}


def _mma(rng: random.Random, shape: list[int], warps: int) -> dict[str, Any]:
    if rng.random() < 0.5 and warps >= 4:
        n = rng.choice([n for n in (8, 16, 32, 64, 128, 256) if n <= max(8, shape[1])])
        return {"kind": "nvidia_mma", "version": [3, 0], "wpc": [warps, 1], "instr": [16, n, 16]}
    return {"kind": "nvidia_mma", "version": [2, 0], "wpc": _split(rng, warps, 2), "instr": [16, 8]}


def _swizzled(rng: random.Random, shape: list[int]) -> dict[str, Any]:
    rank = len(shape)
    return {"kind": "swizzled_shared", "vec": rng.choice([1, 2, 4, 8, 16]), "per_phase": rng.choice([1, 2, 4, 8]),
            "max_phase": rng.choice([1, 2, 4, 8, 16]), "order": rng.sample(range(rank), rank)}


def _nvmma(rng: random.Random, shape: list[int], dtype: str) -> dict[str, Any]:
    transposed = rng.random() < 0.3
    contig = shape[0] if transposed else shape[-1]
    swizzle = rng.choice([0, 32, 64, 128])
    while swizzle and contig * BITS[dtype] // 8 < swizzle:
        swizzle //= 2
        swizzle = 0 if swizzle < 32 else swizzle
    return {"kind": "nvmma_shared", "swizzle": swizzle, "transposed": transposed, "bits": BITS[dtype]}


def _shared_linear(rng: random.Random, shape: list[int]) -> dict[str, Any]:
    units = _units(shape)
    if rng.random() < 0.5:  # mostly row-like: keep some of the identity order, shuffle the rest
        k = rng.randrange(len(units) + 1)
        tail = units[k:]
        rng.shuffle(tail)
        units = units[:k] + tail
    else:
        rng.shuffle(units)
    if rng.random() < 0.4:
        units = _mix(rng, units, rng.randint(1, 4))
    return {"kind": "shared_linear", "offset": units}


def _shape(rng: random.Random, rank: int) -> list[int]:
    while True:
        shape = [rng.choice([2, 4, 8, 16, 32, 64, 128, 256]) for _ in range(rank)]
        numel = 1
        for s in shape:
            numel *= s
        if 128 <= numel <= 16384:
            return shape


def _register(rng: random.Random, shape: list[int], dtype: str, warps: int) -> dict[str, Any]:
    rank = len(shape)
    r = rng.random()
    if rank == 2 and r < 0.15:
        return _mma(rng, shape, warps)
    if rank == 2 and r < 0.22 and BITS[dtype] < 64:
        parent = {"kind": "nvidia_mma", "version": [2, 0], "wpc": _split(rng, warps, 2), "instr": [16, 8]}
        return {"kind": "dot_operand", "op_idx": rng.choice([0, 1]), "parent": parent,
                "k_width": max(1, 32 // BITS[dtype])}
    if r < 0.6:
        return _blocked(rng, shape, warps)
    return _linear(rng, shape, warps)


def _shared(rng: random.Random, shape: list[int], dtype: str) -> dict[str, Any]:
    s = rng.random()
    if len(shape) == 2 and s < 0.3 and min(shape) >= 8:  # nvmma needs 8 rows ("Illegal shared layout")
        return _nvmma(rng, shape, dtype)
    if s < 0.65:
        return _swizzled(rng, shape)
    return _shared_linear(rng, shape)


def random_case(rng: random.Random, dtypes: tuple[str, ...] = DTYPES) -> dict[str, Any]:
    rank = 3 if rng.random() < 0.12 else 2
    shape = _shape(rng, rank)
    warps = rng.choice([1, 2, 4, 8])
    dtype = rng.choice(dtypes)
    reg = _register(rng, shape, dtype, warps)
    smem = _shared(rng, shape, dtype)
    return {"reg": reg, "smem": smem, "shape": shape, "dtype": dtype}


def _padded_smem(rng: random.Random, shape: list[int]) -> dict[str, Any]:
    numel = 1
    for s in shape:
        numel *= s
    intervals = rng.sample([i for i in (4, 8, 16, 32, 64, 128, 256) if i <= numel], rng.choice([1, 1, 2]))
    return {"kind": "padded_shared", "order": rng.sample(range(len(shape)), len(shape)),
            "pairs": [[i, rng.choice([1, 2, 4, 8, 16])] for i in sorted(intervals)]}


def family_case(rng: random.Random, family: str) -> dict[str, Any]:
    """One case of `family` (see the module docstring), tagged with it."""
    if family == "base":
        case = random_case(rng)
    elif family == "swizzled_vec1":
        case = random_case(rng, SUBWORD + ("f32",) + EIGHT_BYTE)
        case["smem"] = dict(_swizzled(rng, case["shape"]), vec=1)
    elif family == "subword":
        case = random_case(rng, SUBWORD)
    elif family == "eight_byte":
        case = random_case(rng, EIGHT_BYTE)
    elif family == "padded":
        shape = _shape(rng, 2)
        dtype = rng.choice(DTYPES + ("bf16", "i64"))
        reg = _register(rng, shape, dtype, rng.choice([1, 2, 4, 8]))
        case = {"reg": reg, "smem": _padded_smem(rng, shape), "shape": shape, "dtype": dtype}
    elif family == "non_pow2":
        case = non_pow2_cases(rng.randrange(1 << 30), 1)[0]
    else:
        raise ValueError(f"unknown case family {family!r}")
    case["family"] = family
    return case


def family_cases(seed: int, n: int, families: tuple[str, ...] = FAMILIES) -> list[dict[str, Any]]:
    """`n` cases, the families taken in turn, each drawn from one seeded generator."""
    rng = random.Random(seed)
    return [family_case(rng, families[i % len(families)]) for i in range(n)]


def random_cases(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [random_case(rng) for _ in range(n)]


def non_pow2_cases(seed: int, n: int) -> list[dict[str, Any]]:
    """Blocked register layouts over tiles with non-power-of-two extents, swizzled or padded shared."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        shape = [rng.choice([3, 5, 12, 24, 48, 80, 100, 16, 64]) for _ in range(2)]
        if all(s & (s - 1) == 0 for s in shape):
            shape[0] = 48
        pow2 = [1 << (s - 1).bit_length() for s in shape]
        dtype = rng.choice(DTYPES)
        reg = _blocked(rng, pow2, rng.choice([1, 2, 4]))
        if rng.random() < 0.5:
            smem = _swizzled(rng, pow2)
        else:
            smem = {"kind": "padded_shared", "order": rng.sample(range(2), 2),
                    "pairs": [[rng.choice([8, 16, 32, 64, 128]), rng.choice([1, 2, 4, 8])]]}
        out.append({"reg": reg, "smem": smem, "shape": shape, "dtype": dtype})
    return out
