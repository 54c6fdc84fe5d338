"""Rematerialise a tensor value in another register layout by cloning the ops that compute it.

`Rematerializer(anchor).value(v, layout)` returns a value equal to `v` element for element, held in
`layout`, computed by ops inserted before `anchor`. The producing chain is cloned op by op in the new
layout where that is exact and cheap: `tt.splat`, `tt.make_range`, `arith.constant` (the new type only),
`tt.expand_dims` (its operand in `#ttg.slice<{dim = axis, parent = layout}>`), `tt.broadcast`,
`tt.addptr`, and element-wise `arith`/`math` ops and pointer casts (every tensor operand in `layout`).
Where the chain cannot be cloned (a block argument such as a loop-carried pointer tile, a load, any other
op, or a linear layout that is tied to one shape across a broadcast) the value is converted with
`ttg.convert_layout`. Scalars are used as they are.
"""

from __future__ import annotations

from eqsat.lowering.edits import clone_op, encoding_of, insert_before, new_op, with_encoding
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Operation, OpResult, SSAValue

from eqsat.ir.attributes import LinearEncodingAttr, SliceEncodingAttr
from eqsat.ir.dialects import op_name_of

_NEW_TYPE_ONLY = {"tt.splat", "tt.make_range", "arith.constant"}
_SAME_LAYOUT = {"tt.broadcast", "tt.addptr", "tt.int_to_ptr", "tt.ptr_to_int", "tt.bitcast"}


def slice_of(parent: Attribute, dim: int) -> SliceEncodingAttr:
    return SliceEncodingAttr([("dim", dim), ("parent", parent)])


class Rematerializer:
    def __init__(self, anchor: Operation):
        self.anchor = anchor
        self.cache: dict[tuple[SSAValue, Attribute], SSAValue] = {}
        self.converts = 0  # how many values had to be converted (the chain was not cloneable)

    def value(self, v: SSAValue, layout: Attribute) -> SSAValue:
        t = v.type
        if not isinstance(t, TensorType) or encoding_of(t) == layout:
            return v
        key = (v, layout)
        if key not in self.cache:
            self.cache[key] = self._build(v, layout)
        return self.cache[key]

    def _build(self, v: SSAValue, layout: Attribute) -> SSAValue:
        new_type = with_encoding(v.type, layout)
        if not isinstance(v, OpResult) or len(v.op.results) != 1 or v.op.regions:
            return self._convert(v, new_type)
        op = v.op
        name = op_name_of(op)
        if name in _NEW_TYPE_ONLY:
            return self._insert(clone_op(op, result_types=[new_type]))
        if name == "tt.expand_dims":
            axis = op.attributes["axis"].value.data
            src = self.value(op.operands[0], slice_of(layout, axis))
            return self._insert(clone_op(op, [src], [new_type]))
        if name in _SAME_LAYOUT or _elementwise(op):
            if name == "tt.broadcast" and isinstance(layout, LinearEncodingAttr):
                return self._convert(v, new_type)
            operands = [self.value(o, layout) for o in op.operands]
            return self._insert(clone_op(op, operands, [new_type]))
        return self._convert(v, new_type)

    def _insert(self, op: Operation) -> SSAValue:
        insert_before(self.anchor, op)
        return op.results[0]

    def _convert(self, v: SSAValue, new_type: Attribute) -> SSAValue:
        self.converts += 1
        return self._insert(new_op("ttg.convert_layout", [v], [new_type], "%0 : $o0 -> $r0"))


def _elementwise(op: Operation) -> bool:
    """An arith/math op on tensors of one shape (results and tensor operands alike)."""
    name = op_name_of(op)
    if not name.startswith(("arith.", "math.")) or op.regions:
        return False
    values = [*op.operands, *op.results]
    shapes = {tuple(x.type.get_shape()) for x in values if isinstance(x.type, TensorType)}
    return len(shapes) == 1
