"""Random legal encodings + shapes for the layout oracle tests (one generator per encoding kind).

Each case is ``{"kind", "params", "shape"}`` in the JSON form ``layout_oracle.oracle_batch`` and
``eqsat.layout.guard.build`` both accept.  Parameters are drawn from the ranges Triton produces
for CUDA sm_90 and gfx942 (wave64).
"""

from __future__ import annotations

import random
from typing import Any

Case = dict[str, Any]


def _pow2(rng: random.Random, lo: int, hi: int) -> int:
    return 1 << rng.randint(lo, hi)


def _split(rng: random.Random, total_log2: int, rank: int) -> list[int]:
    """Random powers of two over ``rank`` dims whose product is ``2**total_log2``."""
    logs = [0] * rank
    for _ in range(total_log2):
        logs[rng.randrange(rank)] += 1
    return [1 << x for x in logs]


def _shape(rng: random.Random, rank: int, lo: int = 0, hi: int = 8, max_log2: int = 15) -> list[int]:
    while True:
        s = [_pow2(rng, lo, hi) for _ in range(rank)]
        if sum(x.bit_length() - 1 for x in s) <= max_log2:
            return s


def blocked_params(rng: random.Random, rank: int, warp_size: int = 32) -> dict[str, Any]:
    order = list(range(rank))
    rng.shuffle(order)
    return {
        "size_per_thread": _split(rng, rng.randint(0, 3), rank),
        "threads_per_warp": _split(rng, warp_size.bit_length() - 1, rank),
        "warps_per_cta": _split(rng, rng.randint(0, 3), rank),
        "order": order,
    }


def gen_blocked(rng: random.Random) -> Case:
    rank = rng.randint(1, 3)
    p = blocked_params(rng, rank, rng.choice([32, 64]))
    return {"kind": "blocked", "params": p, "shape": _shape(rng, rank)}


def gen_slice(rng: random.Random) -> Case:
    prank = rng.randint(2, 3)
    parent = blocked_params(rng, prank, rng.choice([32, 64]))
    dim = rng.randrange(prank)
    return {"kind": "slice", "params": {"dim": dim, "parent_kind": "blocked", "parent": parent},
            "shape": _shape(rng, prank - 1)}


def gen_linear(rng: random.Random) -> Case:
    """A random surjective ``#ttg.linear``: every bit of every dim lands on some basis, the other
    bases are zero (broadcast) or repeat a used bit."""
    rank = rng.randint(1, 3)
    shape = _shape(rng, rank, 0, 7)
    bits = [[(1 << k) if i == d else 0 for i in range(rank)]
            for d in range(rank) for k in range(shape[d].bit_length() - 1)]
    n = {"register": rng.randint(0, 4), "lane": 5, "warp": rng.randint(0, 3)}
    slots = [(k, i) for k, c in n.items() for i in range(c)]
    while len(slots) < len(bits):
        n["register"] += 1
        slots.append(("register", n["register"] - 1))
    rng.shuffle(slots)
    table: dict[str, list[list[int]]] = {k: [[0] * rank for _ in range(c)] for k, c in n.items()}
    for (k, i), b in zip(slots, bits, strict=False):
        table[k][i] = b
    for k, i in slots[len(bits):]:
        if bits and rng.random() < 0.3:
            table[k][i] = list(rng.choice(bits))
    return {"kind": "linear", "params": table | {"block": [], "shape": shape}, "shape": shape}


def nvidia_mma_params(rng: random.Random, rank: int, v3: bool | None = None) -> dict[str, Any]:
    if v3 is None:
        v3 = rank == 2 and rng.random() < 0.5
    if v3:
        warps = rng.choice([[4, 1], [8, 1], [4, 2], [16, 1], [4, 4]])
        return {"version_major": 3, "version_minor": 0, "warps_per_cta": warps,
                "instr_shape": [16, _pow2(rng, 3, 8), 16]}
    warps = _split(rng, rng.randint(0, 3), rank)
    return {"version_major": 2, "version_minor": 0, "warps_per_cta": warps,
            "instr_shape": [1] * (rank - 2) + [16, 8]}


def gen_nvidia_mma(rng: random.Random) -> Case:
    rank = rng.choice([2, 2, 3])
    p = nvidia_mma_params(rng, rank)
    shape = [_pow2(rng, 0, 2)] * (rank - 2) + [_pow2(rng, 4, 8), _pow2(rng, 3, 8)]
    if p["version_major"] == 3:
        shape[-1] = max(shape[-1], p["instr_shape"][1])
    return {"kind": "nvidia_mma", "params": p, "shape": shape}


def amd_mfma_params(rng: random.Random, rank: int) -> dict[str, Any]:
    instr = rng.choice([[32, 32, 8], [16, 16, 16], [32, 32, 16], [16, 16, 32]])
    return {
        "version": rng.choice([2, 3, 4]),
        "warps_per_cta": _split(rng, rng.randint(0, 3), rank),
        "instr_shape": instr,
        "is_transposed": rng.random() < 0.5,
        "tiles_per_warp": [1] * (rank - 2) + [rng.choice([1, 1, 2]), rng.choice([1, 1, 2])],
        "element_bitwidth": rng.choice([32, 32, 64]),
    }


def gen_amd_mfma(rng: random.Random) -> Case:
    rank = rng.choice([2, 2, 3])
    p = amd_mfma_params(rng, rank)
    m = p["instr_shape"][0]
    shape = [_pow2(rng, 0, 2)] * (rank - 2) + [m * _pow2(rng, 0, 3), m * _pow2(rng, 0, 3)]
    return {"kind": "amd_mfma", "params": p, "shape": shape}


def gen_dot_operand(rng: random.Random) -> Case:
    r = rng.random()
    if r < 0.5:
        rank = rng.choice([2, 2, 3])
        parent = nvidia_mma_params(rng, rank)
        v3 = parent["version_major"] == 3
        op = 0 if v3 else rng.randint(0, 1)
        kw = rng.choice([2, 4]) if v3 else rng.choice([1, 2, 4, 8])
        batch = [_pow2(rng, 0, 2)] * (rank - 2)
        k = _pow2(rng, 5, 8)
        mn = _pow2(rng, 4, 8)
        shape = batch + ([mn, k] if op == 0 else [k, mn])
        return {"kind": "dot_operand", "params": {"op_idx": op, "parent_kind": "nvidia_mma", "parent": parent,
                                                   "k_width": kw}, "shape": shape}
    rank = rng.choice([2, 2, 3])
    parent = amd_mfma_params(rng, rank)
    op = rng.randint(0, 1)
    kw = rng.choice([4, 8, 16])
    m = parent["instr_shape"][0]
    batch = [_pow2(rng, 0, 2)] * (rank - 2)
    k = _pow2(rng, 5, 8)
    mn = m * _pow2(rng, 0, 3)
    shape = batch + ([mn, k] if op == 0 else [k, mn])
    return {"kind": "dot_operand", "params": {"op_idx": op, "parent_kind": "amd_mfma", "parent": parent,
                                               "k_width": kw}, "shape": shape}


GENERATORS = {
    "blocked": gen_blocked,
    "slice": gen_slice,
    "linear": gen_linear,
    "nvidia_mma": gen_nvidia_mma,
    "amd_mfma": gen_amd_mfma,
    "dot_operand": gen_dot_operand,
}


def distributed_cases(per_kind: int, seed: int = 0) -> list[Case]:
    rng = random.Random(seed)
    return [GENERATORS[k](rng) for k in GENERATORS for _ in range(per_kind)]
