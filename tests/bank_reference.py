"""Brute-force reference for the bank simulator (eqsat.costmodels.banks), element by element.

`reference_wavefronts(params, case, direction)` follows one element at a time with Python ints: the
tensor index of every (warp, lane, register) of the register layout, its physical offset from the shared
encoding's definition (a table of the encoding's F2 map; for padded_shared the row-major order then
`pad` elements after every `interval`), instructions = the register bits that are not vector bits, words
per lane group (phase) of the target's phase table, and max distinct words per bank. Masked elements of a
non-power-of-two tile, and on stores lanes/warps that hold a copy of another's data, touch nothing.
Returns (total wavefronts, wavefronts per instruction of warp 0). The vector width is the model's
(`shared_access(...).vector_bytes`; its elements are found by search among the register combinations);
what is checked is the address arithmetic and the counting.

Where Triton 3.6 has no bank count (padded_shared, tiles that are not powers of two) this is what the
model is compared with (tests/test_cost_banks.py, benchmarks/bank_model_vs_gluon.py).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bank_oracle import case_texts
from eqsat.costmodels.banks import shared_access

from eqsat.ir.layouts import encoding_from_text, encoding_params
from eqsat.layout import build_pow2
from eqsat.layout.linear import LinearLayout

ELEM_BYTES = {"i8": 1, "f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i64": 8}


def _offset_fn(case: dict[str, Any], pow2: tuple[int, ...]):
    smem = case["smem"]
    if smem["kind"] == "padded_shared":
        order = smem["order"]

        def offset(idx):  # identity in `order` (order[0] fastest), then `pad` elements after every `interval`
            o, stride = 0, 1
            for d in order:
                o += idx[d] * stride
                stride *= pow2[d]
            return o + sum((o // i) * p for i, p in smem["pairs"])
        return offset
    _, shared = case_texts(case)
    sl = build_pow2(*encoding_params(encoding_from_text(shared)), pow2)
    table = {tuple(ix): off for off, ix in enumerate(sl.apply_all().tolist())}
    return lambda idx: table[tuple(idx)]


def reference_wavefronts(params: Any, case: dict[str, Any], direction: str) -> tuple[int, list[int]]:
    shape = case["shape"]
    pow2 = tuple(1 << (s - 1).bit_length() for s in shape)
    distributed, _ = case_texts(case)
    reg: LinearLayout = build_pow2(*encoding_params(encoding_from_text(distributed)), pow2)
    eb = ELEM_BYTES[case["dtype"]]
    offset = _offset_fn(case, pow2)
    acc = shared_access(params, *case_texts(case), shape, case["dtype"], direction)
    vec_elems = acc.vector_bytes // eb
    regs = [b for b in reg.in_bases("register") if any(b)]

    def element(mask: int) -> list[int]:
        idx = [0] * len(shape)
        for i, b in enumerate(regs):
            if (mask >> i) & 1:
                idx = [x ^ y for x, y in zip(idx, b, strict=True)]
        return idx

    # the register combinations at vector offsets 1, 2, 4, .. (searched, not solved), in echelon form:
    # an instruction is a register combination modulo their span
    vec_masks: list[int] = []
    for t in range(vec_elems.bit_length() - 1):
        m = next(m for m in range(1, 1 << len(regs)) if offset(element(m)) == 1 << t)
        for v in vec_masks:
            m = min(m, m ^ v)
        vec_masks = sorted(vec_masks + [m], reverse=True)

    def instruction(r: int) -> int:
        for v in vec_masks:
            r = min(r, r ^ v)
        return r
    groups = params["phases"][acc.instruction]["lanes"]
    lane_of_group = {lane: g for g, lanes in enumerate(groups) for lane in lanes}
    banks = int(params["shared"]["banks"])
    words: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    lane_bases, warp_bases = reg.in_bases("lane"), reg.in_bases("warp")
    for w in range(1 << len(warp_bases)):
        if direction == "store" and any((w >> i) & 1 and not any(b) for i, b in enumerate(warp_bases)):
            continue
        for lane in range(1 << len(lane_bases)):
            if direction == "store" and any((lane >> i) & 1 and not any(b) for i, b in enumerate(lane_bases)):
                continue  # a copy of another lane's data: predicated off
            for r in range(1 << len(regs)):
                idx = [0] * len(shape)
                for i, b in enumerate(regs):
                    if (r >> i) & 1:
                        idx = [x ^ y for x, y in zip(idx, b, strict=True)]
                for bases, bits in ((lane_bases, lane), (warp_bases, w)):
                    for i, b in enumerate(bases):
                        if (bits >> i) & 1:
                            idx = [x ^ y for x, y in zip(idx, b, strict=True)]
                if any(i >= s for i, s in zip(idx, shape, strict=True)):
                    continue
                instr = instruction(r)
                byte = offset(idx) * eb
                for k in range(max(1, eb // 4)):
                    words[(w, instr, lane_of_group[lane])].add(byte // 4 + k)
    per_instr: dict[tuple[int, int], int] = defaultdict(int)
    for (w, instr, _), ws in words.items():
        count: dict[int, int] = defaultdict(int)
        for word in ws:
            count[word % banks] += 1
        per_instr[(w, instr)] += max(count.values())
    warp0 = [per_instr[(0, i)] for i in sorted({i for (w, i) in per_instr if w == 0})]
    return sum(per_instr.values()), warp0
