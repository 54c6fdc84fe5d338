"""The ``LinearLayout`` value type: an F2-linear map between named, power-of-two index spaces.

This module holds the algebra only (construction, evaluation, products, composition, inversion and
the least-squares solve behind ``invert_and_compose``).  The encodings that *build* layouts live in
``distributed.py`` and ``shared.py``; the helpers that fit a layout to a tensor shape live in
``shape.py``.  See the package docstring for the mathematics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property

import numpy as np

Basis = tuple[int, ...]
InDims = tuple[tuple[str, tuple[Basis, ...]], ...]
OutDims = tuple[tuple[str, int], ...]


def is_pow2(n: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return n > 0 and (n & (n - 1)) == 0


def log2(n: int) -> int:
    """Exact base-2 logarithm of a power of two."""
    if not is_pow2(n):
        raise ValueError(f"{n} is not a power of two")
    return n.bit_length() - 1


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (1 for n <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


class LinearLayout:
    """An immutable F2-linear map ``in-dims -> out-dims`` given by one basis vector per input bit.

    ``bases[in_dim][i]`` is the image of ``in_dim = 2**i`` (all other inputs zero): a tuple with one
    integer per out dim.  Any other input is the XOR of the images of its set bits.
    """

    def __init__(
        self,
        bases: Mapping[str, Sequence[Sequence[int]]] | Iterable[tuple[str, Sequence[Sequence[int]]]],
        out_dims: Mapping[str, int] | Sequence[str] | Sequence[tuple[str, int]],
        require_surjective: bool = False,
    ) -> None:
        items = list(bases.items()) if isinstance(bases, Mapping) else list(bases)
        names_in = [n for n, _ in items]
        if len(set(names_in)) != len(names_in):
            raise ValueError(f"duplicate in-dim names {names_in}")
        if isinstance(out_dims, Mapping):
            out_list: list[tuple[str, int | None]] = [(k, int(v)) for k, v in out_dims.items()]
        else:
            out_list = [(d, None) if isinstance(d, str) else (d[0], int(d[1])) for d in out_dims]
        n_out = len(out_list)
        in_t: list[tuple[str, tuple[Basis, ...]]] = []
        for name, bs in items:
            tb: list[Basis] = []
            for b in bs:
                b = tuple(int(x) for x in b)
                if len(b) != n_out:
                    raise ValueError(f"basis {b} of in-dim {name!r} has {len(b)} entries, expected {n_out}")
                if any(x < 0 for x in b):
                    raise ValueError(f"negative basis {b} in in-dim {name!r}")
                tb.append(b)
            in_t.append((str(name), tuple(tb)))
        out_t: list[tuple[str, int]] = []
        for j, (name, size) in enumerate(out_list):
            if size is None:
                m = 0
                for _, bs in in_t:
                    for b in bs:
                        m |= b[j]
                size = next_pow2(m + 1) if m else 1
            if not is_pow2(size):
                raise ValueError(f"out-dim {name!r} has size {size}, not a power of two")
            out_t.append((str(name), size))
        if len({n for n, _ in out_t}) != len(out_t):
            raise ValueError(f"duplicate out-dim names {[n for n, _ in out_t]}")
        for name, bs in in_t:
            for b in bs:
                for j, (oname, size) in enumerate(out_t):
                    if b[j] >= size:
                        raise ValueError(f"basis {b} of {name!r} exceeds size {size} of out-dim {oname!r}")
        self._in: InDims = tuple(in_t)
        self._out: OutDims = tuple(out_t)
        if require_surjective and not self.is_surjective():
            raise ValueError(f"layout is not surjective:{self}")

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def empty() -> LinearLayout:
        """The layout with no in-dims and no out-dims (the unit of ``*``)."""
        return LinearLayout({}, [])

    @staticmethod
    def identity_1d(size: int, in_dim: str, out_dim: str) -> LinearLayout:
        """``in_dim = i -> out_dim = i`` for ``0 <= i < size``."""
        return LinearLayout({in_dim: [(1 << i,) for i in range(log2(size))]}, {out_dim: size})

    @staticmethod
    def zeros_1d(size: int, in_dim: str, out_dim: str, out_size: int = 1) -> LinearLayout:
        """Every ``in_dim`` value maps to ``out_dim = 0`` (broadcast)."""
        return LinearLayout({in_dim: [(0,)] * log2(size)}, {out_dim: out_size})

    @staticmethod
    def strided_1d(size: int, stride: int, in_dim: str, out_dim: str) -> LinearLayout:
        """``in_dim = i -> out_dim = i * stride``."""
        return LinearLayout({in_dim: [(stride << i,) for i in range(log2(size))]}, [out_dim])

    # ------------------------------------------------------------------ accessors
    @property
    def in_dims(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self._in)

    @property
    def out_dims(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self._out)

    @property
    def bases(self) -> dict[str, list[list[int]]]:
        """A fresh ``{in_dim: [[...], ...]}`` copy (Triton's ``getBases``)."""
        return {n: [list(b) for b in bs] for n, bs in self._in}

    def in_bases(self, in_dim: str) -> tuple[Basis, ...]:
        return dict(self._in)[in_dim]

    @property
    def out_dim_sizes(self) -> dict[str, int]:
        return dict(self._out)

    def get_in_dim_size(self, in_dim: str) -> int:
        return 1 << len(self.in_bases(in_dim))

    def get_in_dim_size_log2(self, in_dim: str) -> int:
        return len(self.in_bases(in_dim))

    def get_out_dim_size(self, out_dim: str) -> int:
        return dict(self._out)[out_dim]

    def get_out_dim_size_log2(self, out_dim: str) -> int:
        return log2(self.get_out_dim_size(out_dim))

    def has_in_dim(self, name: str) -> bool:
        return name in self.in_dims

    def has_out_dim(self, name: str) -> bool:
        return name in self.out_dims

    @property
    def in_dim_sizes(self) -> dict[str, int]:
        return {n: 1 << len(bs) for n, bs in self._in}

    def total_in_size(self) -> int:
        return 1 << self.total_in_bits()

    def total_out_size(self) -> int:
        return 1 << self.total_out_bits()

    def total_in_bits(self) -> int:
        return sum(len(bs) for _, bs in self._in)

    def total_out_bits(self) -> int:
        return sum(log2(s) for _, s in self._out)

    def get_basis(self, in_dim: str, i: int, out_dim: str) -> int:
        return self.in_bases(in_dim)[i][self.out_dims.index(out_dim)]

    # ------------------------------------------------------------------ value semantics
    def _key(self) -> tuple[InDims, OutDims]:
        return (self._in, self._out)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearLayout) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("_in", "_out") and not hasattr(self, name):
            object.__setattr__(self, name, value)
        elif name in ("_in", "_out"):
            raise AttributeError("LinearLayout is immutable")
        else:
            object.__setattr__(self, name, value)

    def equal_ignoring_out_dim_sizes(self, other: LinearLayout) -> bool:
        return self._in == other._in and self.out_dims == other.out_dims

    def __repr__(self) -> str:
        return f"LinearLayout({self.bases!r}, {dict(self._out)!r})"

    def __str__(self) -> str:
        outs = "[" + ", ".join(f"{n} (size {s})" for n, s in self._out) + "]"
        if not self._in:
            return "\n(empty layout)" if not self._out else f"\n(empty layout with out-dims {outs})"
        ret = "\n"
        for name, bs in self._in:
            if not bs:
                ret += f" - {name} is a size 1 dimension\n"
                continue
            ret += " - " + "\n   ".join(
                f"{name}={1 << i} -> (" + ", ".join(map(str, b)) + ")" for i, b in enumerate(bs)
            ) + "\n"
        return ret + "where out dims are: " + outs

    # ------------------------------------------------------------------ matrix view
    @cached_property
    def _matrix(self) -> np.ndarray:
        """F2 matrix, rows = out bits (first out dim least significant), cols = in bits (same)."""
        rows = self.total_out_bits()
        cols = self.total_in_bits()
        mat = np.zeros((rows, cols), dtype=np.uint8)
        c = 0
        out_logs = [log2(s) for _, s in self._out]
        for _, bs in self._in:
            for b in bs:
                r = 0
                for j, lg in enumerate(out_logs):
                    for k in range(lg):
                        mat[r + k, c] = (b[j] >> k) & 1
                    r += lg
                c += 1
        mat.setflags(write=False)
        return mat

    def matrix(self) -> np.ndarray:
        """The layout as an F2 matrix (rows: flattened out bits, cols: flattened in bits)."""
        return self._matrix.copy()

    def rank(self) -> int:
        """Rank over F2 of the matrix (log2 of the number of distinct outputs)."""
        return f2_rank(self._matrix)

    # ------------------------------------------------------------------ evaluation
    def apply(self, inputs: Mapping[str, int]) -> dict[str, int]:
        """Evaluate at one point; missing in-dims count as 0.  Returns ``{out_dim: value}``."""
        for k in inputs:
            if k not in self.in_dims:
                raise KeyError(f"unknown in-dim {k!r}")
        acc = [0] * len(self._out)
        for name, bs in self._in:
            v = int(inputs.get(name, 0))
            if v < 0 or v >= (1 << len(bs)):
                raise ValueError(f"{name}={v} out of range [0, {1 << len(bs)})")
            i = 0
            while v:
                if v & 1:
                    acc = [a ^ x for a, x in zip(acc, bs[i], strict=True)]
                v >>= 1
                i += 1
        return dict(zip(self.out_dims, acc, strict=True))

    def apply_array(self, inputs: Mapping[str, np.ndarray | int]) -> dict[str, np.ndarray]:
        """Vectorised ``apply``: each input is an integer array (broadcast together)."""
        arrs = {k: np.asarray(v, dtype=np.int64) for k, v in inputs.items()}
        shape = np.broadcast_shapes(*(a.shape for a in arrs.values())) if arrs else ()
        acc = [np.zeros(shape, dtype=np.int64) for _ in self._out]
        for name, bs in self._in:
            if name not in arrs:
                continue
            v = arrs[name]
            for i, b in enumerate(bs):
                bit = ((v >> i) & 1).astype(bool)
                for j, x in enumerate(b):
                    if x:
                        acc[j] = np.where(bit, acc[j] ^ x, acc[j])
        return dict(zip(self.out_dims, acc, strict=True))

    def apply_all(self) -> np.ndarray:
        """Outputs for every input, shape ``(total_in_size, n_out_dims)``.

        Row ``k`` is the image of the flattened input ``k`` (first in-dim least significant).
        """
        n = self.total_in_size()
        idx = np.arange(n, dtype=np.int64)
        out = np.zeros((n, len(self._out)), dtype=np.int64)
        bit = 0
        for _, bs in self._in:
            for b in bs:
                sel = ((idx >> bit) & 1).astype(bool)
                out[sel] ^= np.asarray(b, dtype=np.int64)
                bit += 1
        return out

    def apply_all_flat(self) -> np.ndarray:
        """Like ``apply_all`` but each output flattened (first out dim least significant)."""
        out = self.apply_all()
        flat = np.zeros(out.shape[0], dtype=np.int64)
        shift = 0
        for j, (_, size) in enumerate(self._out):
            flat |= out[:, j] << shift
            shift += log2(size)
        return flat

    # ------------------------------------------------------------------ properties
    def is_surjective(self) -> bool:
        return self.rank() == self.total_out_bits()

    def is_injective(self) -> bool:
        return self.rank() == self.total_in_bits()

    def is_invertible(self) -> bool:
        return self.total_in_bits() == self.total_out_bits() and self.is_surjective()

    def is_trivial_over(self, dims: Iterable[str]) -> bool:
        """True when each named in-dim is missing or maps identically onto the same-named out-dim."""
        for d in dims:
            if not self.has_in_dim(d):
                continue
            if not self.has_out_dim(d):
                if any(any(b) for b in self.in_bases(d)):
                    return False
                continue
            j = self.out_dims.index(d)
            for i, b in enumerate(self.in_bases(d)):
                if any(x != ((1 << i) if k == j else 0) for k, x in enumerate(b)):
                    return False
        return True

    def free_variable_masks(self) -> dict[str, int]:
        """Per in-dim, a mask of input bits whose value never changes the output.

        Computed as in Triton: row-reduce the matrix; a column that is not a pivot column is free
        (its basis is the XOR of earlier bases, so it duplicates data -- broadcasting).
        """
        mat = self._matrix.copy()
        rows, cols = mat.shape
        pivots: set[int] = set()
        r = 0
        for c in range(cols):
            piv = next((i for i in range(r, rows) if mat[i, c]), None)
            if piv is None:
                continue
            mat[[r, piv]] = mat[[piv, r]]
            for i in range(rows):
                if i != r and mat[i, c]:
                    mat[i] ^= mat[r]
            pivots.add(c)
            r += 1
        ret: dict[str, int] = {}
        c = 0
        for name, bs in self._in:
            m = 0
            for i in range(len(bs)):
                if c not in pivots:
                    m |= 1 << i
                c += 1
            ret[name] = m
        return ret

    # ------------------------------------------------------------------ products
    def __mul__(self, other: LinearLayout) -> LinearLayout:
        """Triton's ``operator*``: the direct product.

        In- and out-dims are unions (this layout's first, then the other's new ones).  Each in-dim's
        bases are this layout's bases followed by the other's, the other's values scaled by this
        layout's size in every shared out-dim (so ``other`` tiles ``self``).
        """
        out_names = list(self.out_dims) + [d for d in other.out_dims if d not in self.out_dims]
        a_out = dict(self._out)
        b_out = dict(other._out)
        out_sizes = {d: a_out.get(d, 1) * b_out.get(d, 1) for d in out_names}
        in_names = list(self.in_dims) + [d for d in other.in_dims if d not in self.in_dims]
        a_in = dict(self._in)
        b_in = dict(other._in)
        bases: dict[str, list[Basis]] = {}
        for name in in_names:
            lst: list[Basis] = []
            for b in a_in.get(name, ()):
                m = dict(zip(self.out_dims, b, strict=True))
                lst.append(tuple(m.get(d, 0) for d in out_names))
            for b in b_in.get(name, ()):
                m = dict(zip(other.out_dims, b, strict=True))
                lst.append(tuple(m.get(d, 0) * a_out.get(d, 1) for d in out_names))
            bases[name] = lst
        return LinearLayout(bases, [(d, out_sizes[d]) for d in out_names])

    # ------------------------------------------------------------------ reorder / reshape
    def transpose_outs(self, order: Sequence[str]) -> LinearLayout:
        """Reorder the out-dims (a permutation of the current names)."""
        if sorted(order) != sorted(self.out_dims):
            raise ValueError(f"{list(order)} is not a permutation of {list(self.out_dims)}")
        idx = [self.out_dims.index(d) for d in order]
        bases = {n: [tuple(b[i] for i in idx) for b in bs] for n, bs in self._in}
        return LinearLayout(bases, [(d, self.get_out_dim_size(d)) for d in order])

    def transpose_ins(self, order: Sequence[str]) -> LinearLayout:
        """Reorder the in-dims (a permutation of the current names)."""
        if sorted(order) != sorted(self.in_dims):
            raise ValueError(f"{list(order)} is not a permutation of {list(self.in_dims)}")
        d = dict(self._in)
        return LinearLayout([(n, d[n]) for n in order], self._out)

    def flatten_outs(self) -> LinearLayout:
        """One out-dim (named like the first) of size ``total_out_size``; first out dim is minor."""
        if not self._out:
            return self
        return self.reshape_outs([(self.out_dims[0], self.total_out_size())])

    def flatten_ins(self) -> LinearLayout:
        """One in-dim (named like the first) of size ``total_in_size``; first in dim is minor."""
        if not self._in:
            return self
        return self.reshape_ins([(self.in_dims[0], self.total_in_size())])

    def reshape_outs(self, new_out_dims: Sequence[tuple[str, int]]) -> LinearLayout:
        """Reinterpret the flattened out space with new dims (first dim least significant)."""
        total = 1
        for _, s in new_out_dims:
            total *= s
        if total != self.total_out_size():
            raise ValueError(f"reshape_outs to {list(new_out_dims)}: size {total} != {self.total_out_size()}")
        shifts_old = []
        sh = 0
        for _, s in self._out:
            shifts_old.append(sh)
            sh += log2(s)
        bases: dict[str, list[Basis]] = {}
        for name, bs in self._in:
            lst = []
            for b in bs:
                flat = 0
                for x, s0 in zip(b, shifts_old, strict=True):
                    flat |= x << s0
                nb = []
                for _, s in new_out_dims:
                    nb.append(flat & (s - 1))
                    flat >>= log2(s)
                lst.append(tuple(nb))
            bases[name] = lst
        return LinearLayout(bases, list(new_out_dims))

    def reshape_ins(self, new_in_dims: Sequence[tuple[str, int]]) -> LinearLayout:
        """Reinterpret the flattened in space with new dims (first dim least significant)."""
        flat = [b for _, bs in self._in for b in bs]
        total = 1
        for _, s in new_in_dims:
            total *= s
        if total != self.total_in_size():
            raise ValueError(f"reshape_ins to {list(new_in_dims)}: size {total} != {self.total_in_size()}")
        bases: dict[str, list[Basis]] = {}
        i = 0
        for name, s in new_in_dims:
            n = log2(s)
            bases[name] = flat[i : i + n]
            i += n
        return LinearLayout(bases, self._out)

    def sublayout(self, in_dims: Sequence[str], out_dims: Sequence[str]) -> LinearLayout:
        """Restrict to the given in-dims and out-dims (kept in this layout's order)."""
        ins = [(n, bs) for n, bs in self._in if n in in_dims]
        idx = [j for j, d in enumerate(self.out_dims) if d in out_dims]
        bases = {n: [tuple(b[j] for j in idx) for b in bs] for n, bs in ins}
        return LinearLayout(bases, [self._out[j] for j in idx])

    def sublayout_is_zero(self, in_dims: Sequence[str], out_dims: Sequence[str]) -> bool:
        sub = self.sublayout(in_dims, out_dims)
        return all(not any(b) for _, bs in sub._in for b in bs)

    def resize_in_dim(self, in_dim: str, size: int) -> LinearLayout:
        """Truncate (or zero-extend) one in-dim to ``size``."""
        n = log2(size)
        bases = {}
        for name, bs in self._in:
            if name == in_dim:
                bs = tuple(bs[:n]) + ((0,) * len(self._out),) * max(0, n - len(bs))
            bases[name] = bs
        return LinearLayout(bases, self._out)

    def with_out_dim_sizes(self, sizes: Mapping[str, int]) -> LinearLayout:
        """Same bases, explicit out-dim sizes (must still contain every basis)."""
        return LinearLayout(self._in, [(d, sizes.get(d, s)) for d, s in self._out])

    # ------------------------------------------------------------------ composition / inversion
    def compose(self, outer: LinearLayout) -> LinearLayout:
        """``outer ∘ self``: this layout's out-dims are fed into ``outer``'s same-named in-dims."""
        for d in self.out_dims:
            if not outer.has_in_dim(d):
                raise ValueError(f"compose: outer has no in-dim {d!r}")
            if self.get_out_dim_size(d) > outer.get_in_dim_size(d):
                raise ValueError(f"compose: out-dim {d!r} larger than outer's in-dim")
        bases: dict[str, list[Basis]] = {}
        for name, bs in self._in:
            lst = []
            for b in bs:
                r = outer.apply(dict(zip(self.out_dims, b, strict=True)))
                lst.append(tuple(r[d] for d in outer.out_dims))
            bases[name] = lst
        return LinearLayout(bases, outer._out)

    def invert_and_compose(self, outer: LinearLayout) -> LinearLayout:
        """Triton's ``A.invertAndCompose(B)``: the map ``X`` with ``outer(X(x)) == self(x)``.

        Goes from ``self``'s in-dims to ``outer``'s in-dims.  In-dims with identical bases in both
        layouts map identically; the rest is solved with ``lstsq`` (free variables set to zero,
        so broadcast data is fetched from the lowest-index copy).
        """
        out_names = list(self.out_dims)
        if sorted(out_names) != sorted(outer.out_dims):
            raise ValueError("invert_and_compose: out-dims differ")
        a = outer.transpose_outs(out_names)
        b = self
        for d in out_names:
            if a.get_out_dim_size(d) < b.get_out_dim_size(d):
                raise ValueError(f"invert_and_compose: incompatible out-dim sizes in {d!r}")
        identity_dims = [
            d
            for d in a.in_dims
            if b.has_in_dim(d)
            and a.sublayout([d], out_names).equal_ignoring_out_dim_sizes(b.sublayout([d], out_names))
        ]
        a_rest = [d for d in a.in_dims if d not in identity_dims]
        b_rest = [d for d in b.in_dims if d not in identity_dims]
        if bool(a_rest) != bool(b_rest):
            raise ValueError("invert_and_compose: one side reduces to empty and the other does not")
        ret = LinearLayout.empty()
        if a_rest:
            ret = lstsq(a.sublayout(a_rest, out_names), b.sublayout(b_rest, out_names))
        for d in identity_dims:
            ret = ret * LinearLayout.identity_1d(a.get_in_dim_size(d), d, d)
        return ret.transpose_ins(list(b.in_dims)).transpose_outs(list(a.in_dims))

    def pseudo_invert(self) -> LinearLayout:
        """A right inverse from out-dims back to in-dims (free variables -> 0)."""
        ident = LinearLayout.empty()
        for d, s in self._out:
            ident = ident * LinearLayout.identity_1d(s, d, d)
        return ident.invert_and_compose(self)

    def invert(self) -> LinearLayout:
        """The inverse of a bijective (square, surjective) layout."""
        if not self.is_invertible():
            raise ValueError("layout is not invertible (needs square and surjective)")
        return self.pseudo_invert()

    # ------------------------------------------------------------------ vectorisation queries
    def contiguous_elements(self, in_dim: str = "register", fastest: str | None = None) -> int:
        """Triton's ``getNumConsecutiveInOut`` for one in-dim and one out-dim.

        Counts the leading bases of ``in_dim`` that are ``2**i`` along ``fastest`` and zero
        elsewhere, then caps that by the lowest bit any *other* basis sets along ``fastest`` (a
        lane or a later register that lands inside the run breaks it).  ``fastest`` defaults to
        the last out-dim (row-major: ``dimN-1`` varies fastest), or the only one.
        """
        if not self._out or not self.has_in_dim(in_dim):
            return 1
        fastest = self.out_dims[-1] if fastest is None else fastest
        j = self.out_dims.index(fastest)
        bs = self.in_bases(in_dim)
        consec = 0
        while consec < len(bs):
            b = bs[consec]
            if b[j] != 1 << consec or any(x for k, x in enumerate(b) if k != j):
                break
            consec += 1
        other = 0
        for name, obs in self._in:
            for i, b in enumerate(obs):
                if name != in_dim or i >= consec:
                    other |= b[j]
        tz = (other & -other).bit_length() - 1 if other else 31
        return 1 << min(consec, tz)

    def largest_vector_width(
        self, elem_bits: int, max_bits: int = 128, in_dim: str = "register", fastest: str | None = None
    ) -> int:
        """Elements per vector access: ``min(contiguity * elem_bits, max_bits) / elem_bits``,
        rounded down to a power of two (at least 1)."""
        c = self.contiguous_elements(in_dim, fastest)
        bits = min(c * elem_bits, max_bits)
        v = max(1, bits // elem_bits)
        return 1 << (v.bit_length() - 1)


# ---------------------------------------------------------------------- F2 linear algebra


def f2_rank(mat: np.ndarray) -> int:
    """Rank of a 0/1 matrix over F2."""
    m = mat.copy().astype(np.uint8)
    rows, cols = m.shape
    r = 0
    for c in range(cols):
        piv = next((i for i in range(r, rows) if m[i, c]), None)
        if piv is None:
            continue
        m[[r, piv]] = m[[piv, r]]
        nz = np.nonzero(m[:, c])[0]
        for i in nz:
            if i != r:
                m[i] ^= m[r]
        r += 1
        if r == rows:
            break
    return r


def _rref(mat: np.ndarray) -> np.ndarray:
    """Reduced row echelon form over F2 (pivots chosen left to right)."""
    m = mat.copy().astype(np.uint8)
    rows, cols = m.shape
    r = 0
    for c in range(cols):
        if r == rows:
            break
        piv = next((i for i in range(r, rows) if m[i, c]), None)
        if piv is None:
            continue
        m[[r, piv]] = m[[piv, r]]
        for i in np.nonzero(m[:, c])[0]:
            if i != r:
                m[i] ^= m[r]
        r += 1
    return m


def lstsq(a: LinearLayout, b: LinearLayout) -> LinearLayout:
    """Solve ``a ∘ X = b`` over F2 (``Im b ⊆ Im a``), free variables set to zero.

    ``a`` and ``b`` have the same out-dims in the same order (``b``'s may be smaller).  The result
    maps ``b``'s in-dims to ``a``'s in-dims.  The solution is read off the reduced row echelon form
    of ``[A | B]``, which is unique, so it equals Triton's.
    """
    if list(a.out_dims) != list(b.out_dims):
        raise ValueError("lstsq: out-dims differ")
    ma = a._matrix
    # b's matrix padded to a's out bit rows
    rows = ma.shape[0]
    mb = np.zeros((rows, b.total_in_bits()), dtype=np.uint8)
    ra = 0
    rb = 0
    for d in a.out_dims:
        la = a.get_out_dim_size_log2(d)
        lb = b.get_out_dim_size_log2(d)
        mb[ra : ra + lb] = b._matrix[rb : rb + lb]
        ra += la
        rb += lb
    na = ma.shape[1]
    comb = _rref(np.concatenate([ma, mb], axis=1))
    sol = np.zeros((na, mb.shape[1]), dtype=np.uint8)
    for r in range(rows):
        nz = np.nonzero(comb[r])[0]
        if nz.size == 0:
            continue
        c = int(nz[0])
        if c >= na:
            raise ValueError("lstsq: Im(b) is not contained in Im(a)")
        sol[c] = comb[r, na:]
    # sol: rows = a's in bits, cols = b's in bits -> bases for b's in bits as flat ints
    flat_bases = []
    for c in range(sol.shape[1]):
        v = 0
        for r in np.nonzero(sol[:, c])[0]:
            v |= 1 << int(r)
        flat_bases.append((v,))
    first_in = b.in_dims[0] if b.in_dims else "in"
    first_out = a.in_dims[0] if a.in_dims else "out"
    flat = LinearLayout({first_in: flat_bases}, [(first_out, a.total_in_size())])
    return flat.reshape_ins([(d, b.get_in_dim_size(d)) for d in b.in_dims]).reshape_outs(
        [(d, a.get_in_dim_size(d)) for d in a.in_dims]
    )
