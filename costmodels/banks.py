"""Shared-memory bank simulator: wavefronts and conflicts of one local_store / local_load, per instruction.

`shared_access(params, distributed, shared, shape, dtype, direction)` replays how Triton lowers a
`ttg.local_store` (`direction="store"`) or `ttg.local_load` (`"load"`) of a register tile with encoding
`distributed` into/from a buffer with shared encoding `shared`, and counts bank cycles the way the hardware
serves them:

1. Both encodings become F2 layouts (`eqsat.ir.layouts`): the register layout maps
   `register, lane, warp -> tensor index`, the shared layout `offset -> tensor index`; the latter is
   inverted into a table `tensor index -> offset` (for `padded_shared` the offset is the linear component's,
   then padded: `o + sum (o // interval) * pad`).
2. Vector width. Triton's generic lowering (`lowerLdStShared` -> `largestVectorisation` in
   lib/Tools/LayoutUtils.cpp) drops register bases whose element is duplicated
   (`actionRemoveBroadcastedRegs`); then for `v = 128 / bits, ..., 1` elements the first `log2 v` offset
   bits must each be hit by some register basis (registers may be permuted) and every other basis
   (remaining registers, lanes, warps) must leave those offset bits zero (`divideLeft`): `largest_vector`,
   the `v` of Triton's bank count (`triton_vector_bytes`). The PTX can have wider accesses: LLVM's
   load/store vectorizer merges a thread's scalar accesses at adjacent addresses, so the instruction is
   `merged_vector`'s `v`: no lane/warp basis touches the low `log2 v` offset bits and each offset
   `2^j < v` is some XOR of register offsets (other registers may flip the low bits: a vec = 1 swizzle
   whose phase flips column bit 0 of a thread's rows merges pairs of 2-byte stores into `st.shared.b32`).
   Checked against NVIDIA PTX of compiled round trips (tests/bank_ptx.py). For `padded_shared` Triton caps
   `v` at the smallest interval and then refuses register permutations (lowerLocalLdSt); LLVM rarely
   merges through the padding arithmetic, so that `v` is kept, also capped by the smallest pad so that a
   vector stays aligned (Triton 3.6 does not cap there, and its wider vector faults: "misaligned
   address" on the H200, benchmarks/results/bank_model_agreement.md). A vector is at most 16 bytes.
3. Each remaining register combination is one instruction per warp. The instruction name comes from the
   target's `[shared.instructions.<direction>]` table (by vector bytes), its lane groups from
   `[phases."<instruction>"]` (data, see costmodels/params/*.toml).
4. Per instruction and lane group: the distinct 4-byte words touched by the group's lanes (so several
   lanes reading, or writing, one word count once: broadcast); `wavefronts = max over banks of distinct
   words` (bank = word mod banks); ideal = `ceil(distinct bytes / wavefront_bytes)`.

Counting conventions:

- `wavefronts`, `ideal_wavefronts`: whole tile, all warps (Nsight Compute: `conflicts = wavefronts -
  ideal`). Stores skip warps that duplicate another warp's data (Triton predicates broadcast warps off);
  loads are issued by every warp.
- `conflicts_per_instruction[i]`: the excess wavefronts of the worst lane group of instruction `i`, from
  the simulated addresses (what the hardware does); `phase_conflicts` is the worst instruction's.
- `triton_conflicts`: Gluon's `bank_conflicts` of Triton 3.6 (`bankConflictsMemDesc` in
  lib/Tools/GenericSwizzling.cpp), computed the way Triton does, not from addresses
  (`gluon_bank_conflicts` below): with Triton's vector `v` (`largest_vector`, step 2), the offsets are
  split into `vector` (the low `log2 v` bits), `bank` (the next `log2 min(1024 / (v * bits), offsets)`
  bits: one 128-byte row of vectors) and `segment` (the rest); the lane tile is the lane bases without the
  top `log2 max(v * bits / 32, 1)` (the 16- or 8-lane phase of 64- and 128-bit accesses); the count is
  `2^dim(span segment ∩ span lane tile) - 1`. It equals `phase_conflicts` whenever the PTX vector is
  Triton's (no LLVM merge: merged accesses are served in the phases of the wider instruction) and a lane
  moves at least 4 bytes. For 1- and 2-byte vectors it can be smaller: the `bank` coordinates then include
  the byte bits inside a 4-byte word, so two lanes whose offsets differ by such a bit plus segment bits
  are not counted, though they hit one bank at different words and the hardware serves them in two
  wavefronts (the simulation counts them; measured on an H200, benchmarks/results/bank_model_agreement.md,
  f16b_swz_v1). Triton 3.6 gives no count for `padded_shared` (toLinearLayout aborts) nor for tiles that
  are not powers of two (ensureLayoutNotSmallerThan asserts): there `triton_conflicts` is
  `phase_conflicts`.
- Shapes that are not powers of two: the layouts are built for the next power of two and only valid
  elements are accessed (masked lanes and vector elements touch no word).
- CTA clusters: only CTA 0's part (block = 0) is simulated; every CTA does the same.
- ldmatrix/stmatrix: not chosen here. Triton's NVIDIA lowering can use them for some local_load /
  local_store patterns; we could not state that rule from its source within this module's scope, so
  local_store/local_load are modelled as `st.shared` / `ld.shared` (and `ds_write` / `ds_read` on AMD).
  `lane_group_wavefronts` below simulates any instruction, ldmatrix included, from explicit addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from eqsat.errors import EqsatError
from eqsat.layout import LinearLayout, build_pow2, next_pow2
from eqsat.layout.shared import PaddedSharedLayout

from .base import TargetParams

DISTRIBUTED_KINDS = ("blocked", "slice", "linear", "nvidia_mma", "amd_mfma", "dot_operand")
SHARED_KINDS = ("swizzled_shared", "padded_shared", "nvmma_shared", "amd_rotating_shared", "shared_linear")
DIRECTIONS = ("store", "load")


@dataclass
class SharedAccess:
    """The simulated cost of one warp-collective local_store/local_load of a whole tile."""

    instruction: str  # "st.shared.v4.b32", "ld.shared.b32", "ds_write_b128", "ds_read_b64", ...
    vector_bytes: int  # bytes per lane per instruction
    instructions: int  # instructions per warp for the whole tile
    wavefronts: int  # total wavefronts for the whole tile, all warps
    ideal_wavefronts: int  # conflict-free minimum for the same bytes
    wavefronts_per_instruction: list[int]  # per instruction of warp 0
    conflicts_per_instruction: list[int]  # Triton's definition, per instruction of warp 0
    warps: int = 1  # warps that issue the access (stores: without broadcast duplicates)
    warps_uniform: bool = True  # False when another warp's per-instruction numbers differ from warp 0's
    gluon_conflicts: int | None = None  # Triton 3.6's own count; None where Triton gives none
    triton_vector_bytes: int = 0  # the vector of Triton's lowering, before LLVM merges accesses

    @property
    def conflicts(self) -> int:
        """Wavefronts above the conflict-free minimum (Nsight definition)."""
        return self.wavefronts - self.ideal_wavefronts

    @property
    def phase_conflicts(self) -> int:
        """The worst instruction's excess wavefronts per lane group, from the simulated addresses."""
        return max(self.conflicts_per_instruction, default=0)

    @property
    def triton_conflicts(self) -> int:
        """Gluon's `bank_conflicts` (Triton 3.6) where Triton has a count, else `phase_conflicts`."""
        return self.phase_conflicts if self.gluon_conflicts is None else self.gluon_conflicts


