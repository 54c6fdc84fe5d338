"""Fitting layouts to tensor shapes: Triton's ``LayoutUtils`` helpers in Python.

An encoding describes one *CTA tile* (what one CTA's registers/lanes/warps cover once).  A tensor
larger than the tile repeats it in registers; a smaller tensor folds the extra hardware onto the
same elements (broadcast).  These helpers do exactly that, the way Triton 3.6 does, so that the
builders in ``distributed.py`` and ``shared.py`` produce Triton's bases bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .linear import LinearLayout, is_pow2, log2


def standard_out_dims(rank: int) -> list[str]:
    """``["dim0", ..., "dim{rank-1}"]``."""
    return [f"dim{i}" for i in range(rank)]


def identity_standard_nd(in_dim: str, shape: Sequence[int], order: Sequence[int]) -> LinearLayout:
    """Identity over ``shape`` walking dims minor-to-major as ``order`` lists them.

    Out-dims come out in ``order`` (most minor first), as in Triton.
    """
    names = standard_out_dims(len(shape))
    ret = LinearLayout.empty()
    for d in order:
        ret = ret * LinearLayout.identity_1d(int(shape[d]), in_dim, names[d])
    return ret


def matrix_order(rank: int, row_major: bool) -> list[int]:
    """Triton's ``getMatrixOrder``: ``[rank-1, ..., 0]``, first two swapped if column-major."""
    order = list(range(rank - 1, -1, -1))
    if not row_major:
        order[0], order[1] = order[1], order[0]
    return order


def dot_operand_order(op_idx: int, rank: int, k_contig: bool) -> list[int]:
    """Triton's ``getOrderForDotOperand``."""
    return matrix_order(rank, row_major=bool(op_idx) != k_contig)


def ensure_not_smaller(layout: LinearLayout, shape: Mapping[str, int],
                       out_order: Sequence[str] | None = None) -> LinearLayout:
    """Repeat ``layout`` along its first in-dim until every out-dim reaches ``shape``."""
    if not layout.in_dims:
        return layout
    k = layout.in_dims[0]
    ret = layout
    for d in out_order if out_order is not None else layout.out_dims:
        actual = layout.get_out_dim_size(d)
        want = int(shape[d])
        if want > actual:
            ret = ret * LinearLayout.identity_1d(want // actual, k, d)
    return ret


def ensure_not_larger(layout: LinearLayout, shape: Mapping[str, int]) -> LinearLayout:
    """Zero every basis component that falls outside ``shape`` (those inputs broadcast)."""
    out_names = list(layout.out_dims)
    bases = {n: [list(b) for b in bs] for n, bs in layout.bases.items()}
    for j, d in enumerate(out_names):
        want = int(shape[d])
        if layout.get_out_dim_size(d) <= want:
            continue
        for bs in bases.values():
            for b in bs:
                if b[j] >= want:
                    b[j] = 0
    return LinearLayout(bases, out_names)


@dataclass(frozen=True)
class CTALayout:
    """How the CTAs of a cluster (CGA) split a tensor: Triton's ``CTALayoutAttr`` fields."""

    ctas_per_cga: tuple[int, ...]
    cta_split_num: tuple[int, ...]
    cta_order: tuple[int, ...]

    def to_linear(self) -> LinearLayout:
        """``block -> dims`` (Triton's ``makeCgaLayout``): split dims get identity, the rest zeros."""
        rank = len(self.cta_order)
        names = standard_out_dims(rank)
        ret = LinearLayout.empty()
        for dim in self.cta_order:
            split = self.cta_split_num[dim]
            ctas = self.ctas_per_cga[dim]
            ret = ret * LinearLayout.identity_1d(split, "block", names[dim])
            ret = ret * LinearLayout.zeros_1d(ctas // split, "block", names[dim])
        return ret.transpose_outs(names)


CTALayoutLike = CTALayout | Sequence[Sequence[int]] | LinearLayout | None


def cga_linear(cta_layout: CTALayoutLike, rank: int) -> LinearLayout:
    """The ``block -> dims`` layout for ``cta_layout``: ``None`` (one CTA), a ``CTALayout``, a list
    of block bases (Gluon's ``cga_layout``), or a ready ``LinearLayout``."""
    names = standard_out_dims(rank)
    if cta_layout is None:
        return LinearLayout({"block": []}, [(n, 1) for n in names])
    if isinstance(cta_layout, LinearLayout):
        return cta_layout
    if isinstance(cta_layout, CTALayout):
        return cta_layout.to_linear()
    return LinearLayout({"block": [tuple(b) for b in cta_layout]}, names)


def shape_per_cta(cta_layout: CTALayoutLike, shape: Sequence[int]) -> list[int]:
    """The tensor extent each CTA owns."""
    cga = cga_linear(cta_layout, len(shape))
    names = standard_out_dims(len(shape))
    return [max(1, int(s) // cga.get_out_dim_size(n)) for n, s in zip(names, shape, strict=True)]


def combine_cta_cga_with_shape(cta: LinearLayout, cta_layout: CTALayoutLike,
                               shape: Sequence[int]) -> LinearLayout:
    """Triton's ``combineCtaCgaWithShape``: fit the CTA tile to the per-CTA shape (repeat or
    broadcast), append the ``block`` dim, and return out-dims in standard order."""
    rank = len(shape)
    names = standard_out_dims(rank)
    for s in shape:
        if not is_pow2(int(s)):
            raise ValueError(f"shape {tuple(shape)} is not all powers of two (use eqsat.layout.build)")
    labeled = dict(zip(names, (int(s) for s in shape), strict=True))
    cga = ensure_not_larger(cga_linear(cta_layout, rank), labeled).transpose_outs(list(cta.out_dims))
    cta_shape = {d: max(1, labeled[d] // cga.get_out_dim_size(d)) for d in cta.out_dims}
    cta = ensure_not_smaller(cta, cta_shape)
    cta = ensure_not_larger(cta, cta_shape)
    ret = (cta * cga).transpose_outs(names)
    for d in names:
        if ret.get_out_dim_size(d) != labeled[d]:
            ret = ret.with_out_dim_sizes({d: labeled[d]})
    return ret


def check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Validate a power-of-two shape and return it as a tuple."""
    t = tuple(int(s) for s in shape)
    for s in t:
        log2(s)
    return t
