"""Evaluate a load's address (and mask, other) at gathered coordinates, arithmetically, for the
`indirect_load` gather strategy.

A tile `X = load(P, M, O)` (shape `S`) gathered along axis `a` at indices `I` (shape `S_I`, equal to `S`
on every other dim) is `Y[c] = X[c with c_a := I[c]]`. `P`, `M`, `O` are built from coordinates by
`tt.make_range`, `tt.expand_dims`, `tt.broadcast`, `tt.splat`, constants and element-wise ops
(`arith.*`, `math.*`, `tt.addptr`, pointer casts), so `P'[c] = P[c with c_a := I[c]]` is the same
arithmetic with the coordinate along `a` replaced by `I`: `GatheredOperands(...).value(P)` clones the
chain, replacing every `tt.make_range` that ends up on dim `a` by `start + I` (i32: `arith.extsi` or
`arith.trunci` of the index). For an affine address `base + sum_d coord_d * stride_d` this is exactly
`base + I * stride_a + sum_{d != a} coord_d * stride_d`, built from the address's own SSA values (its
strides and base: function arguments, program ids, constants); the widths and the order of the
additions are the original ones, so even wrapping i32 arithmetic gives the same addresses.

Values that do not depend on the gathered coordinate keep their shapes (size 1 stays 1, the gathered dim
takes the index's size) in the layout of `I` or its slices, as the original chain used the load layout
and its slices; values that do are built at the full shape `S_I` in the layout of `I`. A value the chain
cannot clone (a block argument, a load, a region op) is converted with `ttg.convert_layout` if it does
not vary along `a`; if it does, the coordinate along `a` reaches the address through data, and the
address cannot be evaluated at `I`: `GatherAddressError` with the reason.
"""

from __future__ import annotations

from eqsat.lowering.edits import clone_op, insert_before, new_op
from eqsat.lowering.rematerialize import slice_of
from xdsl.dialects.builtin import IntegerType, TensorType
from xdsl.ir import Attribute, Operation, OpResult, SSAValue

from eqsat.ir.attributes import SliceEncodingAttr
from eqsat.ir.dialects import op_name_of, syntax_of
from eqsat.ir.syntax import Lit

_SAME_SHAPE_OPS = {"tt.addptr", "tt.int_to_ptr", "tt.ptr_to_int", "tt.bitcast"}


class GatherAddressError(Exception):
    """The load's operands cannot be evaluated at the gathered coordinates (the reason)."""


def dims_of(layout: Attribute, rank: int) -> list[int]:
    """The dims of the full tile that a value in `layout` (the tile layout or nested slices of it) has."""
    if isinstance(layout, SliceEncodingAttr):
        parent = dims_of(layout.parent, rank)
        return parent[:layout.dim] + parent[layout.dim + 1:]
    return list(range(rank))