# ---------------------------------------------------------------------------------------------- inputs

def element_bits(dtype: str) -> int:
    """Bits of an element type named as TTGIR prints it (`f16`, `bf16`, `f32`, `i8`, `f8E4M3FN`, ...)."""
    from eqsat.ir.attributes import SCALAR_TYPES
    from eqsat.ir.attributes import element_bits as attr_bits

    name = dtype.strip()
    if len(name) > 1 and name[0] == "i" and name[1:].isdigit():
        bits = int(name[1:])
    elif name in SCALAR_TYPES:
        bits = attr_bits(SCALAR_TYPES[name])
    else:
        raise EqsatError(f"unknown element type '{dtype}'")
    if bits not in (1, 8, 16, 32, 64):
        raise EqsatError(f"element type '{dtype}' of {bits} bits is not supported in shared memory")
    return max(bits, 8)  # i1 is stored as one byte


def _encoding(text: str, allowed: Sequence[str], role: str) -> tuple[str, dict]:
    from eqsat.ir.layouts import UnsupportedLayout, encoding_from_text, encoding_params

    try:
        kind, params = encoding_params(encoding_from_text(text, f"<{role} encoding>"))
    except UnsupportedLayout as err:
        raise EqsatError(f"{role} encoding: {err}") from None
    if kind not in allowed:
        raise EqsatError(f"{role} encoding is {kind}, expected one of {', '.join(allowed)}")
    return kind, params


