"""Lowering of the `gather_strategy` choice for one `tt.gather src[idx] {axis}`.

    warp_shuffle  source and indices converted to `layout`, which must keep the gather axis inside each
                  warp (Triton then gathers with shuffles); the gather is marked `efficient_layout`, as
                  Triton's OptimizeGatherLayouts pass does, and the result converted back for consumers
    shared        the gather reads its operands in layouts that are *not* warp-local, so Triton goes
                  through shared memory: the converts a warp-local rewrite put around it are removed, and
                  if the operands are still warp-local they are converted to a layout with warps along the
                  axis
    indirect_load the gather's source is a global load of a tile (`tt.load` of pointers, or
                  `amdg.buffer_load` of offsets, maybe behind converts): no gather is left. The load's
                  address, mask and other are computed again from the index tensor, arithmetically: the
                  chain that made them, with the coordinate along the axis replaced by the indices
                  (`eqsat.lowering.gathered_address`; for `p = base + sum_d coord_d * stride_d` that is
                  `base + idx * stride_axis + sum_{d != axis} coord_d * stride_d`), and one load in the
                  layout the indices are produced in reads only the gathered elements:
                      gather(load(p, m, o), idx)[c] == load(p', m', o')[c], x'[c] = x[c with c_axis := idx[c]]
                  (a masked-off element reads `other` either way). The full-tile load stays only if something
                  else reads it. An address whose coordinate along the axis comes through data (a load, a
                  loop-carried tile) cannot be evaluated at the indices: LoweringError.

Warp-locality is Triton's `GatherLoweringHelper::isWarpLocal` test on linear layouts: neither layout
moves along the axis with warps or blocks, and both spread the other dims over warps and blocks alike.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import clone_op, erase_dead, insert_before, new_op, replace_uses, with_encoding
from eqsat.lowering.gathered_address import GatherAddressError, GatheredOperands
from xdsl.dialects.builtin import IntegerType, TensorType, UnitAttr
from xdsl.ir import Attribute, Operation, OpResult, SSAValue

from eqsat.ir.attributes import BlockedEncodingAttr, DistributedEncoding, LinearEncodingAttr
from eqsat.ir.dialects import op_name_of
from eqsat.ir.layouts import encoding_from_text, linear_layout_of
from eqsat.layout import GuardedLayout

_CONVERT = "%0 : $o0 -> $r0"
_LOADS = ("tt.load", "amdg.buffer_load")


def apply_gather_strategy(op: Operation, params: dict[str, Any], fail) -> Operation:
    """Apply the strategy; returns the op that now computes the gather's value (a new gather or load)."""
    if op_name_of(op) != "tt.gather":
        raise fail(f"gather_strategy applies to tt.gather, not {op_name_of(op)}")
    strategy = params["strategy"]
    if strategy == "warp_shuffle":
        layout = encoding_from_text(params.get("layout", ""))
        if not isinstance(layout, DistributedEncoding):
            raise fail("warp_shuffle needs a register 'layout'")
        return _regather(op, layout, layout, efficient=True, fail=fail)
    if strategy == "shared":
        return _gather_shared(op, fail)
    if strategy == "indirect_load":
        return _gather_indirect(op, fail)
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


def _regather(op: Operation, src_layout: Attribute, idx_layout: Attribute, efficient: bool, fail
              ) -> Operation:
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
    return gather


def _move_consumers(old_op: Operation, new_op_: Operation) -> None:
    from eqsat.lowering.load_layout import redirect_consumers

    redirect_consumers(old_op, new_op_)


def _gather_shared(op: Operation, fail) -> Operation:
    src, idx = _source(op.operands[0]), _source(op.operands[1])
    axis = axis_of(op)
    src_layout, idx_layout = src.type.encoding, idx.type.encoding
    if is_warp_local(src.type, idx.type, axis):
        src_layout = idx_layout = _warps_along(idx.type, axis, fail)
    return _regather(op, src_layout, idx_layout, efficient=False, fail=fail)


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
def _gather_indirect(op: Operation, fail) -> Operation:
    """`gather(load(P, M, O), I)` -> `load(P', M', O')`, the operands evaluated at the gathered
    coordinates (`eqsat.lowering.gathered_address`), in the layout the index is produced in."""
    src, idx = op.operands
    load_value = _source(src)
    if not isinstance(load_value, OpResult) or op_name_of(load_value.op) not in _LOADS:
        raise fail("the gathered tile does not come from a global load")
    load = load_value.op
    if not isinstance(load.operands[0 if op_name_of(load) == "tt.load" else 1].type, TensorType):
        raise fail("the tile is loaded through a block pointer, not a tensor of addresses")
    if not isinstance(idx.type.element_type, IntegerType):
        raise fail("the indices are not integers")
    index = _index_for_load(idx, load_value, op)
    gathered = GatheredOperands(op, index, axis_of(op))
    try:
        operands = [gathered.value(v) for v in load.operands]  # buffer_load's scalar ptr, stride stay
    except GatherAddressError as e:
        raise fail(str(e)) from None
    result_t = TensorType(load_value.type.element_type, index.type.get_shape(), index.type.encoding)
    new_load = clone_op(load, operands, [result_t])
    insert_before(op, new_load)
    if result_t == op.results[0].type:
        replace_uses(op.results[0], new_load.results[0])
        erase_dead(op)
    else:
        _move_consumers(op, new_load)
    return new_load


def _index_for_load(idx: SSAValue, loaded: SSAValue, anchor: Operation) -> SSAValue:
    """The index tensor in the layout the new load is issued in: the layout the index is produced in
    (behind the converts Triton put around the gather, so the load is as coalesced as the program's own
    layout and no convert is left), unless that is a linear layout (tied to one shape: the address chain
    needs its slices), then the original load's layout."""
    produced = _source(idx)
    for layout in (produced.type.encoding, loaded.type.encoding):
        if not isinstance(layout, LinearEncodingAttr):
            return _in_layout(idx, layout, anchor)
    return _in_layout(idx, _row_major_blocked(idx.type), anchor)


def _row_major_blocked(t: TensorType) -> BlockedEncodingAttr:
    """A plain row-major blocked layout for `t` on its warps and lanes."""
    rank = len(t.get_shape())
    num_warps, lanes = _warps_and_lanes(t)
    threads = [1] * rank
    threads[rank - 1] = lanes
    warps = [1] * rank
    warps[0] = num_warps
    return BlockedEncodingAttr([("sizePerThread", (1,) * rank), ("threadsPerWarp", tuple(threads)),
                                ("warpsPerCTA", tuple(warps)), ("order", tuple(reversed(range(rank))))])
