"""z3 proofs about F2 index maps (linear layouts), and z3 synthesis of conflict-free XOR swizzles.

A `LinearLayout` over F2 is a matrix: the flattened input (in-dims, first least significant) is a
bit-vector `x`, the output the XOR of the columns of the set bits of `x`. `bitvec_map` builds that
function as a z3 bit-vector term, so properties over *all* inputs are proved by asking z3 for a
counterexample and getting `unsat`:

    prove_bijective(L)        square, and no x != y with L(x) == L(y)       (a swizzle fills its buffer)
    prove_equal(F, G)         no x with F(x) != G(x)                        (same map, any text)
    prove_conversion(a, b)    b(X(x)) == a(x) for X = a.invert_and_compose(b)  (converts are right)
    prove_fold(a, b, c)       a(X_ba(X_cb(x))) == c(x): two chained converts fetch what one does

Each returns a `Proof` (`ok`, and a counterexample text when not). `synthesize_xor_swizzle` asks z3 for
an XOR swizzle `col' = col ^ M row` (bijective by construction) under which the store of one register
layout and the load of another are both conflict-free for a target's phase table (`lane groups` served
by one shared-memory wavefront per access width).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import z3

from eqsat.layout import LinearLayout


@dataclass
class Proof:
    ok: bool
    detail: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _columns(ll: LinearLayout) -> list[int]:
    """The matrix columns as integers (flattened out bits, first out-dim least significant)."""
    m = ll.matrix()
    return [int(sum(int(m[r, c]) << r for r in range(m.shape[0]))) for c in range(m.shape[1])]


def bitvec_map(ll: LinearLayout, x: z3.BitVecRef) -> z3.BitVecRef:
    """L(x) as a z3 term over an input bit-vector of `total_in_bits` bits."""
    n_out = max(1, ll.total_out_bits())
    acc = z3.BitVecVal(0, n_out)
    for i, col in enumerate(_columns(ll)):
        bit = z3.Extract(i, i, x)
        acc = acc ^ z3.If(bit == 1, z3.BitVecVal(col, n_out), z3.BitVecVal(0, n_out))
    return acc


def _solve(*constraints: z3.BoolRef) -> z3.ModelRef | None:
    s = z3.Solver()
    s.set("timeout", 20000)
    s.add(*constraints)
    r = s.check()
    if r == z3.unknown:
        raise TimeoutError("z3 gave up")
    return s.model() if r == z3.sat else None


def prove_bijective(ll: LinearLayout) -> Proof:
    """L is a bijection from its inputs onto its outputs (e.g. a swizzle onto its buffer)."""
    n_in, n_out = ll.total_in_bits(), ll.total_out_bits()
    if n_in != n_out:
        return Proof(False, f"not square: {n_in} input bits, {n_out} output bits")
    if n_in == 0:
        return Proof(True)
    x, y = z3.BitVec("x", n_in), z3.BitVec("y", n_in)
    m = _solve(x != y, bitvec_map(ll, x) == bitvec_map(ll, y))
    if m is None:
        return Proof(True)
    return Proof(False, f"inputs {m.eval(x)} and {m.eval(y)} map to the same output "
                        f"{m.eval(bitvec_map(ll, x))}")


def prove_equal(f: LinearLayout, g: LinearLayout) -> Proof:
    """f and g are the same map (same in-dims and out-dims, in order and size)."""
    if f.in_dim_sizes != g.in_dim_sizes or f.out_dim_sizes != g.out_dim_sizes:
        return Proof(False, f"dims differ: {f.in_dim_sizes}->{f.out_dim_sizes} vs "
                            f"{g.in_dim_sizes}->{g.out_dim_sizes}")
    n = f.total_in_bits()
    if n == 0:
        return Proof(True)
    x = z3.BitVec("x", n)
    m = _solve(bitvec_map(f, x) != bitvec_map(g, x))
    if m is None:
        return Proof(True)
    return Proof(False, f"input {m.eval(x)}: {m.eval(bitvec_map(f, x))} vs {m.eval(bitvec_map(g, x))}")


def _compose_equal(chain: Sequence[LinearLayout], target: LinearLayout) -> Proof:
    """chain[-1](...chain[0](x)) == target(x) for every x (maps given with matching dim names)."""
    n = chain[0].total_in_bits()
    if n != target.total_in_bits():
        return Proof(False, "input widths differ")
    if n == 0:
        return Proof(True)
    x = z3.BitVec("x", n)
    term: z3.BitVecRef = x
    for k, ll in enumerate(chain):
        width = ll.total_in_bits()
        cur = term.size()
        if cur < width:
            term = z3.ZeroExt(width - cur, term)
        elif cur > width:
            return Proof(False, f"map {k} takes {width} bits, gets {cur}")
        term = bitvec_map(ll, term) if width else z3.BitVecVal(0, max(1, ll.total_out_bits()))
    want = bitvec_map(target, x)
    if term.size() != want.size():
        return Proof(False, f"output widths differ: {term.size()} vs {want.size()}")
    m = _solve(term != want)
    if m is None:
        return Proof(True)
    return Proof(False, f"slot {m.eval(x)}: chain gives {m.eval(term)}, target {m.eval(want)}")


def prove_conversion(a: LinearLayout, b: LinearLayout) -> Proof:
    """The conversion X = a.invert_and_compose(b) fetches, for every slot x of a, the element a holds:
    b(X(x)) == a(x)."""
    x_map = a.invert_and_compose(b)
    return _compose_equal([x_map, b.transpose_outs(list(a.out_dims))], a)


def prove_fold(a: LinearLayout, b: LinearLayout, c: LinearLayout) -> Proof:
    """convert(convert(t, a, b), b, c) == convert(t, a, c): slot x of c ends up holding what a holds at
    X_ba(X_cb(x)), which must be c(x)."""
    x_cb = c.invert_and_compose(b)
    x_ba = b.invert_and_compose(a)
    return _compose_equal([x_cb, x_ba, a.transpose_outs(list(c.out_dims))], c)


# ------------------------------------------------------------------------------------------ synthesis
# z3's deterministic work counter (`rlimit`), not wall-clock time, bounds a synthesis: whether a swizzle is
# found must not depend on the machine's load. ~1.5e6 is about a second of this solver on the machines
# the corpus was timed on (gather_rows_1024's three problems give up at it; every other corpus problem
# needs under 1e5). The wall-clock timeout is only a backstop against a runaway solve.
SYNTHESIS_RLIMIT = 1_500_000


@dataclass
class AccessPattern:
    """One warp-collective shared access: which coordinate each lane's vector starts at, how many bytes a
    lane moves per instruction, and the lane groups one wavefront serves (the target's phase table)."""

    lane_coords: list[tuple[int, int]]  # (row, col) for lane 0..n-1 at register 0, warp 0
    vector_bytes: int
    phases: list[list[int]]


def _bank_conflict_pairs(p: AccessPattern) -> list[tuple[int, int]]:
    """Lane pairs of one phase that read different vectors: they must land in different banks."""
    pairs = []
    for group in p.phases:
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if p.lane_coords[a] != p.lane_coords[b]:
                    pairs.append((a, b))
    return pairs


def synthesize_xor_swizzle(rows: int, cols: int, elem_bytes: int, vec: int,
                           accesses: Sequence[AccessPattern], rlimit: int = SYNTHESIS_RLIMIT,
                           timeout_ms: int = 20000) -> list[list[int]] | None:
    """An XOR swizzle of a row-major `rows x cols` buffer (offset = row * cols + (col ^ M row), M acting
    on whole `vec`-element vectors) under which every access is conflict-free, as `#ttg.shared_linear`
    offset bases ([dim0, dim1] per offset bit), or None when z3 proves there is none of this form or does
    not find one within `rlimit` units of work (the optimizer's budget, the same on every machine; the
    answer is a function of the arguments alone: a fresh z3 context per call)."""
    rb, cb, vb = rows.bit_length() - 1, cols.bit_length() - 1, vec.bit_length() - 1
    if (1 << rb) != rows or (1 << cb) != cols or (1 << vb) != vec or vb > cb:
        raise ValueError("synthesis needs power-of-two rows, cols and vec <= cols")
    free = cb - vb  # column bits a swizzle may flip (whole vectors only)
    # a fresh context per synthesis: which model z3 returns must not depend on earlier solves
    ctx = z3.Context()
    m = [[z3.Bool(f"m_{i}_{j}", ctx) for j in range(free)] for i in range(rb)]  # row bit i flips col vb+j
    word_shift = max(0, (4 // elem_bytes).bit_length() - 1)

    def difference_bits(drow: int, dcol: int) -> list[z3.BoolRef]:
        # the offset map is linear over F2, so whether two lanes' offset bits differ depends only on the
        # XOR of their coordinates: offset bits of row-major (drow, dcol ^ M drow)
        bits: list[z3.BoolRef] = []
        for k in range(cb):
            terms = [m[i][k - vb] for i in range(rb) if k >= vb and (drow >> i) & 1]
            const = bool((dcol >> k) & 1)
            if not terms:
                bits.append(z3.BoolVal(const, ctx))
            else:
                x = terms[0] if len(terms) == 1 else z3.Xor(terms[0], terms[1]) if len(terms) == 2 \
                    else z3.Sum([z3.If(t, 1, 0) for t in terms]) % 2 == 1
                bits.append(z3.Not(x) if const else x)
        for i in range(rb):
            bits.append(z3.BoolVal(bool((drow >> i) & 1), ctx))
        return bits

    s = z3.Solver(ctx=ctx)
    s.set("rlimit", int(rlimit))
    s.set("timeout", int(timeout_ms))
    for p in accesses:
        lo = (p.vector_bytes // elem_bytes).bit_length() - 1  # offset bits inside one lane's vector
        hi = (128 // elem_bytes).bit_length() - 1  # offset bits inside one 128-byte wavefront
        lo, hi = max(lo, word_shift), hi
        differences = {(p.lane_coords[a][0] ^ p.lane_coords[b][0], p.lane_coords[a][1] ^ p.lane_coords[b][1])
                       for a, b in _bank_conflict_pairs(p)}
        for drow, dcol in sorted(differences):
            d = difference_bits(drow, dcol)
            # different banks, or the very same word/vector (a broadcast, no conflict)
            in_window = d[lo:min(hi, len(d))]
            above = d[hi:]
            true = z3.BoolVal(True, ctx)
            s.add(z3.Or(*in_window, z3.Not(z3.Or(*above)) if above else true)
                  if in_window else z3.Not(z3.Or(*above)) if above else true)
    r = s.check()
    if r != z3.sat:
        return None
    model = s.model()
    mat = [[bool(z3.is_true(model.eval(m[i][j], model_completion=True))) for j in range(free)]
           for i in range(rb)]
    bases: list[list[int]] = [[0, 1 << k] for k in range(cb)]  # offset bits: columns first
    for i in range(rb):
        flip = sum(1 << (vb + j) for j in range(free) if mat[i][j])
        bases.append([1 << i, flip])
    return bases