class GatheredOperands:
    """Clones of operand chains evaluated at the gathered coordinates, inserted before `anchor`.

    `index` is the gather's index tensor in the layout the new load will use; `axis` the gather axis."""

    def __init__(self, anchor: Operation, index: SSAValue, axis: int):
        assert isinstance(index.type, TensorType)
        self.anchor = anchor
        self.axis = axis
        self.layout = index.type.encoding
        self.shape = tuple(index.type.get_shape())
        self.rank = len(self.shape)
        self.index = index
        self.cache: dict[tuple[SSAValue, Attribute], tuple[SSAValue, bool]] = {}
        self._coordinate: SSAValue | None = None  # the index as i32

    # ---------------------------------------------------------------------------------- entry
    def value(self, v: SSAValue) -> SSAValue:
        """`v` (a full-rank operand of the load; scalars as they are) at the gathered coordinates: a tensor
        of the index's shape in the index's layout."""
        if not isinstance(v.type, TensorType):
            return v
        if len(v.type.get_shape()) != self.rank:
            rank = len(v.type.get_shape())
            raise GatherAddressError(f"an operand of rank {rank} in a rank-{self.rank} load")
        new, lifted = self._value(v, self.layout)
        return self._full(new, lifted)

    # ------------------------------------------------------------------------------- rebuild
    def _value(self, v: SSAValue, layout: Attribute) -> tuple[SSAValue, bool]:
        """`v` rebuilt: (new value, whether it depends on the index). A value that does is full-shaped in
        the index layout; one that does not has `v`'s shape (the gathered dim resized) in `layout`."""
        if not isinstance(v.type, TensorType):
            return v, False
        key = (v, layout)
        if key not in self.cache:
            self.cache[key] = self._build(v, layout)
        return self.cache[key]

    def _new_type(self, v: SSAValue, layout: Attribute) -> TensorType:
        t = v.type
        dims = dims_of(layout, self.rank)
        shape = [1 if s == 1 else self.shape[d] for s, d in zip(t.get_shape(), dims, strict=True)]
        return TensorType(t.element_type, shape, layout)

    def _varies_along_axis(self, v: SSAValue, layout: Attribute) -> bool:
        dims = dims_of(layout, self.rank)
        return any(d == self.axis and s > 1 for s, d in zip(v.type.get_shape(), dims, strict=True))

    def _build(self, v: SSAValue, layout: Attribute) -> tuple[SSAValue, bool]:
        dims = dims_of(layout, self.rank)
        if len(dims) != len(v.type.get_shape()):
            raise GatherAddressError(f"a value of rank {len(v.type.get_shape())} where the chain expects "
                                     f"rank {len(dims)}")
        if not isinstance(v, OpResult) or len(v.op.results) != 1 or v.op.regions:
            return self._opaque(v, layout), False
        op = v.op
        name = op_name_of(op)
        if name == "ttg.convert_layout":
            return self._value(op.operands[0], layout)
        if name == "tt.make_range":
            if dims == [self.axis] and v.type.get_shape()[0] > 1:
                return self._gathered_coordinate(op.attributes["start"].value.data), True
            return self._clone(v, [], self._new_type(v, layout)), False
        if name == "arith.constant" and not _is_splat_constant(op):
            return self._opaque(v, layout), False
        if name in ("tt.splat", "arith.constant"):
            return self._clone(v, list(op.operands), self._new_type(v, layout)), False
        if name == "tt.expand_dims":
            axis = op.attributes["axis"].value.data
            src, lifted = self._value(op.operands[0], slice_of(layout, axis))
            if lifted:
                return src, True
            return self._clone(v, [src], self._new_type(v, layout)), False
        if name == "tt.broadcast":
            src, lifted = self._value(op.operands[0], layout)
            new_type = self._new_type(v, layout)
            if lifted or src.type == new_type:
                return src, lifted
            return self._clone(v, [src], new_type), False
        if name in _SAME_SHAPE_OPS or _elementwise(op):
            rebuilt = [self._value(o, layout) for o in op.operands]
            if any(lifted for _, lifted in rebuilt):
                operands = [self._full(new, lifted) if isinstance(new.type, TensorType) else new
                            for new, lifted in rebuilt]
                result_type = TensorType(v.type.element_type, self.shape, self.layout)
                return self._insert(clone_op(op, operands, [result_type])), True
            return self._clone(v, [new for new, _ in rebuilt], self._new_type(v, layout)), False
        return self._opaque(v, layout), False

    def _clone(self, v: OpResult, operands: list[SSAValue], new_type: TensorType) -> SSAValue:
        """`v`'s op on `operands` with result type `new_type`; `v` itself when nothing changes (the
        original dominates the anchor: it feeds the load the gather reads)."""
        if new_type == v.type and operands == list(v.op.operands):
            return v
        return self._insert(clone_op(v.op, operands, [new_type]))

    def _opaque(self, v: SSAValue, layout: Attribute) -> SSAValue:
        """A value the chain cannot clone: converted, if it is the same along the gathered axis."""
        if self._varies_along_axis(v, layout):
            what = op_name_of(v.op) if isinstance(v, OpResult) else "a block argument"
            raise GatherAddressError(f"the address varies along the gathered axis through {what}, which "
                                     "cannot be evaluated at the gathered indices")
        if v.type.encoding == layout:
            return v
        new_type = TensorType(v.type.element_type, v.type.get_shape(), layout)
        return self._insert(new_op("ttg.convert_layout", [v], [new_type], "%0 : $o0 -> $r0"))

    def _gathered_coordinate(self, start: int) -> SSAValue:
        """`start + I` as i32 (the type of `tt.make_range`)."""
        if self._coordinate is None:
            self._coordinate = self._as_i32(self.index)
        coordinate = self._coordinate
        if start == 0:
            return coordinate
        t = coordinate.type
        offset = self._insert(new_op("arith.constant", [], [t], f"dense<{start}> : $r0"))
        return self._insert(new_op("arith.addi", [coordinate, offset], [t], "%0, %1 : $r0"))

    def _as_i32(self, index: SSAValue) -> SSAValue:
        t = index.type
        width = t.element_type.width.data
        i32 = TensorType(IntegerType(32), t.get_shape(), t.encoding)
        if width == 32:
            return index
        cast = "arith.extsi" if width < 32 else "arith.trunci"
        return self._insert(new_op(cast, [index], [i32], "%0 : $o0 to $r0"))

    def _full(self, new: SSAValue, lifted: bool) -> SSAValue:
        """`new` expanded and broadcast to the index's shape and layout."""
        if lifted:
            return new
        t = new.type
        while isinstance(t.encoding, SliceEncodingAttr):
            shape = list(t.get_shape())
            shape.insert(t.encoding.dim, 1)
            expanded = TensorType(t.element_type, shape, t.encoding.parent)
            attrs = {"axis": _i32_attr(t.encoding.dim)}
            new = self._insert(new_op("tt.expand_dims", [new], [expanded], "%0 @axis : $o0 -> $r0", attrs))
            t = expanded
        if tuple(t.get_shape()) != self.shape:
            full = TensorType(t.element_type, self.shape, t.encoding)
            new = self._insert(new_op("tt.broadcast", [new], [full], "%0 : $o0 -> $r0"))
        return new

    def _insert(self, op: Operation) -> SSAValue:
        insert_before(self.anchor, op)
        return op.results[0]


def _i32_attr(value: int):
    from xdsl.dialects.builtin import IntegerAttr

    return IntegerAttr(value, IntegerType(32))


def _is_splat_constant(op: Operation) -> bool:
    """`arith.constant` of a scalar or a splat `dense<v>` (not a list of values)."""
    syntax = syntax_of(op)
    if syntax is None:
        return "[" not in str(op.attributes.get("value"))
    first = next((p.text for p in syntax.pieces if isinstance(p, Lit)), "")
    return "[" not in first


def _elementwise(op: Operation) -> bool:
    """An arith/math op on tensors of one shape (results and tensor operands alike)."""
    name = op_name_of(op)
    if not name.startswith(("arith.", "math.")) or op.regions:
        return False
    values = [*op.operands, *op.results]
    shapes = {tuple(x.type.get_shape()) for x in values if isinstance(x.type, TensorType)}
    return len(shapes) == 1
