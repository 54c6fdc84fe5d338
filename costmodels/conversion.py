"""Register and warp movement: how Triton 3.6 lowers `ttg.convert_layout`, mirrored on eqsat's F2 layouts.

The decision logic follows Triton's source:

* `minimalCvtLayout` (lib/Analysis/Utility.cpp): `comp = dst.invertAndCompose(src)`, then quotient out the
  in-dims common to both layouts from the slowest (`block`, `warp`, `lane`, `register`) while `comp` is
  trivial over them (identity on the dim, no mixing with the others).
* `ConvertLayoutOpConversion::matchAndRewrite` (lib/Conversion/TritonGPUToLLVM/ConvertLayoutOpToLLVM.cpp):
  nothing left -> the op is dropped; only `register` left -> `transferWithinThread` (a register
  permutation); `lane` left and `cvtNeedsWarpShuffle` -> `transferWithinWarp` (warp shuffles); otherwise
  `transferWithinBlockSwizzling` (a shared-memory round trip).
* `cvtNeedsWarpShuffle`: out-dims exactly {register, lane} and fewer than two mixed register/lane
  transpositions in `getWarpLayoutConvertDecomposition` (the permutation P of hardware index bits
  factored as P_mixed o P_lane o P_reg).
* `optimalSwizzlingLdSt` (lib/Tools/GenericSwizzling.cpp, with `getVbasis`, `computeSegment`,
  `complementBasis`, `buildReps`): the shared layout of the round trip (vector, bank, segment bases) and
  its `reps` (rounds, one barrier pair each, scratch = tile / reps).

Everything works on flattened F2 bases (ints, first tensor dim least significant), as Triton does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from eqsat.layout import LinearLayout

REGISTER, LANE, WARP, BLOCK = "register", "lane", "warp", "block"


# ----------------------------------------------------------------------------------------- F2 helpers
def flat_bases(ll: LinearLayout, in_dim: str) -> list[int]:
    """The bases of `in_dim` as flat ints (out-dims flattened, first out-dim least significant)."""
    if not ll.has_in_dim(in_dim):
        return []
    shifts = []
    s = 0
    for d in ll.out_dims:
        shifts.append(s)
        s += ll.get_out_dim_size_log2(d)
    return [sum(x << sh for x, sh in zip(b, shifts, strict=True)) for b in ll.in_bases(in_dim)]


def unflatten(value: int, sizes_log2: list[int]) -> list[int]:
    out = []
    for k in sizes_log2:
        out.append(value & ((1 << k) - 1))
        value >>= k
    return out


def _rref(rows: list[int], dim: int) -> list[int]:
    """Reduced row echelon form over F2 of bit rows; each nonzero row's lowest bit is its pivot."""
    mat = [r for r in rows]
    r = 0
    for c in range(dim):
        piv = next((i for i in range(r, len(mat)) if mat[i] >> c & 1), None)
        if piv is None:
            continue
        mat[r], mat[piv] = mat[piv], mat[r]
        for i in range(len(mat)):
            if i != r and mat[i] >> c & 1:
                mat[i] ^= mat[r]
        r += 1
    return mat


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


def nullspace_basis(vectors: list[int], dim: int) -> list[int]:
    """GenericSwizzling.cpp `nullspaceBasis`: a basis of {x : <v, x> = 0 for all v}."""
    mat = _rref(vectors, dim)
    pivots = {_ctz(m) for m in mat if m}
    basis = []
    for free in range(dim):
        if free in pivots:
            continue
        vec = 1 << free
        for m in mat:
            if m and m >> free & 1:
                vec ^= 1 << _ctz(m)
        basis.append(vec)
    return basis


def complement_basis(basis: list[int], dim: int) -> list[int]:
    """GenericSwizzling.cpp `complementBasis`: unit vectors completing `basis` to the whole space."""
    pivots = {_ctz(m) for m in _rref(basis, dim) if m}
    return [1 << i for i in range(dim) if i not in pivots]


def intersection_basis(b1: list[int], b2: list[int], dim: int) -> list[int]:
    """GenericSwizzling.cpp `intersectionBasis` (order of `b1` kept for unit vectors)."""
    if all(b & (b - 1) == 0 for b in b1) and all(b & (b - 1) == 0 for b in b2):
        s2 = set(b2)
        return [b for b in b1 if b != 0 and b in s2]
    return nullspace_basis(nullspace_basis(b1, dim) + nullspace_basis(b2, dim), dim)


def remove_broadcast_registers(ll: LinearLayout) -> LinearLayout:
    """`actionRemoveBroadcastedRegs`: drop the register bases that are zero (duplicated data)."""
    bases = ll.bases
    if REGISTER in bases:
        bases[REGISTER] = [b for b in bases[REGISTER] if any(b)]
    return LinearLayout(bases, dict(ll.out_dim_sizes))


