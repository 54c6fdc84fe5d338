"""`amdg` (AMD) ops that move data: buffer loads/stores (with an offsets tensor on a scalar base),
direct-to-LDS buffer loads, and the in-thread transpose used before LDS writes.

Operands follow Triton 3.6's third_party/amd TritonAMDGPUOps.td.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.irdl import (
    AttrSizedOperandSegments,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    result_def,
)

from eqsat.ir.dialects.base import TritonOp


@irdl_op_definition
class BufferLoadOp(TritonOp):
    """`amdg.buffer_load %ptr[%offsets], %mask, %other stride = %s {..} : tensor<...>`."""

    name = "amdg.buffer_load"
    ptr = operand_def()
    offsets = operand_def()
    stride = opt_operand_def()
    mask = opt_operand_def()
    other = opt_operand_def()
    result = result_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    KEYWORDS: ClassVar[dict[str, str]] = {"stride": "stride"}
    BRACKETED: ClassVar[str | None] = "offsets"
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("result",)
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr", "offsets": "tensor"}


@irdl_op_definition
class BufferStoreOp(TritonOp):
    """`amdg.buffer_store %value, %ptr[%offsets], %mask stride = %s : tensor<...>`."""

    name = "amdg.buffer_store"
    value = operand_def()
    ptr = operand_def()
    offsets = operand_def()
    stride = opt_operand_def()
    mask = opt_operand_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    KEYWORDS: ClassVar[dict[str, str]] = {"stride": "stride"}
    BRACKETED: ClassVar[str | None] = "offsets"
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("value",)
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr", "offsets": "tensor"}


@irdl_op_definition
class BufferLoadToLocalOp(TritonOp):
    name = "amdg.buffer_load_to_local"
    ptr = operand_def()
    offsets = operand_def()
    dest = operand_def()
    mask = opt_operand_def()
    other = opt_operand_def()
    stride = opt_operand_def()
    token = result_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    KEYWORDS: ClassVar[dict[str, str]] = {"mask": "mask", "other": "other", "stride": "stride",
                                          "dest": "into"}
    BRACKETED: ClassVar[str | None] = "offsets"
    RESULT: ClassVar[str | None] = "token"
    EXPECT: ClassVar[dict[str, str]] = {"ptr": "ptr", "offsets": "tensor", "dest": "memdesc"}


@irdl_op_definition
class InThreadTransposeOp(TritonOp):
    name = "amdg.in_thread_transpose"
    src = operand_def()
    result = result_def()


AMDG_OPS = [BufferLoadOp, BufferStoreOp, BufferLoadToLocalOp, InThreadTransposeOp]
