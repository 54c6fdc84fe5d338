"""`ttg` ops that move data: layout conversions, shared-memory allocation/stores/loads and views, and
Ampere-style asynchronous copies (`async_copy_global_to_local`, `async_commit_group`, `async_wait`).

Operands follow Triton 3.6's ODS order (include/triton/Dialect/TritonGPU/IR/TritonGPUOps.td).
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.irdl import (
    AttrSizedOperandSegments,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_result_def,
    result_def,
    var_operand_def,
)

from eqsat.ir.dialects.base import TritonOp


@irdl_op_definition
class ConvertLayoutOp(TritonOp):
    """`ttg.convert_layout %src : tensor<..., #a> -> tensor<..., #b>`."""

    name = "ttg.convert_layout"
    src = operand_def()
    result = result_def()
    EXPECT: ClassVar[dict[str, str]] = {"src": "tensor"}


@irdl_op_definition
class LocalAllocOp(TritonOp):
    """`ttg.local_alloc [%src] : (tensor) -> !ttg.memdesc` (immutable with a source, mutable without)."""

    name = "ttg.local_alloc"
    src = opt_operand_def()
    result = result_def()


@irdl_op_definition
class LocalStoreOp(TritonOp):
    name = "ttg.local_store"
    src = operand_def()
    dst = operand_def()
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("src", "dst")
    EXPECT: ClassVar[dict[str, str]] = {"src": "tensor", "dst": "memdesc"}


@irdl_op_definition
class LocalLoadOp(TritonOp):
    """`ttg.local_load %src [token %t] : memdesc -> tensor`."""

    name = "ttg.local_load"
    src = operand_def()
    token = opt_operand_def()
    result = result_def()
    KEYWORDS: ClassVar[dict[str, str]] = {"token": "token"}
    EXPECT: ClassVar[dict[str, str]] = {"src": "memdesc"}


@irdl_op_definition
class LocalDeallocOp(TritonOp):
    name = "ttg.local_dealloc"
    src = operand_def()
    EXPECT: ClassVar[dict[str, str]] = {"src": "memdesc"}


@irdl_op_definition
class MemDescIndexOp(TritonOp):
    """`ttg.memdesc_index %buf[%i]`: one stage of a multi-buffered allocation."""

    name = "ttg.memdesc_index"
    src = operand_def()
    index = operand_def()
    result = result_def()
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("src",)
    BRACKETED: ClassVar[str | None] = None
    EXPECT: ClassVar[dict[str, str]] = {"src": "memdesc"}


@irdl_op_definition
class MemDescSubsliceOp(TritonOp):
    name = "ttg.memdesc_subslice"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class MemDescTransOp(TritonOp):
    name = "ttg.memdesc_trans"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class MemDescReshapeOp(TritonOp):
    name = "ttg.memdesc_reshape"
    src = operand_def()
    result = result_def()


@irdl_op_definition
class AsyncCopyGlobalToLocalOp(TritonOp):
    """`ttg.async_copy_global_to_local %ptrs, %dst mask %m other %o {...} : tensor -> <memdesc>`."""

    name = "ttg.async_copy_global_to_local"
    src = operand_def()
    result = operand_def()
    mask = opt_operand_def()
    other = opt_operand_def()
    token = result_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    KEYWORDS: ClassVar[dict[str, str]] = {"mask": "mask", "other": "other"}
    RESULT: ClassVar[str | None] = "token"
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("src",)
    EXPECT: ClassVar[dict[str, str]] = {"src": "ptr", "result": "memdesc"}


@irdl_op_definition
class AsyncCommitGroupOp(TritonOp):
    """`ttg.async_commit_group tokens %t...`."""

    name = "ttg.async_commit_group"
    input_tokens = var_operand_def()
    token = result_def()
    RESULT: ClassVar[str | None] = "token"


@irdl_op_definition
class AsyncWaitOp(TritonOp):
    """`ttg.async_wait %t... {num = N}`: wait until at most N groups are in flight."""

    name = "ttg.async_wait"
    async_token = var_operand_def()
    token = opt_result_def()
    RESULT: ClassVar[str | None] = "token"


TTG_OPS = [ConvertLayoutOp, LocalAllocOp, LocalStoreOp, LocalLoadOp, LocalDeallocOp, MemDescIndexOp,
           MemDescSubsliceOp, MemDescTransOp, MemDescReshapeOp, AsyncCopyGlobalToLocalOp,
           AsyncCommitGroupOp, AsyncWaitOp]