def _build(kind: str, params: dict, shape: tuple[int, ...], role: str) -> LinearLayout:
    try:
        return build_pow2(kind, params, shape)
    except (ValueError, KeyError, AssertionError) as err:
        raise EqsatError(f"{role} encoding {kind} does not fit shape {list(shape)}: {err}") from None


def _padded(params: dict, shape: tuple[int, ...]) -> PaddedSharedLayout:
    from eqsat.layout.shared import padded_shared

    try:
        return padded_shared(params["intervals_pads"], params.get("order"), shape=shape,
                             offset_bases=params.get("offset"))
    except (ValueError, KeyError) as err:
        raise EqsatError(f"shared encoding padded_shared does not fit shape {list(shape)}: {err}") from None


# ---------------------------------------------------------------------------------------- F2 helpers

def _flat_basis(basis: Sequence[int], shifts: Sequence[int]) -> int:
    """Flattened tensor index of one basis (first out dim least significant, as Triton's flattenOuts)."""
    flat = 0
    for x, s in zip(basis, shifts, strict=True):
        flat |= int(x) << s
    return flat


def _span(bases: Sequence[int]) -> np.ndarray:
    """Images of every input `0 .. 2^len(bases)-1` of an XOR-linear map given by its basis images."""
    vals = np.zeros(1, dtype=np.int64)
    for b in bases:
        vals = np.concatenate([vals, vals ^ b])
    return vals


def _in_bases(ll: LinearLayout, dim: str, shifts: Sequence[int]) -> list[int]:
    return [_flat_basis(b, shifts) for b in ll.in_bases(dim)] if ll.has_in_dim(dim) else []


# ------------------------------------------------------------------------------------- vectorisation

def largest_vector(reg_offsets: Sequence[int], other_offsets: Sequence[int], max_elems: int,
                   allow_permutation: bool = True) -> tuple[int, list[int]]:
    """Triton's `largestVectorisation` on the map `register/lane/warp -> shared offset`: the largest
    `v <= max_elems` (a power of two) such that offsets `1, 2, .., v/2` are images of register bases and
    no other basis touches the low `log2 v` offset bits. Without `allow_permutation` (Triton passes a
    maximum, for padded_shared, and then refuses permutations) those must be the first register bases.
    Returns `v` and the indices of the chosen register bases in vector order."""
    v = max_elems
    while v > 1:
        k = v.bit_length() - 1
        chosen: list[int] = []
        for t in range(k):
            hits = [i for i, o in enumerate(reg_offsets) if o == 1 << t]
            if not hits:
                break
            chosen.append(hits[0])
        if len(chosen) == k and (allow_permutation or chosen == list(range(k))):
            rest = [o for i, o in enumerate(reg_offsets) if i not in chosen] + list(other_offsets)
            if all(o & (v - 1) == 0 for o in rest):
                return v, chosen
        v //= 2
    return 1, []


def _combination(vectors: Sequence[int], target: int) -> list[int] | None:
    """Indices of `vectors` whose XOR is `target` (over F2), or None when `target` is not in their span."""
    rows: list[tuple[int, int]] = []  # (vector, mask of indices), distinct leading bits
    for i, v in enumerate(vectors):
        m = 1 << i
        for rv, rm in rows:
            if v ^ rv < v:
                v, m = v ^ rv, m ^ rm
        if v:
            rows.append((v, m))
            rows.sort(reverse=True)
    m = 0
    for rv, rm in rows:
        if target ^ rv < target:
            target, m = target ^ rv, m ^ rm
    return None if target else [i for i in range(len(vectors)) if (m >> i) & 1]


def merged_vector(reg_offsets: Sequence[int], other_offsets: Sequence[int], max_elems: int
                  ) -> tuple[int, list[list[int]]]:
    """The vector the PTX ends up with after LLVM's load/store vectorizer: the largest `v <= max_elems`
    such that no lane or warp basis touches the low `log2 v` offset bits (so a thread's base address is
    provably `v`-aligned) and every offset `2^j < v` is in the span of the register offsets (so the
    thread holds whole aligned `v`-blocks, at constant XOR distances: adjacent scalar accesses that the
    vectorizer merges, reordering the values). It is at least `largest_vector`'s `v`, larger when
    registers other than the vector's touch the low bits (a vec = 1 swizzle flipping column bit 0 in a
    thread's rows). Returns `v` and, per vector bit `j`, the register bases whose XOR has offset `2^j`."""
    v = max_elems
    while v > 1:
        k = v.bit_length() - 1
        if all(o & (v - 1) == 0 for o in other_offsets):
            combos = [_combination(reg_offsets, 1 << j) for j in range(k)]
            if all(c is not None for c in combos):
                return v, [c for c in combos if c is not None]
        v //= 2
    return 1, []


