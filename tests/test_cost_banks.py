"""The shared-memory bank simulator (costmodels/banks.py) against Triton's own count, and by properties.

Oracle: Gluon's `bank_conflicts` (`ttg::bankConflictsMemDesc` in libtriton) for 700 seeded random cases
(`bank_cases.random_cases`): blocked / linear / mma v2-v3 / dot-operand register layouts against
swizzled / nvmma / shared_linear shared layouts, i8/f16/f32/f64, rank 2 and 3. A wrong F2 map of a
shared encoding (eqsat/layout/shared.py) moves elements to other banks, so these comparisons also check
the shared builders, which Triton cannot check directly from Python (see tests/layout_oracle.py).

Comparable quantity: Gluon counts the excess wavefronts of one phase (lane group) of an ld/st.shared
instruction as `2^dim(segment ∩ lane span) - 1`; the model's `triton_conflicts` is the worst
instruction's `max over groups (wavefronts - ideal)` from simulated addresses. They are equal whenever a
lane moves at least 4 bytes. For 1- and 2-byte vectors Triton's "bank" coordinates include the byte
bits inside a 4-byte word, which select no bank, so Triton undercounts; the hardware (and the model)
serves one word per bank per wavefront, so there the model must be >= Triton's count.

Padded shared layouts have no Triton count (`toLinearLayout` aborts on padded_shared in 3.6); they and
tiles that are not powers of two are checked against a brute-force per-element reference below.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import pytest
from bank_cases import non_pow2_cases, random_cases
from bank_oracle import case_texts, gluon_jit_bank_conflicts, oracle_bank_conflicts
from eqsat.costmodels.banks import shared_access
from eqsat.costmodels.base import load_params
from eqsat.costmodels.batch import bank_conflicts_lines

from eqsat.errors import EqsatError
from eqsat.layout import build_pow2
from eqsat.layout.linear import LinearLayout

H100 = load_params("h100")
BLOCKED_ROWS = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
COLUMN_F32 = "#ttg.blocked<{sizePerThread = [1, 1], threadsPerWarp = [32, 1], warpsPerCTA = [1, 4], order = [0, 1]}>"
ROW_MAJOR = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [1, 0]}>"
SWIZZLED = "#ttg.swizzled_shared<{vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]}>"


@pytest.fixture(scope="module")
def oracle_cases():
    cases = random_cases(seed=1, n=700)
    return cases, oracle_bank_conflicts(cases)


def test_matches_gluon_bank_conflicts(oracle_cases):
    cases, oracle = oracle_cases
    compared, exact, mismatches = 0, 0, []
    for case, expected in zip(cases, oracle, strict=True):
        if not isinstance(expected, int):
            continue
        distributed, shared = case_texts(case)
        for direction in ("load", "store"):
            acc = shared_access(H100, distributed, shared, case["shape"], case["dtype"], direction)
            got = acc.triton_conflicts
            if acc.vector_bytes >= 4:
                exact += 1
                ok = got == expected
            else:
                ok = got >= expected
            if not ok:
                mismatches.append((direction, expected, got, acc.vector_bytes, case))
        compared += 1
    assert compared >= 500, f"only {compared} cases had a Triton count"
    assert exact >= 800
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"


def test_linear_layouts_give_uniform_phases(oracle_cases):
    """For power-of-two tiles every instruction and phase sees the same pattern (the addresses of a phase
    are a coset of one subspace), so wavefronts per instruction = groups * (1 + conflicts) and the total
    is warps * instructions * that."""
    cases, _ = oracle_cases
    for case in cases[:300]:
        distributed, shared = case_texts(case)
        acc = shared_access(H100, distributed, shared, case["shape"], case["dtype"], "load")
        groups = len(H100["phases"][acc.instruction]["lanes"])
        c = acc.triton_conflicts
        assert acc.warps_uniform, case
        assert acc.wavefronts_per_instruction == [groups * (1 + c)] * acc.instructions, case
        assert acc.wavefronts == acc.warps * acc.instructions * groups * (1 + c)
        assert acc.conflicts == acc.wavefronts - acc.ideal_wavefronts >= 0
        elements = math.prod(case["shape"])
        assert acc.ideal_wavefronts * 128 >= elements * {"i8": 1, "f16": 2, "f32": 4, "f64": 8}[case["dtype"]]


def test_builder_route_equals_compiled_gluon_static_print(oracle_cases):
    cases, oracle = oracle_cases
    picked = [i for i, o in enumerate(oracle) if isinstance(o, int)][:6]
    assert gluon_jit_bank_conflicts([cases[i] for i in picked]) == [oracle[i] for i in picked]


# ------------------------------------------------------------------------ brute-force reference

def _reference(case: dict, direction: str) -> tuple[int, list[int]]:
    """Per element, with Python ints: tensor index of every (warp, lane, register), its physical offset
    from the shared encoding's definition, grouping into instructions by the register bits that are not
    vector bits, words per phase, max words per bank. Returns (total wavefronts, warp 0 per instruction)."""
    shape = case["shape"]
    pow2 = tuple(1 << (s - 1).bit_length() for s in shape)
    distributed, _ = case_texts(case)
    from eqsat.ir.layouts import encoding_from_text, encoding_params

    reg: LinearLayout = build_pow2(*encoding_params(encoding_from_text(distributed)), pow2)
    eb = {"i8": 1, "f16": 2, "f32": 4, "f64": 8}[case["dtype"]]
    smem = case["smem"]
    if smem["kind"] == "padded_shared":
        order = smem["order"]

        def offset(idx):  # identity order, then `pad` elements after every `interval`
            o = idx[order[0]] + idx[order[1]] * pow2[order[0]]
            return o + sum((o // i) * p for i, p in smem["pairs"])
    else:
        _, shared = case_texts(case)
        sl = build_pow2(*encoding_params(encoding_from_text(shared)), pow2)
        table = {tuple(ix): off for off, ix in enumerate(sl.apply_all().tolist())}

        def offset(idx):
            return table[tuple(idx)]

    acc = shared_access(H100, *case_texts(case), shape, case["dtype"], direction)
    vec_elems = acc.vector_bytes // eb
    regs = [b for b in reg.in_bases("register") if any(b)]
    vec_bits = []
    for t in range(vec_elems.bit_length() - 1):
        vec_bits.append(next(i for i, b in enumerate(regs) if offset(b) == 1 << t))
    groups = H100["phases"][acc.instruction]["lanes"]
    lane_of_group = {lane: g for g, lanes in enumerate(groups) for lane in lanes}
    words: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    warps = 1 << len(reg.in_bases("warp"))
    for w in range(warps):
        if direction == "store" and any((w >> i) & 1 and not any(b) for i, b in enumerate(reg.in_bases("warp"))):
            continue
        for lane in range(32):
            if direction == "store" and any((lane >> i) & 1 and not any(b)
                                            for i, b in enumerate(reg.in_bases("lane"))):
                continue  # a copy of another lane's data: predicated off
            for r in range(1 << len(regs)):
                idx = [0] * len(shape)
                for i, b in enumerate(regs):
                    if (r >> i) & 1:
                        idx = [x ^ y for x, y in zip(idx, b, strict=True)]
                for dim, bases in (("lane", lane), ("warp", w)):
                    for i, b in enumerate(reg.in_bases(dim)):
                        if (bases >> i) & 1:
                            idx = [x ^ y for x, y in zip(idx, b, strict=True)]
                if any(i >= s for i, s in zip(idx, shape, strict=True)):
                    continue
                instr = r & ~sum(1 << i for i in vec_bits)
                byte = offset(idx) * eb
                for k in range(max(1, eb // 4)):
                    words[(w, instr, lane_of_group[lane])].add(byte // 4 + k)
    per_instr: dict[tuple[int, int], int] = defaultdict(int)
    for (w, instr, _), ws in words.items():
        banks = defaultdict(int)
        for word in ws:
            banks[word % 32] += 1
        per_instr[(w, instr)] += max(banks.values())
    warp0 = [per_instr[(0, i)] for i in sorted({i for (w, i) in per_instr if w == 0})]
    return sum(per_instr.values()), warp0


@pytest.mark.parametrize("case", non_pow2_cases(seed=3, n=24), ids=lambda c: f"{c['shape']}-{c['smem']['kind']}")
def test_non_pow2_and_padded_against_reference(case):
    for direction in ("load", "store"):
        acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], direction)
        total, warp0 = _reference(case, direction)
        assert acc.wavefronts == total
        assert [x for x in acc.wavefronts_per_instruction if x] == warp0


# ------------------------------------------------------------------------ hand-derived cases

def test_row_store_conflict_free_and_transposed_store_conflicts():
    # 8 lanes x 16 B = one row of 64 f16 = 128 B: one wavefront per quarter-warp phase
    acc = shared_access(H100, BLOCKED_ROWS, ROW_MAJOR, [64, 64], "f16", "store")
    assert (acc.instruction, acc.vector_bytes, acc.instructions, acc.conflicts) == ("st.shared.v4.b32", 16, 4, 0)
    assert acc.wavefronts == 4 * 4 * 4  # warps x instructions x phases
    # column-major buffer: lanes 0-7 write rows 0,8,..,56 of 4 columns; words (row + 64 col) / 2 fall in
    # banks 0-1 => 16 distinct words in 2 banks => 8 wavefronts per 32-lane phase, 7 excess (Gluon: 7)
    col = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [0, 1]}>"
    acc = shared_access(H100, BLOCKED_ROWS, col, [64, 64], "f16", "store")
    assert (acc.vector_bytes, acc.triton_conflicts, acc.wavefronts_per_instruction[0]) == (2, 7, 8)


def test_column_access_padding_and_swizzle():
    # f32, lane i holds row i of one column: stride 64 words => all 32 lanes in bank 0: 32 wavefronts
    acc = shared_access(H100, COLUMN_F32, ROW_MAJOR, [64, 64], "f32", "load")
    assert acc.wavefronts_per_instruction[0] == 32 and acc.triton_conflicts == 31
    # one pad word per 64-element row: row i starts at bank i => conflict free
    padded = "#ttg.padded_shared<[64:+1] {order = [1, 0], shape = [64, 64]}>"
    acc = shared_access(H100, COLUMN_F32, padded, [64, 64], "f32", "load")
    assert acc.wavefronts_per_instruction[0] == 1 and acc.conflicts == 0
    # XOR swizzle with vec 1 over 32 phases: column c of row i sits at c ^ (i mod 32): distinct banks
    swz = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 32, order = [1, 0]}>"
    assert shared_access(H100, COLUMN_F32, swz, [64, 64], "f32", "load").conflicts == 0


def test_bank_conflicts_batch_lines():
    line = json.dumps({"shape": [64, 64], "dtype": "f32", "distributed": COLUMN_F32, "shared": ROW_MAJOR,
                       "name": "col"})
    out = [json.loads(x) for x in bank_conflicts_lines([line, "", line], "h100", "cases.jsonl")]
    assert len(out) == 2 and out[0]["name"] == "col"
    assert (out[0]["store_conflicts"], out[0]["load_conflicts"]) == (31, 31)
    assert (out[0]["store_wavefronts"], out[0]["load_wavefronts"]) == (32, 32)


@pytest.mark.parametrize("line, message", [
    ("{not json", "cases.jsonl:2:"),
    (json.dumps({"shape": [64, 64], "dtype": "f16", "distributed": BLOCKED_ROWS}), "missing key 'shared'"),
    (json.dumps({"shape": [64, 0], "dtype": "f16", "distributed": BLOCKED_ROWS, "shared": SWIZZLED}), "shape"),
    (json.dumps({"shape": [64, 64], "dtype": "f17", "distributed": BLOCKED_ROWS, "shared": SWIZZLED}),
     "unknown element type"),
    (json.dumps({"shape": [64, 64], "dtype": "f16", "distributed": "#ttg.blocked<{sizePerThread = [1}>",
                 "shared": SWIZZLED}), "cases.jsonl:2"),
    (json.dumps({"shape": [64, 64], "dtype": "f16", "distributed": SWIZZLED, "shared": SWIZZLED}),
     "distributed encoding is swizzled_shared"),
])
def test_batch_bad_lines_name_file_and_line(line, message):
    good = json.dumps({"shape": [64, 64], "dtype": "f16", "distributed": BLOCKED_ROWS, "shared": SWIZZLED})
    with pytest.raises(EqsatError) as err:
        list(bank_conflicts_lines([good, line], "h100", "cases.jsonl"))
    assert str(err.value).startswith("cases.jsonl:2") and message in str(err.value)


def test_unknown_target_and_direction():
    with pytest.raises(EqsatError, match="no cost-model parameters"):
        list(bank_conflicts_lines([], "h999", "x.jsonl"))
    with pytest.raises(EqsatError, match="direction"):
        shared_access(H100, BLOCKED_ROWS, SWIZZLED, [64, 64], "f16", "sideways")


def test_shared_access_is_vectorised():
    """Whole-tile arrays, no per-lane Python loop: a 256x256 f32 tile is still simulated quickly."""
    acc = shared_access(H100, COLUMN_F32, ROW_MAJOR, [256, 256], "f32", "store")
    assert acc.instructions == 256 * 256 // (32 * 4) and np.all(np.array(acc.wavefronts_per_instruction) == 32)
