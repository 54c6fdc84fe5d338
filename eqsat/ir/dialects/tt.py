"""`tt` ops that move data: global loads/stores and pointer arithmetic, register shuffles, gathers,
tensor descriptors, plus `tt.func` (for the kernel's name and arguments).

Operands follow Triton 3.6's ODS order (include/triton/Dialect/Triton/IR/TritonOps.td).
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.irdl import (
    AttrSizedOperandSegments,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    result_def,
    var_operand_def,
    var_region_def,
    var_result_def,
)

from eqsat.ir.dialects.base import TritonOp


@irdl_op_definition
class LoadOp(TritonOp):
    """`tt.load %ptr[, %mask[, %other]] {cache, evict, isVolatile} : type(ptr)` -> the pointee."""

    name = "tt.load"
    ptr = operand_def()
    mask = opt_operand_def()
    other = opt_operand_def()
    result = result_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("ptr",)
    RESULT: ClassVar[str | None] = "pointee"
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr"}


@irdl_op_definition
class StoreOp(TritonOp):
    """`tt.store %ptr, %value[, %mask] : type(ptr)`."""

    name = "tt.store"
    ptr = operand_def()
    value = operand_def()
    mask = opt_operand_def()
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("ptr",)
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr"}


@irdl_op_definition
class AddPtrOp(TritonOp):
    """`tt.addptr %ptr, %offset : type(ptr), type(offset)`: the data flow that makes addresses."""

    name = "tt.addptr"
    ptr = operand_def()
    offset = operand_def()
    result = result_def()
    RESULT: ClassVar[str | None] = "same:ptr"
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr"}


@irdl_op_definition
class SplatOp(TritonOp):
    name = "tt.splat"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class BroadcastOp(TritonOp):
    name = "tt.broadcast"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class ExpandDimsOp(TritonOp):
    name = "tt.expand_dims"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class MakeRangeOp(TritonOp):
    name = "tt.make_range"
    result = result_def()


@irdl_op_definition
class TransOp(TritonOp):
    """`tt.trans %src {order = array<i32: 1, 0>}`: a register-level transpose (a layout change)."""

    name = "tt.trans"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class ReshapeOp(TritonOp):
    name = "tt.reshape"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class GatherOp(TritonOp):
    """`tt.gather %src[%indices] {axis, efficient_layout}`: gather along `axis` inside a tile."""

    name = "tt.gather"
    src = operand_def()
    indices = operand_def()
    result = result_def()
    BRACKETED: ClassVar[str | None] = None
    EXPECT: ClassVar[dict[str, str]] = {"src": "tensor", "indices": "tensor"}


@irdl_op_definition
class ReduceOp(TritonOp):
    name = "tt.reduce"
    srcs = var_operand_def()
    results_ = var_result_def()
    combine = var_region_def()


@irdl_op_definition
class DotOp(TritonOp):
    name = "tt.dot"
    a = operand_def()
    b = operand_def()
    c = operand_def()
    d = result_def()
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("a", "b")


@irdl_op_definition
class DescriptorLoadOp(TritonOp):
    """`tt.descriptor_load %desc[%i, %j] : !tt.tensordesc<...> -> tensor<...>`."""

    name = "tt.descriptor_load"
    desc = operand_def()
    indices = var_operand_def()
    result = result_def()
    BRACKETED: ClassVar[str | None] = "indices"
    EXPECT: ClassVar[dict[str, str]] = {"desc": "desc"}


@irdl_op_definition
class DescriptorStoreOp(TritonOp):
    name = "tt.descriptor_store"
    desc = operand_def()
    indices = var_operand_def()
    src = operand_def()
    BRACKETED: ClassVar[str | None] = "indices"
    EXPECT: ClassVar[dict[str, str]] = {"desc": "desc", "src": "tensor"}


@irdl_op_definition
class DescriptorGatherOp(TritonOp):
    name = "tt.descriptor_gather"
    desc = operand_def()
    x_offsets = operand_def()
    y_offset = operand_def()
    result = result_def()
    BRACKETED: ClassVar[str | None] = None


@irdl_op_definition
class MakeTensorDescOp(TritonOp):
    """`tt.make_tensor_descriptor %base, [%shape...], [%strides...]`."""

    name = "tt.make_tensor_descriptor"
    base = operand_def()
    shape_and_strides = var_operand_def()
    result = result_def()


@irdl_op_definition
class AtomicRMWOp(TritonOp):
    """`tt.atomic_rmw fadd, acq_rel, gpu, %ptr, %val[, %mask] : (...) -> ...`."""

    name = "tt.atomic_rmw"
    ptr = operand_def()
    val = operand_def()
    mask = opt_operand_def()
    result = result_def()
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr"}


@irdl_op_definition
class FuncOp(TritonOp):
    """`tt.func public @name(%arg: type {attrs} loc(..), ...) attributes {...} { body }`."""

    name = "tt.func"
    body = var_region_def()

    @property
    def sym_name(self) -> str:
        from eqsat.ir.dialects.base import syntax_of
        from eqsat.ir.syntax import Lit

        syntax = syntax_of(self)
        for piece in syntax.pieces if syntax else ():
            if isinstance(piece, Lit) and piece.text.startswith("@"):
                return piece.text[1:].strip('"')
        return "?"


TT_OPS = [LoadOp, StoreOp, AddPtrOp, SplatOp, BroadcastOp, ExpandDimsOp, MakeRangeOp, TransOp, ReshapeOp,
          GatherOp, ReduceOp, DotOp, DescriptorLoadOp, DescriptorStoreOp, DescriptorGatherOp,
          MakeTensorDescOp, AtomicRMWOp, FuncOp]