def _complement(bases: Sequence[int], of: Sequence[int]) -> list[int]:
    """The bases of `bases` (in order) that extend a basis of span(`of`) to span(`of` + `bases`)."""
    out: list[int] = []
    for b in bases:
        if f2_rank(list(of) + out + [b]) > f2_rank(list(of) + out):
            out.append(b)
    return out


# ---------------------------------------------------------------------------- Triton's own count

def f2_rank(vectors: Sequence[int]) -> int:
    """Rank over F2 of integers read as bit vectors."""
    basis: list[int] = []  # kept with distinct leading bits, largest first
    for v in vectors:
        for b in basis:
            v = min(v, v ^ b)
        if v:
            basis.append(v)
            basis.sort(reverse=True)
    return len(basis)


def gluon_bank_conflicts(offset_bases: Sequence[int], lane_bases: Sequence[int], vec: int, bits: int,
                         offsets: int) -> int:
    """Triton 3.6 `bankConflictsMemDesc` after the vectorisation: `offset_bases[i]` is the (flattened)
    tensor index at offset `2^i` of the shared layout, `lane_bases` those of the register layout's lanes,
    `vec` the elements per vector, `offsets` the shared layout's size. `reshapeIns` splits the offsets into
    vector / bank / segment, `bankConflictsLdSt` keeps the lanes of one phase, `bankConflicts` returns
    `2^dim(span segment ∩ span lanes) - 1` (`intersectionBasis`; here by ranks, the same dimension)."""
    bank = min(1024 // (vec * bits), offsets)
    start = (vec.bit_length() - 1) + (bank.bit_length() - 1)
    segment = [int(b) for b in offset_bases[start:]]
    drop = max(vec * bits // 32, 1).bit_length() - 1
    lanes = [int(b) for b in lane_bases[:len(lane_bases) - drop]]
    common = f2_rank(segment) + f2_rank(lanes) - f2_rank(segment + lanes)
    return (1 << common) - 1


# ------------------------------------------------------------------------------------ bank counting

def lane_group_wavefronts(words: np.ndarray, banks: int, bank_bytes: int, wavefront_bytes: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Wavefronts and ideal wavefronts of lane groups. `words[..., m]`: the 4-byte word indices one lane
    group touches (all its lanes and vector words), `-1` for masked slots. Returns two arrays of shape
    `words.shape[:-1]`: max over banks of distinct words, and `ceil(distinct bytes / wavefront_bytes)`."""
    lead = words.shape[:-1]
    groups = int(np.prod(lead)) if lead else 1
    w = np.sort(words.reshape(groups, -1), axis=1)
    first = np.ones_like(w, dtype=bool)
    first[:, 1:] = w[:, 1:] != w[:, :-1]
    keep = first & (w >= 0)
    rows = np.broadcast_to(np.arange(groups)[:, None], w.shape)
    keys = rows[keep] * banks + (w[keep] % banks)
    counts = np.bincount(keys, minlength=groups * banks).reshape(groups, banks)
    wavefronts = counts.max(axis=1)
    distinct = counts.sum(axis=1)
    ideal = -(-(distinct * bank_bytes) // wavefront_bytes)
    return wavefronts.reshape(lead), ideal.reshape(lead)


def phase_groups(params: TargetParams, instruction: str) -> np.ndarray:
    """The lane groups of `instruction` from the target's `[phases]` table, as an int array
    `[groups, lanes per group]`; checks that they partition the warp."""
    table = params.get("phases", {}).get(instruction)
    if table is None:
        raise EqsatError(f"target '{params.name}' has no phase table for instruction '{instruction}'")
    groups = [list(map(int, g)) for g in table["lanes"]]
    sizes = {len(g) for g in groups}
    lanes = sorted(x for g in groups for x in g)
    if len(sizes) != 1 or lanes != list(range(int(params["warp_size"]))):
        raise EqsatError(f"phase table of '{instruction}' in target '{params.name}' is not a partition of "
                         f"the {params['warp_size']} lanes into equal groups")
    return np.asarray(groups, dtype=np.int64)


def instruction_for(params: TargetParams, direction: str, vector_bytes: int) -> str:
    table = params["shared"]["instructions"][direction]
    key = str(vector_bytes)
    if key not in table:
        raise EqsatError(f"target '{params.name}' has no {direction} instruction of {vector_bytes} bytes")
    return str(table[key])


# ------------------------------------------------------------------------------------------ the model

@dataclass(frozen=True)
class _Tile:
    """Everything about the pair of layouts that does not depend on the target's phase tables."""

    elem_bytes: int
    vec: int  # elements per vector
    instr_flat: np.ndarray  # [instructions] flat index of register part (vector element 0)
    vec_flat: np.ndarray  # [vec] flat index offsets of the vector elements
    lane_flat: np.ndarray  # [lanes]
    lane_active: np.ndarray  # [lanes] False for lanes predicated off (store of a lane-broadcast layout)
    warp_flat: np.ndarray  # [warps issuing]
    table: np.ndarray  # flat tensor index -> physical offset (elements)
    shifts: tuple[int, ...]
    pow2_shape: tuple[int, ...]
    valid_shape: tuple[int, ...]
    gluon_conflicts: int | None  # Triton's count (gluon_bank_conflicts); None: padded or not powers of two
    triton_vec: int  # elements per vector of Triton's own lowering (vec: after LLVM's merging)


@lru_cache(maxsize=512)
def _layouts(distributed: str, shared: str, pow2: tuple[int, ...]
             ) -> tuple[LinearLayout, LinearLayout, PaddedSharedLayout | None]:
    """The register layout, the shared layout (`offset -> index`; for padded_shared its linear component)
    and the padded layout if any, for power-of-two `pow2`. Memoised: layouts are pure functions of text."""
    rkind, rparams = _encoding(distributed, DISTRIBUTED_KINDS, "distributed")
    skind, sparams = _encoding(shared, SHARED_KINDS, "shared")
    reg = _build(rkind, rparams, pow2, "distributed")
    padded = _padded(sparams, pow2) if skind == "padded_shared" else None
    smem = padded.linear if padded is not None else _build(skind, sparams, pow2, "shared")
    return reg, smem, padded


def _tile(distributed: str, shared: str, shape: Sequence[int], dtype: str, direction: str) -> _Tile:
    if direction not in DIRECTIONS:
        raise EqsatError(f"direction must be 'store' or 'load', not '{direction}'")
    valid = tuple(int(s) for s in shape)
    if not valid or any(s <= 0 for s in valid):
        raise EqsatError(f"bad tile shape {list(shape)}")
    pow2 = tuple(next_pow2(s) for s in valid)
    bits = element_bits(dtype)
    reg, smem, padded = _layouts(distributed, shared, pow2)
    names = [f"dim{i}" for i in range(len(pow2))]
    if list(reg.out_dims) != names or list(smem.out_dims) != names:
        raise EqsatError(f"encodings do not have rank {len(pow2)} of shape {list(shape)}")
    shifts, s = [], 0
    for n in pow2:
        shifts.append(s)
        s += n.bit_length() - 1
    numel = 1 << s

    # tensor index -> logical offset (smallest offset when the shared layout repeats elements)
    off_flat = _span(_in_bases(smem, "offset", shifts))
    logical = np.full(numel, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(logical, off_flat, np.arange(off_flat.size, dtype=np.int64))
    if (logical == np.iinfo(np.int64).max).any():
        raise EqsatError(f"shared encoding {shared} does not cover every element of shape {list(shape)}")
    table = np.asarray(padded.padded_offset(logical)) if padded is not None else logical

    reg_bases = [b for b in _in_bases(reg, "register", shifts) if b != 0]  # actionRemoveBroadcastedRegs
    lane_bases = _in_bases(reg, "lane", shifts)
    warp_bases = _in_bases(reg, "warp", shifts)
    reg_off = [int(logical[b]) for b in reg_bases]  # the map register/lane/warp -> offset is linear
    other_off = [int(logical[b]) for b in lane_bases + warp_bases]
    max_elems = max(1, 128 // bits)
    gluon = None
    if padded is None:
        vec_t, _ = largest_vector(reg_off, other_off, max_elems)  # Triton's (bank_conflicts, lowering)
        if valid == pow2:
            gluon = gluon_bank_conflicts(_in_bases(smem, "offset", shifts), lane_bases, vec_t, bits,
                                         smem.total_in_size())
        vec, combos = merged_vector(reg_off, other_off, max_elems)  # what the PTX issues
        triton_vec = vec_t
    else:  # lowerLocalLdSt: at most the smallest interval, no permutation (LLVM rarely merges through
        # the padding arithmetic); and at most the smallest pad, so that a vector stays aligned (Triton's
        # wider one faults: 'misaligned address' on the H200)
        interval = min(i for i, _ in padded.intervals_pads)
        triton_vec, _ = largest_vector(reg_off, other_off, min(max_elems, interval), allow_permutation=False)
        pad = min(p for _, p in padded.intervals_pads)
        vec, chosen = largest_vector(reg_off, other_off, min(max_elems, interval, pad),
                                     allow_permutation=False)
        combos = [[i] for i in chosen]
    vec_bases = []
    for combo in combos:
        flat = 0
        for i in combo:
            flat ^= reg_bases[i]
        vec_bases.append(flat)
    instr_bases = _complement(reg_bases, vec_bases)
    lane_active = np.ones(1 << len(lane_bases), dtype=bool)
    if direction == "store":  # lanes and warps holding a copy of another's data are predicated off
        warp_bases = [b for b in warp_bases if b != 0]
        copy_mask = sum(1 << i for i, b in enumerate(lane_bases) if b == 0)
        lane_active = (np.arange(lane_active.size) & copy_mask) == 0
    return _Tile(bits // 8, vec, _span(instr_bases), _span(vec_bases), _span(lane_bases), lane_active,
                 _span(warp_bases), table, tuple(shifts), pow2, valid, gluon, triton_vec)


def _words(tile: _Tile, groups: np.ndarray) -> np.ndarray:
    """Word indices `[warps, instructions, groups, lanes per group * words per lane element]`."""
    flat = (tile.warp_flat[:, None, None, None, None] ^ tile.instr_flat[None, :, None, None, None]
            ^ tile.lane_flat[groups][None, None, :, :, None] ^ tile.vec_flat[None, None, None, None, :])
    valid = np.broadcast_to(tile.lane_active[groups][None, None, :, :, None], flat.shape).copy()
    if tile.valid_shape != tile.pow2_shape:
        for shift, size, ext in zip(tile.shifts, tile.pow2_shape, tile.valid_shape, strict=True):
            valid &= ((flat >> shift) & (size - 1)) < ext
    byte = tile.table[flat] * tile.elem_bytes
    words = np.where(valid, byte // 4, -1)
    if tile.elem_bytes == 8:  # an 8-byte element covers two words
        words = np.concatenate([words, np.where(valid, words + 1, -1)], axis=-1)
    return words.reshape(words.shape[0], words.shape[1], words.shape[2], -1)


def shared_access(params: TargetParams, distributed: str, shared: str, shape: Sequence[int], dtype: str,
                  direction: str) -> SharedAccess:
    """Simulate a local_store (`direction="store"`) / local_load (`"load"`) of a `shape` tile of `dtype`
    in register layout `distributed` to/from shared encoding `shared` on the target of `params`."""
    tile = _tile(distributed, shared, shape, dtype, direction)
    vector_bytes = tile.vec * tile.elem_bytes
    instruction = instruction_for(params, direction, vector_bytes)
    groups = phase_groups(params, instruction)
    if tile.lane_flat.size != groups.size:
        raise EqsatError(f"the distributed layout has {tile.lane_flat.size} lanes per warp, target "
                         f"'{params.name}' has {groups.size}")
    shared_p: Mapping = params["shared"]
    wf, ideal = lane_group_wavefronts(_words(tile, groups), int(shared_p["banks"]),
                                      int(shared_p["bank_bytes"]), int(shared_p["wavefront_bytes"]))
    per_instr = wf.sum(axis=2)  # [warps, instructions]
    conflicts = (wf - ideal).max(axis=2)
    uniform = bool((per_instr == per_instr[:1]).all() and (conflicts == conflicts[:1]).all())
    return SharedAccess(
        instruction=instruction, vector_bytes=vector_bytes, instructions=int(tile.instr_flat.size),
        wavefronts=int(wf.sum()), ideal_wavefronts=int(ideal.sum()),
        wavefronts_per_instruction=[int(x) for x in per_instr[0]],
        conflicts_per_instruction=[int(x) for x in conflicts[0]],
        warps=int(tile.warp_flat.size), warps_uniform=uniform, gluon_conflicts=tile.gluon_conflicts,
        triton_vector_bytes=tile.triton_vec * tile.elem_bytes)
