"""Lowering of the `gather_strategy` choice for one `tt.gather src[idx] {axis}`.

    warp_shuffle  source and indices converted to `layout`, which must keep the gather axis inside each
                  warp (Triton then gathers with shuffles); the gather is marked `efficient_layout`, as
                  Triton's OptimizeGatherLayouts pass does, and the result converted back for consumers
    shared        the gather reads its operands in layouts that are *not* warp-local, so Triton goes
                  through shared memory: the converts a warp-local rewrite put around it are removed, and
                  if the operands are still warp-local they are converted to a layout with warps along the
                  axis
    indirect_load the gather's source is a global load of a tile (`tt.load` of pointers, or
                  `amdg.buffer_load` of offsets, maybe behind converts): the addresses (offsets, or
                  pointers), mask and other of the load are gathered with the same indices, and one load in
                  the index layout reads only the gathered elements:
                      gather(load(p, m, o), idx) == load(gather(p, idx), gather(m, idx), gather(o, idx))
                  element for element (a masked-off element reads `other` either way).

Warp-locality is Triton's `GatherLoweringHelper::isWarpLocal` test on linear layouts: neither layout
moves along the axis with warps or blocks, and both spread the other dims over warps and blocks alike.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import clone_op, erase_dead, insert_before, new_op, replace_uses, with_encoding
from xdsl.dialects.builtin import IntegerType, TensorType, UnitAttr
from xdsl.ir import Attribute, Operation, OpResult, SSAValue

from eqsat.ir.attributes import BlockedEncodingAttr, DistributedEncoding, LinearEncodingAttr, PtrType
from eqsat.ir.dialects import op_name_of
from eqsat.ir.layouts import encoding_from_text, linear_layout_of
from eqsat.layout import GuardedLayout

_CONVERT = "%0 : $o0 -> $r0"
_LOADS = ("tt.load", "amdg.buffer_load")


def apply_gather_strategy(op: Operation, params: dict[str, Any], fail) -> None:
    if op_name_of(op) != "tt.gather":
        raise fail(f"gather_strategy applies to tt.gather, not {op_name_of(op)}")
    strategy = params["strategy"]
    if strategy == "warp_shuffle":
        layout = encoding_from_text(params.get("layout", ""))
        if not isinstance(layout, DistributedEncoding):
            raise fail("warp_shuffle needs a register 'layout'")
        _regather(op, layout, layout, efficient=True, fail=fail)
    elif strategy == "shared":
        _gather_shared(op, fail)
    elif strategy == "indirect_load":
        _gather_indirect(op, fail)
    else:
        raise fail(f"unknown gather strategy '{strategy}'")


def axis_of(gather: Operation) -> int:
    return gather.attributes["axis"].value.data


def is_warp_local(src_type: Attribute, idx_type: Attribute, axis: int) -> bool:
    src, idx = _linear(src_type), _linear(idx_type)
    gather_dim = f"dim{axis}"
    others = [d for d in src.out_dims if d != gather_dim]
    for ll in (src, idx):
        if not ll.sublayout_is_zero(["warp", "block"], [gather_dim]):
            return False
    return src.sublayout(["warp", "block"], others) == idx.sublayout(["warp", "block"], others)


def _linear(t: Attribute):
    ll = linear_layout_of(t)
    return ll.layout if isinstance(ll, GuardedLayout) else ll


def _source(v: SSAValue) -> SSAValue:
    """The value behind a chain of layout converts."""
    while isinstance(v, OpResult) and op_name_of(v.op) == "ttg.convert_layout":
        v = v.op.operands[0]
    return v


def _in_layout(v: SSAValue, layout: Attribute, anchor: Operation) -> SSAValue:
    """`v` (or the value behind its converts) in `layout`, converting before `anchor` if needed."""
    base = _source(v)
    if isinstance(v.type, TensorType) and v.type.encoding == layout:
        return v
    if isinstance(base.type, TensorType) and base.type.encoding == layout:
        return base
    conv = new_op("ttg.convert_layout", [base], [with_encoding(base.type, layout)], _CONVERT)
    insert_before(anchor, conv)
    return conv.results[0]


def _regather(op: Operation, src_layout: Attribute, idx_layout: Attribute, efficient: bool, fail) -> None:
    src, idx = op.operands
    axis = axis_of(op)
    if isinstance(src_layout, LinearEncodingAttr) and src.type.get_shape() != idx.type.get_shape():
        raise fail("a linear layout fits one shape; source and indices differ in shape")
    src_t, idx_t = with_encoding(src.type, src_layout), with_encoding(idx.type, idx_layout)
    local = is_warp_local(src_t, idx_t, axis)
    if efficient and not local:
        raise fail("the layout spreads the gather axis over warps: not warp-local")
    if not efficient and local:
        raise fail("the layout keeps the gather axis inside warps: Triton would use shuffles")
    new_src, new_idx = _in_layout(src, src_layout, op), _in_layout(idx, idx_layout, op)
    attrs = {k: v for k, v in op.attributes.items() if k != "efficient_layout"}
    if efficient:
        attrs["efficient_layout"] = UnitAttr()
    result_t = with_encoding(op.results[0].type, idx_layout)
    template = "%0[%1] @" + ",".join(attrs) + " : ($o0, $o1) -> $r0"
    gather = new_op("tt.gather", [new_src, new_idx], [result_t], template, attrs)
    insert_before(op, gather)
    _move_consumers(op, gather)


def _move_consumers(old_op: Operation, new_op_: Operation) -> None:
    from eqsat.lowering.load_layout import redirect_consumers

    redirect_consumers(old_op, new_op_)


def _gather_shared(op: Operation, fail) -> None:
    src, idx = _source(op.operands[0]), _source(op.operands[1])
    axis = axis_of(op)
    src_layout, idx_layout = src.type.encoding, idx.type.encoding
    if is_warp_local(src.type, idx.type, axis):
        src_layout = idx_layout = _warps_along(idx.type, axis, fail)
    _regather(op, src_layout, idx_layout, efficient=False, fail=fail)


def _warps_along(t: TensorType, axis: int, fail) -> BlockedEncodingAttr:
    """A blocked layout with every warp along `axis` (so not warp-local), threads on the other dims."""
    rank = len(t.get_shape())
    num_warps, tpw = _warps_and_lanes(t)
    if t.get_shape()[axis] < 2:
        raise fail("the gather axis has one element: any layout is warp-local")
    order = [d for d in reversed(range(rank)) if d != axis] + [axis]
    threads = [1] * rank
    threads[order[0] if rank > 1 else axis] = tpw
    warps = [1] * rank
    warps[axis] = num_warps
    return BlockedEncodingAttr([("sizePerThread", (1,) * rank), ("threadsPerWarp", tuple(threads)),
                                ("warpsPerCTA", tuple(warps)), ("order", tuple(order))])


def _warps_and_lanes(t: TensorType) -> tuple[int, int]:
    ll = _linear(t)
    return ll.get_in_dim_size("warp"), ll.get_in_dim_size("lane")


# ----------------------------------------------------------------------------------- indirect load
def _gather_indirect(op: Operation, fail) -> None:
    src, idx = op.operands
    load_value = _source(src)
    if not isinstance(load_value, OpResult) or op_name_of(load_value.op) not in _LOADS:
        raise fail("the gathered tile does not come from a global load")
    load = load_value.op
    idx_layout = idx.type.encoding
    axis = axis_of(op)
    name = op_name_of(load)
    if name == "tt.load":
        operands = [_gather_operand(v, idx, axis, op, fail) for v in load.operands]
    else:  # amdg.buffer_load ptr[offsets], stride, mask, other: the scalar ones stay
        operands = [v if not isinstance(v.type, TensorType) else _gather_operand(v, idx, axis, op, fail)
                    for v in load.operands]
    result_t = TensorType(load.results[0].type.element_type, idx.type.get_shape(), idx_layout)
    new_load = clone_op(load, operands, [result_t])
    insert_before(op, new_load)
    replace_uses(op.results[0], new_load.results[0])
    erase_dead(op)


def _gather_operand(v: SSAValue, idx: SSAValue, axis: int, anchor: Operation, fail) -> SSAValue:
    """`v` (an operand tile of the load, in the load's layout) gathered along `axis` at `idx`."""
    t = v.type
    if not isinstance(t, TensorType):
        return v  # a scalar other/mask applies to every element
    element = t.element_type
    shape = list(idx.type.get_shape())
    layout = idx.type.encoding
    if isinstance(element, PtrType):
        i64 = IntegerType(64)
        as_int = new_op("tt.ptr_to_int", [v], [TensorType(i64, t.get_shape(), t.encoding)], "%0 : $o0 -> $r0")
        picked = _gather(as_int.results[0], idx, axis, anchor, [as_int])
        back = new_op("tt.int_to_ptr", [picked], [TensorType(element, shape, layout)], "%0 : $o0 -> $r0")
        insert_before(anchor, back)
        return back.results[0]
    if isinstance(element, IntegerType) and element.width.data == 1:
        i8 = IntegerType(8)
        wide = new_op("arith.extui", [v], [TensorType(i8, t.get_shape(), t.encoding)], "%0 : $o0 to $r0")
        picked = _gather(wide.results[0], idx, axis, anchor, [wide])
        zero = new_op("arith.constant", [], [TensorType(i8, shape, layout)], "dense<0> : $r0")
        test = new_op("arith.cmpi", [picked, zero.results[0]], [TensorType(element, shape, layout)],
                      "ne, %0, %1 : $o0")
        insert_before(anchor, zero, test)
        return test.results[0]
    return _gather(v, idx, axis, anchor, [])


def _gather(v: SSAValue, idx: SSAValue, axis: int, anchor: Operation, before: list[Operation]) -> SSAValue:
    from xdsl.dialects.builtin import IntegerAttr

    for op in before:
        insert_before(anchor, op)
    result_t = TensorType(v.type.element_type, idx.type.get_shape(), idx.type.encoding)
    attrs = {"axis": IntegerAttr(axis, IntegerType(32))}
    gather = new_op("tt.gather", [v, idx], [result_t], "%0[%1] @axis : ($o0, $o1) -> $r0", attrs)
    insert_before(anchor, gather)
    return gather.results[0]
