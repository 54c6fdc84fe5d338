"""`op_cost` for every dm kind: which tile-level price of the model applies to a dm JSON op, scaled to
the launch (CTAs x loop trips, `eqsat.costmodels.common`).

    load, store, indirect_load, indirect_store   global_access (the op's own layout)
    tma_load, tma_store                          global sectors of the box + one TMA setup (legality checked)
    async_copy                                   global access + the shared write (bytes / 128 B wavefronts)
                                                 + one async group issue
    async_wait                                   one async group wait
    convert                                      convert (src_layout -> dst_layout)
    trans                                        0: tt.trans only relabels registers (Triton emits no code)
    local_alloc                                  with a register source: shared store; capacity checked
    local_store / local_load                     shared_access store / load
    gather                                       gather (source tile = the op's first input)
    barrier                                      one CTA barrier (mbarrier init/expect/wait, fences)
    reduce                                       Triton's ReduceOpToLLVM: butterfly shuffles over the lane
                                                 bits along the axis, and when warps split the axis a
                                                 shared round trip of the per-warp partials (2 barriers)
    dot                                          operand movement only: wgmma/MFMA operands read from
                                                 shared memory (operand bytes / 128 B wavefronts)
    other                                        0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from eqsat.costmodels.base import Cost
from eqsat.costmodels.common import (
    MovementModel,
    _cost,
    dtype_bytes,
    loop_trips,
    num_ctas,
    pow2_layout,
)


def _by_id(kernel: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    return {o["id"]: o for o in kernel.get("ops", [])}


def _scale(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> float:
    return num_ctas(op, kernel, model.rates) * loop_trips(op, model.rates)


def _tile(shape: list[int] | None) -> tuple[int, ...]:
    return tuple(int(s) for s in (shape or [1]))


def _buffer_shape(op: Mapping[str, Any]) -> tuple[int, ...]:
    shape = _tile(op.get("shape"))
    return shape[-2:] if len(shape) > 2 else shape


def cost_of_op(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    kind = op.get("kind")
    fn = _KINDS.get(kind)
    if fn is None:
        return Cost()
    return fn(model, op, kernel)


def _global(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    return model.global_access(op, None, kernel)


def _tma(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    box = (op.get("info") or {}).get("box") or op.get("shape") or [1]
    reason = model.legality("tma", box=[int(b) for b in box], elem_bytes=dtype_bytes(op.get("dtype")))
    if reason:
        return Cost.infeasible(reason)
    scale = _scale(model, op, kernel)
    return model.global_access(op, None, kernel) + _cost({"tma_setup": scale},
                                                         {"tma": model.rates.tma_ns(scale)})


def _async_copy(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    cost = model.global_access(op, None, kernel)
    scale = _scale(model, op, kernel)
    nbytes = math.prod(_tile(op.get("shape"))) * dtype_bytes(op.get("dtype")) * scale
    wf = nbytes / 128
    return cost + _cost({"shared_wavefronts": wf, "shared_bytes": nbytes, "async_setup": scale},
                        {"shared": model.rates.shared_ns(wf), "async": model.rates.async_ns(scale)})


def _async_wait(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    scale = _scale(model, op, kernel)
    return _cost({"async_setup": scale}, {"async": model.rates.async_ns(scale)})


def _convert(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    cost = model.convert(op["src_layout"], op["dst_layout"], _tile(op.get("shape")), op.get("dtype") or "f32")
    return cost.scaled(_scale(model, op, kernel))


def _zero(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    return Cost()


def _live_shared_bytes(kernel: Mapping[str, Any]) -> int:
    total = 0
    for o in kernel.get("ops", []):
        if o.get("kind") == "local_alloc":
            total += math.prod(_tile(o.get("shape"))) * dtype_bytes(o.get("dtype"))
    return total


def _local_alloc(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    reason = model.legality("shared_encoding", encoding=op["dst_layout"]) if op.get("dst_layout") else None
    reason = reason or model.legality("shared_capacity", bytes=_live_shared_bytes(kernel))
    if reason:
        return Cost.infeasible(reason)
    if op.get("src_space") != "registers" or not op.get("src_layout"):
        return Cost()
    cost = model.shared_access(op["src_layout"], op["dst_layout"],
                               _buffer_shape(op), op.get("dtype") or "f32", "store")
    return cost.scaled(_scale(model, op, kernel))


def _local_store(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    cost = model.shared_access(op["src_layout"], op["dst_layout"],
                               _buffer_shape(op), op.get("dtype") or "f32", "store")
    return cost.scaled(_scale(model, op, kernel))


def _local_load(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    cost = model.shared_access(op["dst_layout"], op["src_layout"],
                               _buffer_shape(op), op.get("dtype") or "f32", "load")
    return cost.scaled(_scale(model, op, kernel))


def _gather(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    ops = _by_id(kernel)
    info = op.get("info") or {}
    src_op = ops.get(op["inputs"][0]) if op.get("inputs") else None
    src_shape = _tile(src_op.get("shape") if src_op else op.get("shape"))
    index_layout = info.get("index_layout") or op["dst_layout"]
    cost = model.gather(op["src_layout"], index_layout, src_shape, _tile(op.get("shape")),
                        int(info.get("axis", 0)), op.get("dtype") or "f32")
    return cost.scaled(_scale(model, op, kernel))


def _barrier(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    scale = _scale(model, op, kernel)
    return _cost({"barriers": scale}, {"barrier": model.rates.barrier_ns(scale)})


def _reduce(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    ops = _by_id(kernel)
    src_op = ops.get(op["inputs"][0]) if op.get("inputs") else None
    layout = op.get("src_layout")
    shape = _tile(src_op.get("shape") if src_op else None)
    if not layout or src_op is None:
        return Cost()
    axis = int((op.get("info") or {}).get("axis", 0))
    ll = pow2_layout(layout, shape)
    j = ll.out_dims.index(f"dim{axis}")

    def along(dim: str) -> int:
        return sum(1 for b in ll.in_bases(dim) if b[j]) if ll.has_in_dim(dim) else 0

    regs = sum(1 for b in ll.in_bases("register") if any(b))
    out_regs = 1 << max(0, regs - along("register"))
    warps = ll.get_in_dim_size("warp") if ll.has_in_dim("warp") else 1
    shuffles = along("lane") * out_regs * warps
    cost = _cost({"shuffle_rounds": shuffles}, {"shuffle": model.rates.shuffle_ns(shuffles)})
    if along("warp"):
        eb = dtype_bytes(op.get("dtype"))
        partial_bytes = out_regs * warps * model.rates.warp_size * eb
        wf = 2 * math.ceil(partial_bytes / 128)
        cost = cost + _cost({"shared_wavefronts": wf, "shared_bytes": 2 * partial_bytes, "barriers": 2},
                            {"shared": model.rates.shared_ns(wf), "barrier": model.rates.barrier_ns(2)})
    return cost.scaled(_scale(model, op, kernel))


def _dot(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    ops = _by_id(kernel)
    info = op.get("info") or {}
    nbytes = 0.0
    for space, buf in ((info.get("a_space"), op.get("buffer")), (info.get("b_space"), info.get("b_buffer"))):
        if space == "shared" and buf in ops:
            b = ops[buf]
            nbytes += math.prod(_buffer_shape(b)) * dtype_bytes(b.get("dtype"))
    if not nbytes:
        return Cost()
    wf = nbytes / 128
    return _cost({"shared_wavefronts": wf, "shared_bytes": nbytes},
                 {"shared": model.rates.shared_ns(wf)}).scaled(_scale(model, op, kernel))


_KINDS = {
    "load": _global, "store": _global, "indirect_load": _global, "indirect_store": _global,
    "tma_load": _tma, "tma_store": _tma, "async_copy": _async_copy, "async_wait": _async_wait,
    "convert": _convert, "trans": _zero, "local_alloc": _local_alloc, "local_store": _local_store,
    "local_load": _local_load, "gather": _gather, "barrier": _barrier, "reduce": _reduce, "dot": _dot,
    "other": _zero,
}
