"""`ttng` (NVIDIA Hopper) ops that move data: TMA descriptors and copies, mbarriers, proxy fences and
the asynchronous warp-group MMA (which reads its operands from shared memory).

Operands follow Triton 3.6's ODS order (include/triton/Dialect/TritonNvidiaGPU/IR/TritonNvidiaGPUOps.td).
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
    var_result_def,
)

from eqsat.ir.dialects.base import TritonOp


@irdl_op_definition
class TensormapCreateOp(TritonOp):
    name = "ttng.tensormap_create"
    desc_ptr = operand_def()
    global_address = operand_def()
    rest = var_operand_def()  # box dims, global dims, global strides, element strides


@irdl_op_definition
class ReinterpretTensorDescOp(TritonOp):
    name = "ttng.reinterpret_tensor_descriptor"
    raw_desc = operand_def()
    result = result_def()


@irdl_op_definition
class InitBarrierOp(TritonOp):
    name = "ttng.init_barrier"
    alloc = operand_def()
    EXPECT: ClassVar[dict[str, str]] = {"alloc": "memdesc"}


@irdl_op_definition
class InvalBarrierOp(TritonOp):
    name = "ttng.inval_barrier"
    alloc = operand_def()


@irdl_op_definition
class BarrierExpectOp(TritonOp):
    name = "ttng.barrier_expect"
    alloc = operand_def()
    pred = operand_def()
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("alloc",)
    EXPECT: ClassVar[dict[str, str]] = {"alloc": "memdesc"}


@irdl_op_definition
class WaitBarrierOp(TritonOp):
    name = "ttng.wait_barrier"
    alloc = operand_def()
    phase = operand_def()
    pred = opt_operand_def()
    deps = var_operand_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    KEYWORDS: ClassVar[dict[str, str]] = {"deps": "deps"}
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("alloc",)
    EXPECT: ClassVar[dict[str, str]] = {"alloc": "memdesc"}


@irdl_op_definition
class FenceAsyncSharedOp(TritonOp):
    name = "ttng.fence_async_shared"


@irdl_op_definition
class AsyncTMACopyGlobalToLocalOp(TritonOp):
    """`ttng.async_tma_copy_global_to_local %desc[%coords] %dst, %barrier, %pred`."""

    name = "ttng.async_tma_copy_global_to_local"
    desc = operand_def()
    coord = var_operand_def()
    barrier = operand_def()
    result = operand_def()
    pred = operand_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    BRACKETED: ClassVar[str | None] = "coord"
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("desc", "barrier", "result")
    TEXT_ORDER: ClassVar[tuple[str, ...] | None] = ("desc", "result", "barrier", "pred")
    EXPECT: ClassVar[dict[str, str]] = {"desc": "desc", "barrier": "memdesc", "result": "memdesc"}


@irdl_op_definition
class AsyncTMACopyLocalToGlobalOp(TritonOp):
    name = "ttng.async_tma_copy_local_to_global"
    desc = operand_def()
    coord = var_operand_def()
    src = operand_def()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    BRACKETED: ClassVar[str | None] = "coord"
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("desc", "src")
    EXPECT: ClassVar[dict[str, str]] = {"desc": "desc", "src": "memdesc"}


@irdl_op_definition
class AsyncTMAStoreWaitOp(TritonOp):
    name = "ttng.async_tma_store_wait"


@irdl_op_definition
class WarpGroupDotOp(TritonOp):
    """`ttng.warp_group_dot %a, %b, %c[, %useC] : A * B -> C` (wgmma)."""

    name = "ttng.warp_group_dot"
    a = operand_def()
    b = operand_def()
    c = operand_def()
    use_c = opt_operand_def()
    d = result_def()
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = ("a", "b")


@irdl_op_definition
class WarpGroupDotWaitOp(TritonOp):
    name = "ttng.warp_group_dot_wait"
    inputs = var_operand_def()
    outputs = var_result_def()


TTNG_OPS = [TensormapCreateOp, ReinterpretTensorDescOp, InitBarrierOp, InvalBarrierOp, BarrierExpectOp,
            WaitBarrierOp, FenceAsyncSharedOp, AsyncTMACopyGlobalToLocalOp, AsyncTMACopyLocalToGlobalOp,
            AsyncTMAStoreWaitOp, WarpGroupDotOp, WarpGroupDotWaitOp]
