"""The shared-memory bank simulator (costmodels/banks.py) against Triton's own count, and by properties.

Oracle: Gluon's `bank_conflicts` (`ttg::bankConflictsMemDesc` in libtriton 3.6) for seeded random cases:
700 of `bank_cases.random_cases` (blocked / linear / mma v2-v3 / dot-operand register layouts against
swizzled / nvmma / shared_linear shared layouts, i8/f16/f32/f64, rank 2 and 3) and 600 of
`bank_cases.family_cases` over the families Triton counts (swizzled vec = 1 with every element size,
sub-word i8/f16/bf16, 8-byte f64/i64, and the base mix). A wrong F2 map of a shared encoding
(eqsat/layout/shared.py) moves elements to other banks, so these comparisons also check the shared
builders, which Triton cannot check directly from Python (see tests/layout_oracle.py).

Two quantities, both checked:
- `triton_conflicts` must EQUAL Gluon's count on every case, both directions (it mirrors
  `bankConflictsMemDesc`: vector, vector/bank/segment split of the offsets, lane tile of one phase,
  `2^dim(segment ∩ lane tile) - 1`);
- `phase_conflicts` (the simulated addresses: the hardware) must equal it whenever a lane moves >= 4
  bytes, and be >= it for 1- and 2-byte vectors, where Triton's "bank" coordinates include the byte bits
  inside a 4-byte word and so miss same-bank different-word pairs that the hardware serializes.

Padded shared layouts and tiles that are not powers of two have no Triton count (libtriton 3.6 aborts:
`toLinearLayout` "unknown layout", `ensureLayoutNotSmallerThan`; checked below); they are checked against
the brute-force per-element reference (tests/bank_reference.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from bank_cases import GLUON_FAMILIES, family_cases, non_pow2_cases, random_cases
from bank_oracle import case_texts, gluon_jit_bank_conflicts, oracle_bank_conflicts
from bank_ptx import ptx_shared_ops
from bank_reference import reference_wavefronts
from eqsat.costmodels.banks import shared_access
from eqsat.costmodels.base import load_params
from eqsat.costmodels.batch import bank_conflicts_lines

from eqsat.errors import EqsatError

H100 = load_params("h100")
BLOCKED_ROWS = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
COLUMN_F32 = "#ttg.blocked<{sizePerThread = [1, 1], threadsPerWarp = [32, 1], warpsPerCTA = [1, 4], order = [0, 1]}>"
ROW_MAJOR = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [1, 0]}>"
SWIZZLED = "#ttg.swizzled_shared<{vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]}>"


@pytest.fixture(scope="module")
def oracle_cases():
    cases = random_cases(seed=1, n=700)
    return cases, oracle_bank_conflicts(cases)


def _check_against_gluon(cases: list[dict], oracle: list) -> tuple[int, list]:
    compared, mismatches = 0, []
    for case, expected in zip(cases, oracle, strict=True):
        if not isinstance(expected, int):
            continue
        distributed, shared = case_texts(case)
        for direction in ("load", "store"):
            acc = shared_access(H100, distributed, shared, case["shape"], case["dtype"], direction)
            hw_ok = acc.vector_bytes >= acc.triton_vector_bytes  # LLVM only merges
            if acc.vector_bytes == acc.triton_vector_bytes:  # then the phases are Triton's lane tiles
                hw_ok &= acc.phase_conflicts == expected if acc.vector_bytes >= 4 else acc.phase_conflicts >= expected
            if acc.triton_conflicts != expected or acc.gluon_conflicts is None or not hw_ok:
                mismatches.append((direction, expected, acc.triton_conflicts, acc.phase_conflicts,
                                   acc.vector_bytes, case))
        compared += 1
    return compared, mismatches


def test_matches_gluon_bank_conflicts(oracle_cases):
    compared, mismatches = _check_against_gluon(*oracle_cases)
    assert compared == 700
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"


def test_families_match_gluon_bank_conflicts():
    """vec = 1 swizzles, sub-word and 8-byte elements: exactly Gluon's count (a property over a seeded
    sample; benchmarks/bank_model_vs_gluon.py runs 1000)."""
    cases = family_cases(seed=11, n=600, families=GLUON_FAMILIES)
    compared, mismatches = _check_against_gluon(cases, oracle_bank_conflicts(cases))
    assert compared == 600
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
    # the sample holds the cases where Triton's count and the hardware's differ (sub-word vectors)
    accs = [shared_access(H100, *case_texts(c), c["shape"], c["dtype"], "load") for c in cases]
    assert sum(a.phase_conflicts > a.triton_conflicts for a in accs) >= 5


def test_known_subword_vec1_case():
    """The issue's case: blocked<[1, 8], [8, 4], [4, 1]> 64x64 f16 into swizzled<vec=1, perPhase=4,
    maxPhase=8>. Lanes 4, 8, 16 step rows 1, 2, 4 = offsets 64, 128, 256 ^ 1 (the phase of row 4 flips
    column bit 0); vector = 1 element (that flip breaks any wider one). Triton: bank = offset bits 0-5,
    segment = bits 6+; span{64, 128} is in the segment, 257 is not (bit 0 is a bank bit): 2^2 - 1 = 3.
    Hardware: byte 2 * 257 = 514 is word 128, bank 0, like words 0, 32, 64, ...: 8 words in bank 0 -> 8
    wavefronts, 7 excess."""
    reg = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>"
    swz = "#ttg.swizzled_shared<{vec = 1, perPhase = 4, maxPhase = 8, order = [1, 0]}>"
    case = {"reg": {"kind": "blocked", "spt": [1, 8], "tpw": [8, 4], "wpc": [4, 1], "order": [1, 0]},
            "smem": {"kind": "swizzled_shared", "vec": 1, "per_phase": 4, "max_phase": 8, "order": [1, 0]},
            "shape": [64, 64], "dtype": "f16"}
    assert case_texts(case) == (reg, swz)
    assert oracle_bank_conflicts([case]) == [3]
    for direction in ("store", "load"):
        acc = shared_access(H100, reg, swz, [64, 64], "f16", direction)
        assert (acc.vector_bytes, acc.triton_conflicts, acc.phase_conflicts) == (2, 3, 7)
        assert acc.wavefronts_per_instruction == [8] * 32  # 32 elements per thread, one per instruction


def test_no_triton_count_for_padded_or_non_pow2():
    """Triton 3.6 aborts on these (so the model's count there is the simulated one)."""
    cases = family_cases(seed=5, n=4, families=("padded", "non_pow2"))
    for case, got in zip(cases, oracle_bank_conflicts(cases), strict=True):
        assert not isinstance(got, int), case
        acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], "load")
        assert acc.gluon_conflicts is None and acc.triton_conflicts == acc.phase_conflicts


