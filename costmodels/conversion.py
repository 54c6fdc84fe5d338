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

from dataclasses import dataclass, field
from functools import lru_cache

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


def _vbasis(reg_src: list[int], reg_dst: list[int], lane_src: list[int], lane_dst: list[int], dim: int,
            bitwidth: int) -> list[int]:
    """GenericSwizzling.cpp `getVbasis`."""
    vbasis = intersection_basis(reg_src, reg_dst, dim)
    max_vec = (128 // bitwidth).bit_length() - 1 if bitwidth <= 128 else 0
    vbasis = vbasis[:max_vec]
    bases_per_bank = 0 if bitwidth > 32 else (32 // bitwidth).bit_length() - 1
    lane_src_set, lane_dst_set = set(lane_src), set(lane_dst)

    def after_bank0(regs: list[int], vb: list[int], other_lane: set[int]) -> list[int]:
        vec: list[int] = []
        max_log2 = (128 // max(bitwidth, 32)).bit_length() - 1
        for r in regs:
            if len(vec) == max_log2:
                break
            if r in vb:
                continue
            if r in other_lane:
                vec.append(r)
            if len(vec) == max_log2:
                break
        return vec

    vec_src = True
    if (1 << len(vbasis)) * bitwidth < 32:
        def is_prefix(prefix: list[int], regs: list[int]) -> bool:
            return len(prefix) <= len(regs) and regs[:len(prefix)] == prefix

        src_prefix, dst_prefix = is_prefix(vbasis, reg_src), is_prefix(vbasis, reg_dst)
        if vbasis and not src_prefix and not dst_prefix:
            reg_src = vbasis + [r for r in reg_src if r not in vbasis]
            reg_dst = vbasis + [r for r in reg_dst if r not in vbasis]
            src_prefix = dst_prefix = True

        def fill(regs: list[int], vb: list[int]) -> list[int]:
            return vb + [regs[i] for i in range(len(vb), min(bases_per_bank, len(regs)))]

        if src_prefix and dst_prefix:
            vs = after_bank0(reg_src, fill(reg_src, vbasis), lane_dst_set)
            vd = after_bank0(reg_dst, fill(reg_dst, vbasis), lane_src_set)
            src_prefix = len(vs) >= len(vd)
        vec_src = src_prefix
        vbasis = fill(reg_src if vec_src else reg_dst, vbasis)
    vbasis = vbasis + (after_bank0(reg_src, vbasis, lane_dst_set) if vec_src
                       else after_bank0(reg_dst, vbasis, lane_src_set))
    return vbasis


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


def _vector_size(regs: list[int], vbasis: list[int]) -> int:
    for i, v in enumerate(vbasis):
        if not (i < len(regs) and regs[i] == v):
            return i
    return len(vbasis)


def optimal_swizzling_ldst(src: LinearLayout, dst: LinearLayout, bitwidth: int) -> SwizzlePlan:
    """Triton's `optimalSwizzlingLdSt` (register broadcasting removed first, as its callers do)."""
    src = remove_broadcast_registers(src)
    dst = remove_broadcast_registers(dst)
    out_sizes = dict(src.out_dim_sizes)
    dim = sum(v.bit_length() - 1 for v in out_sizes.values())
    reg_src, reg_dst = flat_bases(src, REGISTER), flat_bases(dst, REGISTER)
    lane_src, lane_dst = flat_bases(src, LANE), flat_bases(dst, LANE)
    vbasis = _vbasis(reg_src, reg_dst, lane_src, lane_dst, dim, bitwidth)
    tile_src, tile_dst = list(lane_src), list(lane_dst)
    vs = _vector_size(reg_src, vbasis)
    if (1 << vs) * bitwidth > 32:
        vn = ((1 << vs) * bitwidth // 32).bit_length() - 1
        tile_src = tile_src[:len(tile_src) - vn]
    vd = _vector_size(reg_dst, vbasis)
    if (1 << vd) * bitwidth > 32:
        vn = ((1 << vd) * bitwidth // 32).bit_length() - 1
        tile_dst = tile_dst[:len(tile_dst) - vn]
    tile_src = [b for b in tile_src if b not in vbasis]
    tile_dst = [b for b in tile_dst if b not in vbasis]
    # optimalSwizzling
    bank_src = vbasis + tile_src
    bank_dst = vbasis + tile_dst
    bank_bits = 32 * 32
    len_b = min(max(0, (bank_bits // ((1 << len(vbasis)) * bitwidth)).bit_length() - 1), dim - len(vbasis))
    len_s = dim - len_b - len(vbasis)
    sbasis = _compute_segment(bank_src, bank_dst, dim, len_s)
    bbasis = complement_basis(vbasis + sbasis, dim)
    # buildReps: a segment basis in registers of both sides moves to `reps`
    src_regs, dst_regs = set(reg_src), set(reg_dst)
    segment = [s for s in sbasis if not (s in src_regs and s in dst_regs)]
    reps = [s for s in sbasis if s in src_regs and s in dst_regs]
    dimn = dim
    write = 1 << len(intersection_basis(segment, tile_src, dimn))
    read = 1 << len(intersection_basis(segment, tile_dst, dimn))
    return SwizzlePlan(vbasis, bbasis, segment, reps, out_sizes,
                       vector_bits_store=min(128, (1 << vs) * bitwidth),
                       vector_bits_load=min(128, (1 << vd) * bitwidth),
                       triton_conflicts=(read - 1, write - 1), tile_src=tile_src, tile_dst=tile_dst)


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


def classify(src: LinearLayout, dst: LinearLayout, bitwidth: int) -> ConvertPlan:
    """The path Triton takes for a convert from `src` to `dst` (both power-of-two register layouts)."""
    comp = minimal_conversion(src, dst)
    dims = tuple(comp.out_dims)
    nregs = src.get_in_dim_size(REGISTER) if src.has_in_dim(REGISTER) else 1
    if not dims:
        return ConvertPlan("none", dims)
    if BLOCK in dims or WARP in dims:
        return ConvertPlan("shared", dims, swizzle=optimal_swizzling_ldst(src, dst, bitwidth),
                           registers_per_thread=nregs)
    if LANE in dims:
        if dims == (REGISTER, LANE):
            dec = warp_decomposition(src, dst, 32)
            if len(dec.mixed_transpositions) < 2:
                return _shuffle_plan(dims, dec, src, dst, bitwidth)
        return ConvertPlan("shared", dims, swizzle=optimal_swizzling_ldst(src, dst, bitwidth),
                           registers_per_thread=nregs)
    return ConvertPlan("registers", dims, registers_per_thread=nregs)


def _shuffle_plan(dims: tuple[str, ...], dec: WarpDecomposition, src: LinearLayout, dst: LinearLayout,
                  bitwidth: int) -> ConvertPlan:
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
    return ConvertPlan("shuffle", dims, shuffles_per_thread=shuffles, selects_per_thread=selects,
                       mixed_transpositions=m, registers_per_thread=regs)


@lru_cache(maxsize=4096)
def classify_texts(src: str, dst: str, shape: tuple[int, ...], bitwidth: int) -> ConvertPlan:
    """`classify` on encoding texts (cached per (src, dst, shape, bitwidth))."""
    from eqsat.costmodels.common import pow2_layout

    return classify(pow2_layout(src, shape), pow2_layout(dst, shape), bitwidth)