# ------------------------------------------------------------------------------- minimalCvtLayout
def _quotient_ok(comp: LinearLayout, dim: str) -> bool:
    """`LinearLayout::quotient(dim)` succeeds: `dim` maps identically to itself and nothing else maps to
    it or from it."""
    if not comp.has_in_dim(dim) or not comp.has_out_dim(dim):
        return False
    if not comp.is_trivial_over([dim]):
        return False
    j = comp.out_dims.index(dim)
    size_in = comp.get_in_dim_size_log2(dim)
    if size_in != comp.get_out_dim_size_log2(dim):
        return False
    for name in comp.in_dims:
        if name == dim:
            continue
        if any(b[j] for b in comp.in_bases(name)):
            return False
    return True


def minimal_conversion(src: LinearLayout, dst: LinearLayout) -> LinearLayout:
    """Triton's `minimalCvtLayout`: dst hardware index -> src hardware index, identity dims removed."""
    comp = dst.invert_and_compose(src)
    common = []
    s_dims, d_dims = list(src.in_dims), list(dst.in_dims)
    for a, b in zip(reversed(s_dims), reversed(d_dims), strict=False):
        if a != b:
            break
        common.append(a)
    for dim in common:
        if not _quotient_ok(comp, dim):
            break
        keep_in = [d for d in comp.in_dims if d != dim]
        keep_out = [d for d in comp.out_dims if d != dim]
        comp = comp.sublayout(keep_in, keep_out)
    return comp


# ------------------------------------------------------------------ getWarpLayoutConvertDecomposition
@dataclass
class WarpDecomposition:
    n_reg_bases: int
    n_lane_bases: int
    mixed_transpositions: list[tuple[int, int]]
    lane_permutation_trivial: bool
    n_pack: int