def test_linear_layouts_give_uniform_phases(oracle_cases):
    """For power-of-two tiles every instruction and phase sees the same pattern (the addresses of a phase
    are a coset of one subspace), so wavefronts per instruction = groups * (1 + conflicts) and the total
    is warps * instructions * that."""
    cases, _ = oracle_cases
    for case in cases[:300]:
        distributed, shared = case_texts(case)
        acc = shared_access(H100, distributed, shared, case["shape"], case["dtype"], "load")
        groups = len(H100["phases"][acc.instruction]["lanes"])
        c = acc.phase_conflicts
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


# ------------------------------------------------------------------------ the PTX Triton emits

def _blocked(spt, tpw, wpc, order):
    return {"kind": "blocked", "spt": spt, "tpw": tpw, "wpc": wpc, "order": order}


def _swz(vec, per_phase, max_phase, order=(1, 0)):
    return {"kind": "swizzled_shared", "vec": vec, "per_phase": per_phase, "max_phase": max_phase,
            "order": list(order)}


BOTH = ("store", "load")
PTX_CASES = [
    # the issue's case: lane 16's row flips column bit 0 -> no wider access: 32 st.shared.b16 per thread
    ({"reg": _blocked([1, 8], [8, 4], [4, 1], [1, 0]), "smem": _swz(1, 4, 8), "shape": [64, 64],
      "dtype": "f16"}, 2, 2, BOTH),
    # register 0 (row 1) flips column bit 0, register 1 is column 1: Triton's vector is 1 element, the
    # thread still holds whole aligned pairs -> LLVM merges them into st.shared.b32
    ({"reg": {"kind": "linear", "register": [[1, 0], [0, 1]], "lane": [[2, 0], [0, 32], [0, 4], [0, 2], [0, 16]],
              "warp": [[0, 8]]}, "smem": _swz(1, 1, 8), "shape": [4, 64], "dtype": "bf16"}, 2, 4, BOTH),
    # mma v2: register (8, 0) is in the next phase (column bit 0 flipped): pairs merged likewise
    ({"reg": {"kind": "nvidia_mma", "version": [2, 0], "wpc": [2, 4], "instr": [16, 8]}, "smem": _swz(1, 8, 4),
      "shape": [64, 64], "dtype": "f16"}, 2, 4, BOTH),
    # f64: rows 2 flip column bit 0 of a column-major thread tile: v2.b64 (16 bytes)
    ({"reg": _blocked([4, 2], [8, 4], [2, 1], [0, 1]), "smem": _swz(1, 2, 16), "shape": [64, 64],
      "dtype": "f64"}, 8, 16, BOTH),
    # padded: Triton refuses register permutations under its interval cap: register 0 is not offset 1
    ({"reg": {"kind": "linear", "register": [[4, 0], [0, 2], [0, 4], [1, 0], [8, 0]],
              "lane": [[0, 16], [0, 64], [2, 0], [0, 8], [0, 1]], "warp": [[0, 32]]},
      "smem": {"kind": "padded_shared", "order": [0, 1], "pairs": [[8, 4]]}, "shape": [16, 128], "dtype": "i8"},
     1, 1, ("store",)),  # (its load: LLVM merges one pair of the 32 through the padding: {2: 1, 1: 30})
]


