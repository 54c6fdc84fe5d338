"""The bank simulator on MI300X (gfx942, wave64) against AMD's documented LDS rules.

Sources (see costmodels/params/mi300x.toml): the ROCm blog "Avoiding LDS Bank Conflicts on AMD GPUs Using
CK-Tile" and the CK docs page "Understanding AMD GPU LDS and Bank Conflicts": 32 banks of 4 bytes;
ds_write_b128 is served in 8 phases of 8 consecutive lanes; ds_read_b128 in phases {0-3, 20-23},
{4-7, 16-19}, {8-11, 28-31}, {12-15, 24-27} (and the same +32); ds_read_b64 in 16-lane phases (pyhip
measurements). A naive fp16 transpose through LDS conflicts, padding or an XOR swizzle removes the
conflicts. Every expected number below is derived by hand in the comment next to it.
"""

from __future__ import annotations

import numpy as np
import pytest
from eqsat.costmodels.banks import lane_group_wavefronts, phase_groups, shared_access
from eqsat.costmodels.base import load_params

MI300X = load_params("mi300x")
ROWS = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [8, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
COLUMN = "#ttg.blocked<{sizePerThread = [1, 1], threadsPerWarp = [64, 1], warpsPerCTA = [1, 4], order = [0, 1]}>"
ROW_MAJOR = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [1, 0]}>"


def wavefronts(instruction: str, byte_addresses: list[int], lane_bytes: int) -> int:
    """Wavefronts of one instruction whose lane `l` accesses `lane_bytes` bytes at `byte_addresses[l]`."""
    groups = phase_groups(MI300X, instruction)
    addr = np.asarray(byte_addresses, dtype=np.int64)
    words = addr[:, None] // 4 + np.arange(max(1, lane_bytes // 4))[None, :]
    wf, _ = lane_group_wavefronts(words[groups].reshape(len(groups), -1), 32, 4, 128)
    return int(wf.sum())


def test_phase_tables_are_the_documented_ones():
    rd128 = phase_groups(MI300X, "ds_read_b128")
    assert sorted(rd128[0].tolist()) == [0, 1, 2, 3, 20, 21, 22, 23]
    assert sorted(rd128[4].tolist()) == [32, 33, 34, 35, 52, 53, 54, 55]
    assert phase_groups(MI300X, "ds_write_b128").tolist()[1] == list(range(8, 16))
    assert phase_groups(MI300X, "ds_read_b64").shape == (4, 16)
    assert MI300X["phases"]["ds_write_b64"]["assumption"] is True  # UNCERTAIN in hardware.md
    assert MI300X["phases"]["ds_read_b32"]["assumption"] is True


def test_contiguous_b128_is_one_wavefront_per_phase():
    # lane l reads bytes 16l..16l+15: phase {0-3,20-23} touches words 0-15 and 80-95 = banks 0-31 once
    assert wavefronts("ds_read_b128", [16 * lane for lane in range(64)], 16) == 8
    assert wavefronts("ds_write_b128", [16 * lane for lane in range(64)], 16) == 8


def test_read_b128_phases_differ_from_consecutive_lanes():
    # lane l at 128 l + 16 (l % 4) + 64 [l % 32 >= 16]: its 16-byte slot (4 banks) is l % 4 + 4 [l % 32 >= 16].
    # ds_read_b128 phase {0-3, 20-23} gets slots 0,1,2,3,4,5,6,7: distinct banks, 1 wavefront; 8 phases -> 8.
    # Served as 8 consecutive lanes (ds_write_b128), lanes 0-7 get slots 0,1,2,3,0,1,2,3: two different
    # words per bank -> 2 wavefronts per phase -> 16.
    addr = [128 * lane + 16 * (lane % 4) + 64 * (lane % 32 >= 16) for lane in range(64)]
    assert wavefronts("ds_read_b128", addr, 16) == 8
    assert wavefronts("ds_write_b128", addr, 16) == 16


def test_read_b64_half_wave_phases():
    # 8-byte lanes at 8 l: 16 lanes cover words 0-31 once -> 1 wavefront per 16-lane phase -> 4
    assert wavefronts("ds_read_b64", [8 * lane for lane in range(64)], 8) == 4
    # stride 256 bytes = 64 words: every lane of a phase in banks 0-1, 16 distinct words each -> 16 per phase
    assert wavefronts("ds_read_b64", [256 * lane for lane in range(64)], 8) == 64


def test_row_store_is_ds_write_b128_and_conflict_free():
    # 64x64 f16, 8 lanes x 8 halves = one 128-byte row per 8-lane phase: 8 wavefronts per instruction,
    # 64*64*2 bytes / 128 = 64 wavefronts for the tile, none above ideal
    acc = shared_access(MI300X, ROWS, ROW_MAJOR, [64, 64], "f16", "store")
    assert (acc.instruction, acc.vector_bytes, acc.instructions) == ("ds_write_b128", 16, 2)
    assert acc.wavefronts_per_instruction == [8, 8] and acc.wavefronts == 64 and acc.conflicts == 0


def test_naive_transpose_read_conflicts():
    # lane l reads row l of column c (f16, one element): word = (64 l + c) / 2 = 32 l + c/2: the same bank
    # for all 32 lanes of a half-wave phase, 32 distinct words -> 32 wavefronts per phase, 64 per
    # instruction; ideal 1 per phase -> 31 excess per phase. Gluon's bank_conflicts (Triton 3.6) takes the
    # whole 64-lane wave as one phase of 32 NVIDIA banks: the 64 rows are all segment -> 2^6 - 1 = 63
    # (libtriton says 63 for this layout too)
    acc = shared_access(MI300X, COLUMN, ROW_MAJOR, [64, 64], "f16", "load")
    assert acc.instruction == "ds_read_u16" and acc.vector_bytes == 2
    assert set(acc.wavefronts_per_instruction) == {64} and acc.phase_conflicts == 31
    assert acc.triton_conflicts == 63
    assert acc.conflicts == 4 * 16 * 62  # warps x instructions x (64 - 2)


@pytest.mark.parametrize("shared, vector_bytes", [
    # XOR swizzle: column c of row r is stored at c ^ 2 (r mod 32): bank = (c/2 ^ r) mod 32, distinct for
    # the 32 rows of a phase -> 1 wavefront per phase. The store keeps 2 contiguous halves (ds_write_b32).
    ("#ttg.swizzled_shared<{vec = 2, perPhase = 1, maxPhase = 32, order = [1, 0]}>", 4),
    # padding 2 halves per 64: row stride 66 halves = 33 words: bank = (33 r + c/2) mod 32 = (r + c/2) mod 32
    ("#ttg.padded_shared<[64:+2] {order = [1, 0], shape = [64, 64]}>", 4),
])
def test_swizzled_or_padded_transpose_is_conflict_free(shared, vector_bytes):
    load = shared_access(MI300X, COLUMN, shared, [64, 64], "f16", "load")
    assert set(load.wavefronts_per_instruction) == {2} and load.conflicts == 0
    store = shared_access(MI300X, ROWS, shared, [64, 64], "f16", "store")
    assert store.vector_bytes == vector_bytes and store.conflicts == 0


def test_wave32_layout_is_refused_on_wave64():
    from eqsat.errors import EqsatError

    wave32 = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
    with pytest.raises(EqsatError, match="64"):
        shared_access(MI300X, wave32, ROW_MAJOR, [64, 64], "f16", "load")