def warp_decomposition(src: LinearLayout, dst: LinearLayout, bitwidth: int) -> WarpDecomposition:
    """The cycle walk of Triton's `getWarpLayoutConvertDecomposition` up to the mixed transpositions."""
    src = remove_broadcast_registers(src)
    dst = remove_broadcast_registers(dst)
    n_reg = max(src.get_in_dim_size_log2(REGISTER), dst.get_in_dim_size_log2(REGISTER))
    n_lane = max(src.get_in_dim_size_log2(LANE), dst.get_in_dim_size_log2(LANE))
    out_sizes = dict(src.out_dim_sizes)

    def padded(ll: LinearLayout) -> LinearLayout:
        b = ll.bases
        zero = [0] * len(ll.out_dims)
        regs = b.get(REGISTER, []) + [zero] * (n_reg - len(b.get(REGISTER, [])))
        lanes = b.get(LANE, []) + [zero] * (n_lane - len(b.get(LANE, [])))
        return LinearLayout({REGISTER: regs, LANE: lanes}, out_sizes)

    s, t = padded(src), padded(dst)
    p = s.invert_and_compose(t)  # S's (register, lane) -> T's (register, lane)
    p_bases = {d: [list(v) for v in p.in_bases(d)] for d in (REGISTER, LANE)}
    out_names = list(p.out_dims)
    reg_j, lane_j = out_names.index(REGISTER), out_names.index(LANE)
    dims = [REGISTER, LANE]
    sflat = {d: flat_bases(s, d) for d in dims}
    tflat = {d: flat_bases(t, d) for d in dims}
    src_zero, dst_zero = [], []
    for di, d in enumerate(dims):
        for i in range(len(sflat[d])):
            sv, tv = sflat[d][i], tflat[d][i]
            if sv == 0 and tv == 0:
                vec = [0, 0]
                vec[reg_j if di == 0 else lane_j] = 1 << i
                p_bases[d][i] = vec
            elif sv == 0:
                src_zero.append((di, i))
            elif tv == 0:
                dst_zero.append((di, i))
    for (sdi, si), (ddi, dii) in zip(src_zero, dst_zero, strict=False):
        vec = [0, 0]
        vec[reg_j if ddi == 0 else lane_j] = 1 << dii
        p_bases[dims[sdi]][si] = vec

    def nxt(d: str, i: int) -> tuple[str, int]:
        vec = p_bases[d][i]
        nd, ni = d, i
        for k, v in enumerate(vec):
            if v:
                nd, ni = out_names[k], v.bit_length() - 1
        return nd, ni

    lane_perm = list(range(n_lane))
    mixed: list[tuple[int, int]] = []
    visited: set[tuple[str, int]] = set()
    for d in dims:
        for i in range(n_reg if d == REGISTER else n_lane):
            if (d, i) in visited:
                continue
            cur = (d, i)
            lane_start = lane_end = reg_end = -1
            for _ in range(n_reg + n_lane + 1):
                visited.add(cur)
                nd, ni = nxt(*cur)
                if cur[0] == LANE and nd == LANE:
                    lane_perm[cur[1]] = ni
                elif cur[0] == REGISTER and nd == LANE:
                    lane_start = ni  # r_m -> l_j: the excised lane run starts here
                elif cur[0] == LANE and nd == REGISTER:
                    reg_end, lane_end = ni, cur[1]
                if reg_end >= 0:
                    lane_perm[lane_end] = lane_start
                    mixed.append((reg_end, lane_start))
                    lane_start = lane_end = reg_end = -1
                cur = (nd, ni)
                if cur == (d, i):
                    break
    n_pack_prelim = max(0, (min(4, max(1, 32 // bitwidth))).bit_length() - 1)
    n_pack = max(0, min(n_pack_prelim, n_reg - len(mixed)))
    return WarpDecomposition(n_reg, n_lane, mixed, lane_perm == list(range(n_lane)), n_pack)


# ----------------------------------------------------------------------------- optimalSwizzlingLdSt
def _compute_segment(bank_src: list[int], bank_dst: list[int], dim: int, len_segment: int) -> list[int]:
    set_src = {b for b in bank_src if b}
    set_dst = {b for b in bank_dst if b}
    segment = [1 << b for b in range(dim) if (1 << b) not in set_src and (1 << b) not in set_dst]
    if len(segment) >= len_segment:
        return segment[:len_segment]
    a = sorted(v for v in set_src if v not in set_dst)
    b = sorted(v for v in set_dst if v not in set_src)
    if len(a) > len(b):
        a, b = b, a
    log_conflicts = min(max(0, len_segment - len(a) - len(segment)), len(a))
    for i in range(log_conflicts, len(a)):
        segment.append(a[i] ^ b[i])
    segment += a[:log_conflicts]
    segment += b[:log_conflicts]
    return segment[:len_segment]


@dataclass
class SwizzlePlan:
    """Triton's shared layout for a convert round trip: flat bases per in-dim, and what they imply."""

    vector: list[int]
    bank: list[int]
    segment: list[int]
    reps: list[int]
    out_sizes: dict[str, int]
    vector_bits_store: int  # bits of one st.shared (vector of the src registers)
    vector_bits_load: int
    triton_conflicts: tuple[int, int]  # (read, write): 2^dim(segment ∩ lane tile) - 1 per instruction
    tile_src: list[int] = field(default_factory=list)
    tile_dst: list[int] = field(default_factory=list)
    store_kind: str = "shared"  # shared (st.shared / ds_write) | matrix (stmatrix) | matrix.trans
    load_kind: str = "shared"  # shared (ld.shared / ds_read) | matrix (ldmatrix) | matrix.trans

    @property
    def num_reps(self) -> int:
        return 1 << len(self.reps)

    def offset_bases(self) -> list[list[int]]:
        sizes = [(v.bit_length() - 1) for v in self.out_sizes.values()]
        return [unflatten(b, sizes) for b in self.vector + self.bank + self.segment + self.reps]

    def shared_linear_text(self) -> str:
        """The layout as a `#ttg.shared_linear` encoding (offset -> tensor index), for the bank simulator."""
        bases = ", ".join("[" + ", ".join(str(x) for x in b) + "]" for b in self.offset_bases())
        return f"#ttg.shared_linear<{{offset = [{bases}]}}, alignment = 16>"


def _swizzle_core(
    src_reg: list[int],
    dst_reg: list[int],
    out_sizes: dict[str, int],
    bitwidth: int,
    vbasis: list[int],
    tile_src: list[int],
    tile_dst: list[int],
    leave_reps: int = 0,
) -> tuple[list[int], list[int], list[int], list[int]]:
    """GenericSwizzling.cpp `optimalSwizzling(src, dst, bitwidth, vbasis, tileSrc, tileDst, outDims,
    leaveReps)` followed by `buildReps`: returns (vector, bank, segment, reps) flat bases."""
    dim = sum(v.bit_length() - 1 for v in out_sizes.values())
    bank_src = vbasis + tile_src
    bank_dst = vbasis + tile_dst
    bank_bits = 32 * 32
    len_b = min(max(0, (bank_bits // ((1 << len(vbasis)) * bitwidth)).bit_length() - 1), dim - len(vbasis))
    len_s = dim - len_b - len(vbasis)
    sbasis = _compute_segment(bank_src, bank_dst, dim, len_s)
    bbasis = complement_basis(vbasis + sbasis, dim)
    src_regs, dst_regs = set(src_reg), set(dst_reg)
    segment: list[int] = []
    reps: list[int] = []
    for s in sbasis:  # buildReps: in registers of both sides -> a round, except the first `leave_reps`
        if s in src_regs and s in dst_regs:
            if leave_reps > 0:
                leave_reps -= 1
                segment.append(s)
            else:
                reps.append(s)
        else:
            segment.append(s)
    return list(vbasis), bbasis, segment, reps


def _bank_conflicts(
    segment: list[int], tile_src: list[int], tile_dst: list[int], dim: int
) -> tuple[int, int]:
    """GenericSwizzling.cpp `bankConflicts`: (read, write) = 2^dim(segment ∩ tile) - 1."""
    write = 1 << len(intersection_basis(segment, tile_src, dim))
    read = 1 << len(intersection_basis(segment, tile_dst, dim))
    return read - 1, write - 1


def optimal_swizzling_ldst(src: LinearLayout, dst: LinearLayout, bitwidth: int) -> SwizzlePlan:
    """Triton 3.6's `optimalSwizzlingLdSt` (register broadcasting removed first, as its callers do): the
    shared layout of the generic lowering (`ld.shared`/`st.shared`, AMD `ds_read`/`ds_write`).

    The 3.6 version (checked against libtriton's symbols: no `getVbasis`, a one-argument `removeVec` lambda
    and a `ColumnAction` on the bank bases): vector = registers common to both sides (at most 128 bits);
    below 32 bits it is filled with the registers of one side that are warps of the other (`srcFillsBank`),
    then warps common to both, then warps of either side alternately, trimmed to one bank word; after the
    swizzle, when the vector is under 64 bits, the bank bases that are registers of the filling side are
    moved first so that side can still vectorise."""
    src = remove_broadcast_registers(src)
    dst = remove_broadcast_registers(dst)
    out_sizes = dict(src.out_dim_sizes)
    dim = sum(v.bit_length() - 1 for v in out_sizes.values())
    reg_src, reg_dst = flat_bases(src, REGISTER), flat_bases(dst, REGISTER)
    lane_src, lane_dst = flat_bases(src, LANE), flat_bases(dst, LANE)
    vbasis = intersection_basis(reg_src, reg_dst, dim)[: (128 // bitwidth).bit_length() - 1]
    src_fills: bool | None = None
    if (1 << len(vbasis)) * bitwidth < 32:
        per_bank = (32 // bitwidth).bit_length() - 1
        warp_src = [w for w in flat_bases(src, WARP) if w]
        warp_dst = [w for w in flat_bases(dst, WARP) if w]
        reg_src_warp = intersection_basis([r for r in reg_src if r not in vbasis], warp_dst, dim)
        reg_dst_warp = intersection_basis([r for r in reg_dst if r not in vbasis], warp_src, dim)
        if len(reg_src_warp) == len(reg_dst_warp) and reg_src_warp:
            src_fills = min(reg_src_warp) < min(reg_dst_warp)
        else:
            src_fills = len(reg_src_warp) > len(reg_dst_warp)
        vbasis = vbasis + (reg_src_warp if src_fills else reg_dst_warp)
        if len(vbasis) < per_bank:
            vbasis += intersection_basis(warp_src, warp_dst, dim)
        i = 0
        while len(vbasis) < per_bank and (i < len(warp_src) or i < len(warp_dst)):
            if i < len(warp_src) and warp_src[i] not in vbasis:
                vbasis.append(warp_src[i])
            if len(vbasis) < per_bank and i < len(warp_dst) and warp_dst[i] not in vbasis:
                vbasis.append(warp_dst[i])
            i += 1
        vbasis = vbasis[:per_bank]
    log2_vec = max(1, ((1 << len(vbasis)) * bitwidth) // 32).bit_length() - 1
    tile_src = lane_src[: len(lane_src) - log2_vec] if log2_vec else list(lane_src)
    tile_dst = lane_dst[: len(lane_dst) - log2_vec] if log2_vec else list(lane_dst)
    vec, bank, segment, reps = _swizzle_core(
        reg_src, reg_dst, out_sizes, bitwidth, vbasis, tile_src, tile_dst
    )
    if log2_vec < 2:  # reorder the bank bases so that one side vectorises further
        in_src = [i for i, r in enumerate(bank) if r in reg_src]
        in_dst = [i for i, r in enumerate(bank) if r in reg_dst]
        if src_fills is True:
            order = in_src
        elif src_fills is False:
            order = in_dst
        else:
            order = in_src if len(in_src) > len(in_dst) else in_dst
        order = order + [i for i in range(len(bank)) if i not in order]
        bank = [bank[i] for i in order]
    return SwizzlePlan(
        vec,
        bank,
        segment,
        reps,
        out_sizes,
        vector_bits_store=0,
        vector_bits_load=0,
        triton_conflicts=_bank_conflicts(segment, tile_src, tile_dst, dim),
        tile_src=tile_src,
        tile_dst=tile_dst,
    )


# ------------------------------------------------------------- optimalSwizzling with instruction tiles
@dataclass(frozen=True)
class LocalMemOpTile:
    """GenericSwizzling.h `LocalMemOpTile`: lane bits of the contiguous part and of the addresses."""

    lane_contig: tuple[int, ...]
    lane_addr: tuple[int, ...]


LDST_SHARED = LocalMemOpTile((), (0, 1, 2))  # ld.shared / st.shared .v4
LDST_MATRIX = LocalMemOpTile((0, 1), (2, 3, 4))  # ldmatrix / stmatrix .x4
LDST_MATRIX_TRANS = LocalMemOpTile((2, 3, 4), (0, 1))  # ldmatrix.trans / stmatrix.trans .x4
TILE_NAMES = {LDST_SHARED: "shared", LDST_MATRIX: "matrix", LDST_MATRIX_TRANS: "matrix.trans"}


def src_dst_tiles(
    compute_capability: int, bitwidth: int
) -> tuple[list[LocalMemOpTile], list[LocalMemOpTile]]:
    """lib/Conversion/TritonGPUToLLVM/Utility.cpp `getSrcDstTiles` with the NVIDIA TargetInfo:
    `supportLdMatrix` = sm >= 75, `supportStMatrix` = sm >= 90; src tiles are stores, dst tiles loads."""
    src, dst = [LDST_SHARED], [LDST_SHARED]
    ld, st = compute_capability >= 75, compute_capability >= 90
    if ld or st:
        if bitwidth <= 32:
            if st:
                src.append(LDST_MATRIX)
            if ld:
                dst.append(LDST_MATRIX)
        if bitwidth == 16:
            if st:
                src.append(LDST_MATRIX_TRANS)
            if ld:
                dst.append(LDST_MATRIX_TRANS)
    return src, dst


def _lane_images(cvt: LinearLayout, lane: int) -> tuple[int, int]:
    """`cvt.getBasis(lane, i, register)` and `cvt.getBasis(lane, i, lane)` of a conversion layout."""
    vec = cvt.in_bases(LANE)[lane]
    names = list(cvt.out_dims)
    reg = vec[names.index(REGISTER)] if REGISTER in names else 0
    ln = vec[names.index(LANE)] if LANE in names else 0
    return reg, ln


def _optimal_swizzling_tile(
    a: LinearLayout,
    b: LinearLayout,
    n_reg_a: int,
    n_reg_b: int,
    tile_a: tuple[int, ...],
    tile_b: tuple[int, ...],
) -> list[int] | None:
    """GenericSwizzling.cpp `optimalSwizzlingTile`: the vector bases shared by both instructions."""
    if n_reg_a < n_reg_b:
        return _optimal_swizzling_tile(b, a, n_reg_b, n_reg_a, tile_b, tile_a)
    dim = sum(v.bit_length() - 1 for v in a.out_dim_sizes.values())
    reg_a, reg_b = flat_bases(a, REGISTER), flat_bases(b, REGISTER)
    lane_a, lane_b = flat_bases(a, LANE), flat_bases(b, LANE)
    vbasis = intersection_basis(reg_a, reg_b, dim)
    if len(vbasis) < n_reg_b:
        return None
    vbasis = vbasis[:n_reg_b]
    lane_tile_a = [lane_a[i] for i in tile_a]
    lane_tile_b = [lane_b[i] for i in tile_b]
    if any(x == 0 for x in lane_tile_a) or any(x == 0 for x in lane_tile_b):
        return None
    cvt = b.invert_and_compose(a)  # b's hardware index -> a's
    for i in range(n_reg_a - n_reg_b):  # the first lanes of b must be registers of a
        if _lane_images(cvt, tile_b[i])[0] == 0:
            return None
    tail_b = tile_b[len(tile_b) - len(tile_a) :] if tile_a else ()
    for idx_a, idx_b in zip(tile_a, tail_b, strict=True):  # the rest must be the same lanes
        if _lane_images(cvt, idx_b)[1] != 1 << idx_a:
            return None
    return vbasis + lane_tile_b


def _instr_tile(
    tile: LocalMemOpTile, regs: list[int], lanes: list[int], vbasis: list[int]
) -> list[int] | None:
    """`getTile` in `optimalSwizzling`: 3 - |laneAddr| registers not in vbasis, then the address lanes."""
    need = 3 - len(tile.lane_addr)
    out: list[int] = []
    for r in regs:
        if need == 0:
            break
        if r not in vbasis:
            out.append(r)
            need -= 1
    if need > 0:
        return None
    return out + [lanes[i] for i in tile.lane_addr]


def optimal_swizzling(
    src: LinearLayout,
    dst: LinearLayout,
    bitwidth: int,
    src_tiles: list[LocalMemOpTile],
    dst_tiles: list[LocalMemOpTile],
) -> SwizzlePlan:
    """GenericSwizzling.cpp `optimalSwizzling(src, dst, srcTiles, dstTiles, bitwidth)`, the NVIDIA
    lowering's choice (ConvertLayoutOpSwizzlingConversion in third_party/nvidia ConvertLayoutOpToLLVM.cpp):
    every (store tile, load tile) pair whose vector tiles match is tried; the fewest Triton bank conflicts
    win, ties go to more rounds (`reps`), then to the first pair; no pair -> `optimalSwizzlingLdSt`."""
    src = remove_broadcast_registers(src)
    dst = remove_broadcast_registers(dst)
    out_sizes = dict(src.out_dim_sizes)
    dim = sum(v.bit_length() - 1 for v in out_sizes.values())
    total = (128 // bitwidth).bit_length() - 1
    reg_src, reg_dst = flat_bases(src, REGISTER), flat_bases(dst, REGISTER)
    lane_src, lane_dst = flat_bases(src, LANE), flat_bases(dst, LANE)
    best: tuple[int, int, SwizzlePlan] | None = None
    for ts in src_tiles:
        for td in dst_tiles:
            vb = _optimal_swizzling_tile(
                src,
                dst,
                total - len(ts.lane_contig),
                total - len(td.lane_contig),
                ts.lane_contig,
                td.lane_contig,
            )
            if vb is None:
                continue
            tsrc = _instr_tile(ts, reg_src, lane_src, vb)
            tdst = _instr_tile(td, reg_dst, lane_dst, vb)
            if tsrc is None or tdst is None:
                continue
            leave = min(
                len(ts.lane_contig) + len(ts.lane_addr) - 3, len(td.lane_contig) + len(td.lane_addr) - 3
            )
            vec, bank, segment, reps = _swizzle_core(
                reg_src, reg_dst, out_sizes, bitwidth, vb, tsrc, tdst, leave
            )
            read, write = _bank_conflicts(segment, tsrc, tdst, dim)
            plan = SwizzlePlan(
                vec,
                bank,
                segment,
                reps,
                out_sizes,
                vector_bits_store=0,
                vector_bits_load=0,
                triton_conflicts=(read, write),
                tile_src=tsrc,
                tile_dst=tdst,
                store_kind=TILE_NAMES[ts],
                load_kind=TILE_NAMES[td],
            )
            key = (read + write, -len(reps))
            if best is None or key < best[:2]:
                best = (key[0], key[1], plan)
    if best is None:
        return optimal_swizzling_ldst(src, dst, bitwidth)
    return best[2]


# ----------------------------------------------------------------------------------- classification
@dataclass
class ConvertPlan:
    """How Triton lowers one convert, with its per-thread counts (per CTA: multiply by threads)."""

    path: str  # none | registers | shuffle | shared
    remaining_dims: tuple[str, ...]
    shuffles_per_thread: int = 0
    selects_per_thread: int = 0
    mixed_transpositions: int = 0
    swizzle: SwizzlePlan | None = None
    registers_per_thread: int = 0
    warp_sync: bool = False  # shared path: `isCvtWarpSync` -> warp-level barriers (bar.warp.sync)


def is_cvt_warp_sync(src: LinearLayout, dst: LinearLayout) -> bool:
    """lib/Analysis/Utility.cpp `isCvtWarpSync`: the warp dim maps to itself and neither layout broadcasts
    over warps, so each warp only reads what it wrote and a warp barrier suffices."""
    comp = dst.invert_and_compose(src)
    if comp.has_in_dim(WARP) and not comp.is_trivial_over([WARP]):
        return False
    return not src.free_variable_masks().get(WARP, 0) and not dst.free_variable_masks().get(WARP, 0)


def swizzle_for(
    src: LinearLayout, dst: LinearLayout, bitwidth: int, family: str = "nvidia", compute_capability: int = 90
) -> SwizzlePlan:
    """The shared layout Triton 3.6 picks for a convert round trip: NVIDIA's instruction-aware
    `optimalSwizzling` with `getSrcDstTiles` (third_party/nvidia ConvertLayoutOpSwizzlingConversion),
    elsewhere (AMD) the generic `optimalSwizzlingLdSt` (lib/Conversion ConvertLayoutOpToLLVM.cpp)."""
    bitwidth = max(8, bitwidth)  # transferWithinBlockSwizzling upcasts sub-byte types to i8
    if family == "nvidia":
        src_tiles, dst_tiles = src_dst_tiles(compute_capability, bitwidth)
        return optimal_swizzling(src, dst, bitwidth, src_tiles, dst_tiles)
    return optimal_swizzling_ldst(src, dst, bitwidth)


def classify(
    src: LinearLayout, dst: LinearLayout, bitwidth: int, family: str = "nvidia", compute_capability: int = 90
) -> ConvertPlan:
    """The path Triton takes for a convert from `src` to `dst` (both power-of-two register layouts)."""
    comp = minimal_conversion(src, dst)
    dims = tuple(comp.out_dims)
    nregs = src.get_in_dim_size(REGISTER) if src.has_in_dim(REGISTER) else 1
    if not dims:
        return ConvertPlan("none", dims)
    if BLOCK in dims or WARP in dims:
        return ConvertPlan(
            "shared",
            dims,
            swizzle=swizzle_for(src, dst, bitwidth, family, compute_capability),
            registers_per_thread=nregs,
            warp_sync=is_cvt_warp_sync(src, dst),
        )
    if LANE in dims:
        if dims == (REGISTER, LANE):
            dec = warp_decomposition(src, dst, 32)
            if len(dec.mixed_transpositions) < 2:
                return _shuffle_plan(dims, dec, src, dst, bitwidth)
        return ConvertPlan(
            "shared",
            dims,
            swizzle=swizzle_for(src, dst, bitwidth, family, compute_capability),
            registers_per_thread=nregs,
            warp_sync=is_cvt_warp_sync(src, dst),
        )
    return ConvertPlan("registers", dims, registers_per_thread=nregs)


def _shuffle_plan(
    dims: tuple[str, ...], dec: WarpDecomposition, src: LinearLayout, dst: LinearLayout, bitwidth: int
) -> ConvertPlan:
    """`transferWithinWarp`: registers packed into 32-bit words (2^nPack elements each); one
    `shfl.sync.idx` per packed word for the lane permutation, and for a mixed transposition one
    `shfl.sync` per packed word plus a select before and after it."""
    regs = 1 << dec.n_reg_bases
    n_pack = warp_decomposition(src, dst, bitwidth).n_pack
    words = max(1, regs >> n_pack)
    m = len(dec.mixed_transpositions)
    shuffles = words * ((0 if dec.lane_permutation_trivial else 1) + m)
    if not dec.lane_permutation_trivial and m:
        shuffles = words  # the lane permutation rides on the transposition's shuffle
    selects = 2 * words * m
    return ConvertPlan(
        "shuffle",
        dims,
        shuffles_per_thread=shuffles,
        selects_per_thread=selects,
        mixed_transpositions=m,
        registers_per_thread=regs,
    )


@lru_cache(maxsize=4096)
def classify_texts(
    src: str,
    dst: str,
    shape: tuple[int, ...],
    bitwidth: int,
    family: str = "nvidia",
    compute_capability: int = 90,
) -> ConvertPlan:
    """`classify` on encoding texts (cached per (src, dst, shape, bitwidth, target))."""
    from eqsat.costmodels.common import pow2_layout

    return classify(pow2_layout(src, shape), pow2_layout(dst, shape), bitwidth, family, compute_capability)


# ------------------------------------------------------------------------------- the shared round trip
@dataclass
class SharedStep:
    """One side (store or load) of one round of a shared-memory convert, per warp.

    `instruction`: the PTX/AMDGCN family (`st.shared.v4.b32`, `stmatrix.x4`, `ldmatrix.x4.trans`,
    `ds_write_b128`, ...); `vector_bytes`: bytes per lane per instruction; `instructions`: per thread and
    round; `wavefronts` / `ideal_wavefronts`: per round, summed over the warps that issue it;
    `conflicts_per_instruction`: excess wavefronts of the worst lane group, per instruction of warp 0."""

    instruction: str
    vector_bytes: int
    instructions: int
    wavefronts: int
    ideal_wavefronts: int
    conflicts_per_instruction: list[int]
    source: str  # "banks.shared_access" or "conversion.matrix_wavefronts"


@dataclass
class SharedRoundTrip:
    """`transferWithinBlockSwizzling`: `reps` rounds of (store, barrier, load), a barrier between rounds."""

    swizzle: str  # the #ttg.shared_linear layout Triton builds (all rounds: reps bases are the top offsets)
    reps: int
    barriers: int  # 2 * reps - 1
    barrier: str  # bar.sync | bar.warp.sync (NVIDIA), s_barrier | wave_barrier (AMD)
    store: SharedStep
    load: SharedStep
    triton_conflicts: tuple[int, int]  # (read, write) by Triton's own `bankConflicts`

    def as_info(self) -> dict:
        return {
            "swizzle": self.swizzle,
            "reps": self.reps,
            "barriers": self.barriers,
            "barrier": self.barrier,
            "store": self.store.__dict__,
            "load": self.load.__dict__,
            "triton_conflicts": {"read": self.triton_conflicts[0], "write": self.triton_conflicts[1]},
        }


def _matrix_step(
    params: Mapping, ll: LinearLayout, plan: SwizzlePlan, kind: str, direction: str, bitwidth: int
) -> SharedStep:
    """ldmatrix / stmatrix (`lowerLdStMatrix` in third_party/nvidia TritonNVIDIAGPUToLLVM/Utility.cpp): one
    instruction moves min(128 / bitwidth, registers of a round) elements per thread, i.e. .x1/.x2/.x4 8x8
    b16 matrices of 8 rows x 16 bytes. Non-transposed: a row is the 32-bit words of lanes 4r..4r+3 (registers
    at offsets 1, 2, .. then lanes 0, 1), rows are lanes 2, 3, 4. Transposed: a row is lanes 2, 3, 4 and the
    rows are the first round register and lanes 0, 1. Each matrix is served as one phase (`[phases]` table:
    8 lanes of 16 bytes); its wavefronts = most distinct 4-byte words in one bank. banks.shared_access
    cannot be told to use these instructions, so the count is made here from the same layouts and params."""
    from eqsat.costmodels.banks import lane_group_wavefronts

    ll = remove_broadcast_registers(ll)
    sizes = [v.bit_length() - 1 for v in plan.out_sizes.values()]
    dim = sum(sizes)
    # tensor flat index -> offset: invert the offset bases (vector, bank, segment, reps)
    offs = plan.vector + plan.bank + plan.segment + plan.reps
    assert len(offs) == dim
    table = [0] * (1 << dim)
    for o in range(1 << dim):
        t = 0
        for i, b in enumerate(offs):
            if o >> i & 1:
                t ^= b
        table[t] = o
    regs = flat_bases(ll, REGISTER)
    lanes = flat_bases(ll, LANE)
    warps = [w for w in flat_bases(ll, WARP) if w]
    round_regs = [r for r in regs if r not in set(plan.reps)]
    eb = bitwidth // 8
    if kind == "matrix":
        contig_regs = []
        for t in range((32 // bitwidth).bit_length() - 1):
            hit = next(r for r in round_regs if table[r] == 1 << t)
            contig_regs.append(hit)
        matrix_bases = contig_regs + lanes[:5]
    else:  # matrix.trans (b16): rows = first round register and lanes 0, 1; contiguous = lanes 2, 3, 4
        contig_regs = round_regs[:1]
        matrix_bases = contig_regs + lanes[:5]
    others = [r for r in round_regs if r not in contig_regs] + warps
    elems = [0]
    for b in matrix_bases:
        elems = elems + [e ^ b for e in elems]
    groups = [0]
    for b in others:
        groups = groups + [g ^ b for g in groups]
    words = np.array([[table[g ^ e] * eb // 4 for e in elems] for g in groups], dtype=np.int64)
    sp = params["shared"]
    wf, ideal = lane_group_wavefronts(
        words, int(sp["banks"]), int(sp["bank_bytes"]), int(sp["wavefront_bytes"])
    )
    n_round = 1 << len(round_regs)
    per_instr = min(128 // bitwidth, n_round)
    x = per_instr * bitwidth // 32
    name = f"{'st' if direction == 'store' else 'ld'}matrix.x{x}" + (
        ".trans" if kind == "matrix.trans" else ""
    )
    n_instr = n_round // per_instr
    matrices_per_warp = len(groups) >> len(warps)
    conflicts = [int(wf[i * x : (i + 1) * x].max() - 1) for i in range(min(n_instr, matrices_per_warp // x))]
    return SharedStep(
        name,
        per_instr * eb,
        n_instr,
        int(wf.sum()),
        int(ideal.sum()),
        conflicts,
        "conversion.matrix_wavefronts",
    )


def _ldst_step(
    params: Mapping, text: str, plan: SwizzlePlan, shape: tuple[int, ...], dtype: str, direction: str
) -> SharedStep:
    """ld.shared / st.shared (ds_read / ds_write): `lowerLdStShared` -> `largestVectorisation`, which is what
    banks.shared_access simulates; it sees all rounds at once (the reps bases are the highest offsets)."""
    from eqsat.costmodels.banks import shared_access

    acc = shared_access(params, text, plan.shared_linear_text(), shape, dtype, direction)
    reps = plan.num_reps
    return SharedStep(
        acc.instruction,
        acc.vector_bytes,
        acc.instructions // reps,
        acc.wavefronts // reps,
        acc.ideal_wavefronts // reps,
        list(acc.conflicts_per_instruction[: acc.instructions // reps]),
        "banks.shared_access",
    )


def shared_round_trip(
    params: Mapping, src: str, dst: str, shape: tuple[int, ...], dtype: str, plan: ConvertPlan | None = None
) -> SharedRoundTrip:
    """The whole shared-memory convert as Triton 3.6 emits it on `params`' target (power-of-two `shape`)."""
    from eqsat.costmodels.common import dtype_bits, pow2_layout

    family, cc = target_family(params)
    shape = tuple(int(s) for s in shape)
    dtype = "i64" if dtype.startswith("!tt.ptr") else dtype
    bitwidth = max(8, dtype_bits(dtype))
    if plan is None:
        plan = classify_texts(src, dst, shape, bitwidth, family, cc)
    if plan.path != "shared" or plan.swizzle is None:
        raise ValueError(f"convert takes the {plan.path} path, not shared memory")
    sw = plan.swizzle
    pshape = tuple(sw.out_sizes.values())
    sides = []
    for text, kind, direction in ((src, sw.store_kind, "store"), (dst, sw.load_kind, "load")):
        if kind == "shared":
            sides.append(_ldst_step(params, text, sw, pshape, dtype, direction))
        else:
            sides.append(_matrix_step(params, pow2_layout(text, shape), sw, kind, direction, bitwidth))
    if family == "nvidia":
        barrier = "bar.warp.sync" if plan.warp_sync else "bar.sync"
    else:
        barrier = "wave_barrier" if plan.warp_sync else "s_barrier"
    return SharedRoundTrip(
        sw.shared_linear_text(),
        sw.num_reps,
        2 * sw.num_reps - 1,
        barrier,
        sides[0],
        sides[1],
        sw.triton_conflicts,
    )


def target_family(params: Mapping) -> tuple[str, int]:
    """(model family, compute capability) from a target's params (`model`, `triton_target`)."""
    family = str(params.get("model", "nvidia"))
    tt = params.get("triton_target", ["cuda", 90, 32])
    cc = int(tt[1]) if family == "nvidia" and isinstance(tt[1], int) else 0
    return family, cc