@pytest.mark.parametrize("case, triton_bytes, ptx_bytes, directions", PTX_CASES)
def test_vector_width_is_what_the_ptx_issues(case, triton_bytes, ptx_bytes, directions):
    (ptx,) = ptx_shared_ops([case])
    assert not ptx["matrix"]
    for direction in directions:
        acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], direction)
        assert (acc.triton_vector_bytes, acc.vector_bytes) == (triton_bytes, ptx_bytes)
        assert ptx[direction] == {acc.vector_bytes: acc.instructions}


def test_padded_vector_capped_at_the_pad_where_triton_faults():
    """[64:+2] f16: Triton 3.6 issues 16-byte vectors at 4-byte-aligned addresses (the H200 kernel dies
    with 'misaligned address', bank_model_agreement.md f16_pad2); the model prices the aligned 4 bytes."""
    case = {"reg": _blocked([1, 8], [8, 4], [4, 1], [1, 0]),
            "smem": {"kind": "padded_shared", "order": [1, 0], "pairs": [[64, 2]]}, "shape": [64, 64], "dtype": "f16"}
    (ptx,) = ptx_shared_ops([case])
    acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], "store")
    assert ptx["store"] == {16: acc.instructions // 4} and (acc.vector_bytes, acc.triton_vector_bytes) == (4, 16)


def test_random_cases_vector_width_matches_ptx():
    """Seeded sample of the Gluon families (rank 2): every uniform PTX equals the model's (bytes, count);
    the only allowed difference is LLVM merging part of the pairs (mixed widths, the same bytes)."""
    cases = [c for c in family_cases(seed=19, n=28, families=GLUON_FAMILIES) if len(c["shape"]) == 2]
    exact = 0
    for case, ptx in zip(cases, ptx_shared_ops(cases), strict=True):
        assert isinstance(ptx, dict), (ptx, case)
        if ptx["matrix"]:  # ldmatrix/stmatrix: not modelled (module docstring)
            continue
        for direction in ("store", "load"):
            acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], direction)
            want = {acc.vector_bytes: acc.instructions}
            if ptx[direction] == want:
                exact += 1
            else:
                got = ptx[direction]
                assert len(got) > 1 and sum(b * n for b, n in got.items()) == acc.vector_bytes * acc.instructions
    assert exact >= 36


# ------------------------------------------------------------------------ brute-force reference

def test_padded_and_non_pow2_families_against_reference():
    """Padded (one or two pairs) and non-power-of-two tiles with every register kind: the simulation equals
    the per-element reference, and Triton's count is the simulated one there."""
    bad = []
    for case in family_cases(seed=13, n=40, families=("padded", "non_pow2")):
        for direction in ("load", "store"):
            acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], direction)
            total, warp0 = reference_wavefronts(H100, case, direction)
            if (acc.wavefronts, [x for x in acc.wavefronts_per_instruction if x]) != (total, warp0):
                bad.append((direction, acc.wavefronts, total, case))
            assert acc.gluon_conflicts is None and acc.triton_conflicts == acc.phase_conflicts
    assert not bad, bad[:2]


@pytest.mark.parametrize("case", non_pow2_cases(seed=3, n=24), ids=lambda c: f"{c['shape']}-{c['smem']['kind']}")
def test_non_pow2_and_padded_against_reference(case):
    for direction in ("load", "store"):
        acc = shared_access(H100, *case_texts(case), case["shape"], case["dtype"], direction)
        total, warp0 = reference_wavefronts(H100, case, direction)
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
    assert (out[0]["store_phase_conflicts"], out[0]["load_phase_conflicts"]) == (31, 31)
    # the issue's sub-word case: Triton's count and the hardware's, side by side
    reg = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>"
    swz = "#ttg.swizzled_shared<{vec = 1, perPhase = 4, maxPhase = 8, order = [1, 0]}>"
    line = json.dumps({"shape": [64, 64], "dtype": "f16", "distributed": reg, "shared": swz})
    (out,) = [json.loads(x) for x in bank_conflicts_lines([line], "h100", "cases.jsonl")]
    assert (out["store_conflicts"], out["store_phase_conflicts"], out["store_wavefronts"]) == (3, 7, 8)


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
