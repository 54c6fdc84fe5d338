"""`op_cost` for every dm kind: which tile-level price of the model applies to a dm JSON op, scaled to
the launch (CTAs x loop trips, `eqsat.costmodels.common`).

    load, store, indirect_load, indirect_store   global_access (the op's own layout)
    tma_load, tma_store                          global sectors of the box + one TMA setup (legality checked)
    async_copy                                   global access + the shared write (bytes / 128 B wavefronts)
                                                 + one async group issue
    async_wait                                   one async group wait
    convert                                      convert (src_layout -> dst_layout), the part hidden under
                                                 the kernel's memory time taken off (costmodels/overlap.py)
    trans                                        0: tt.trans only relabels registers (Triton emits no code)
    local_alloc                                  with a register source: shared store; capacity checked
    local_store / local_load                     shared_access store / load
    gather                                       gather (source tile = the op's first input)
    barrier                                      one CTA barrier (mbarrier init/expect/wait, fences);
                                                 the first ttng.init_barrier of a kernel also carries
                                                 the mbarrier shared traffic of a TMA CTA (`tma_setup`)
    reduce                                       costmodels/reduce.py (Triton's ReduceOpToLLVM): butterfly
                                                 shuffles, and when warps split the axis two rounds through
                                                 an axis-fastest scratch priced by banks.shared_access
    dot                                          operand movement only: wgmma/MFMA operands read from
                                                 shared memory (operand bytes / 128 B wavefronts); on
                                                 NVIDIA wgmma (instruction M = 64 rows per warpgroup,
                                                 N <= 256) re-reads B once per 64-row slice of the tile
                                                 and A once per 256-column slice
    other                                        0

Loop trips come from `common.loop_trips` with the kernel (the launch's values, else a guard, else a guarded
op of the same loop); an op priced with an assumed trip count carries the term `assumed_trips`.
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
    with_assumed_trips,
)


def _by_id(kernel: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    return {o["id"]: o for o in kernel.get("ops", [])}


def _scale(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> float:
    return num_ctas(op, kernel, model.rates) * loop_trips(op, model.rates, kernel)


def _tile(shape: list[int] | None) -> tuple[int, ...]:
    return tuple(int(s) for s in (shape or [1]))


def _layout_rank(layout: str | None) -> int | None:
    """The rank of a distributed encoding's text (its `order`, or a linear layout's first basis)."""
    import re

    if not layout:
        return None
    m = re.search(r"order\s*=\s*\[([^\]]*)\]", layout)
    if m:
        return len([x for x in m.group(1).split(",") if x.strip()])
    m = re.search(r"register\s*=\s*\[\[([^\]]*)\]", layout)
    if m:
        return len([x for x in m.group(1).split(",") if x.strip()])
    return None


def _buffer_shape(op: Mapping[str, Any], register_layout: str | None = None) -> tuple[int, ...]:
    """The tile one shared access moves: the op's shape, less a leading multi-buffer (stage) dim when
    the register tile has lower rank (a 3-D register tile, permute_3d's, moves whole)."""
    shape = _tile(op.get("shape"))
    if len(shape) > 2 and _layout_rank(register_layout) != len(shape):
        return shape[-2:]
    return shape


def cost_of_op(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    kind = op.get("kind")
    fn = _KINDS.get(kind)
    if fn is None:
        return Cost()
    cost = fn(model, op, kernel)
    if fn in (_global, _tma, _async_copy) or not cost.terms:  # global_access marks its own
        return cost
    return with_assumed_trips(cost, op, kernel)


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


def raw_convert(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    """A convert op's full price (nothing hidden under memory time), scaled to the launch."""
    cost = model.convert(op["src_layout"], op["dst_layout"], _tile(op.get("shape")), op.get("dtype") or "f32")
    return cost.scaled(_scale(model, op, kernel))


def _convert(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    from eqsat.costmodels.overlap import hidden_fraction, hide

    return hide(raw_convert(model, op, kernel), hidden_fraction(model, kernel))


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
                               _buffer_shape(op, op["src_layout"]), op.get("dtype") or "f32", "store")
    return cost.scaled(_scale(model, op, kernel))


def _local_store(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    cost = model.shared_access(op["src_layout"], op["dst_layout"],
                               _buffer_shape(op, op["src_layout"]), op.get("dtype") or "f32", "store")
    return cost.scaled(_scale(model, op, kernel))


def _local_load(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    cost = model.shared_access(op["dst_layout"], op["src_layout"],
                               _buffer_shape(op, op["dst_layout"]), op.get("dtype") or "f32", "load")
    return cost.scaled(_scale(model, op, kernel))


def _gather(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    from eqsat.costmodels.overlap import hidden_fraction, hide

    return hide(raw_gather(model, op, kernel), hidden_fraction(model, kernel))


def raw_gather(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    """A gather op's full price in registers or shared memory (nothing hidden), scaled to the launch."""
    ops = _by_id(kernel)
    info = op.get("info") or {}
    src_op = ops.get(op["inputs"][0]) if op.get("inputs") else None
    src_shape = _tile(src_op.get("shape") if src_op else op.get("shape"))
    index_layout = info.get("index_layout") or op["dst_layout"]
    cost = model.gather(op["src_layout"], index_layout, src_shape, _tile(op.get("shape")),
                        int(info.get("axis", 0)), op.get("dtype") or "f32")
    return cost.scaled(_scale(model, op, kernel))


def _first_mbarrier_init(kernel: Mapping[str, Any]) -> int | None:
    if not any(o.get("kind") in ("tma_load", "tma_store") for o in kernel.get("ops", [])):
        return None
    return next((o["id"] for o in kernel.get("ops", []) if o.get("origin") == "ttng.init_barrier"), None)


def _barrier(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    scale = _scale(model, op, kernel)
    cost = _cost({"barriers": scale}, {"barrier": model.rates.barrier_ns(scale)})
    if op.get("id") is not None and op.get("id") == _first_mbarrier_init(kernel):
        # mbarrier init/arrive.expect_tx/try_wait polling of a TMA kernel: shared ld/st wavefronts per CTA
        # (fitted on the H200 counters, common.Rates.mbarrier_wavefronts_per_cta), once per CTA
        wf = model.rates.mbarrier_wavefronts_per_cta * num_ctas(op, kernel, model.rates)
        cost = cost + _cost({"shared_wavefronts": wf, "tma_setup": num_ctas(op, kernel, model.rates)},
                            {"shared": model.rates.shared_ns(wf)})
    return cost


def _reduce(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    from eqsat.costmodels.reduce import partial_round_wavefronts, plan_reduce

    ops = _by_id(kernel)
    src_op = ops.get(op["inputs"][0]) if op.get("inputs") else None
    layout = op.get("src_layout")
    shape = _tile(src_op.get("shape") if src_op else None)
    if not layout or src_op is None:
        return Cost()
    axis = int((op.get("info") or {}).get("axis", 0))
    plan = plan_reduce(pow2_layout(layout, shape), axis)
    operands = max(1, len(op.get("inputs") or []))
    shuffles = plan.shuffles_per_warp * plan.warps * operands
    cost = _cost({"shuffle_rounds": shuffles}, {"shuffle": model.rates.shuffle_ns(shuffles)})
    if plan.through_shared:
        dtype = op.get("dtype") or "f32"
        eb = dtype_bytes(dtype)
        store = model.shared_access(plan.store_layout, plan.shared_layout, plan.rep_shape, dtype, "store")
        load = model.shared_access(plan.load_layout, plan.shared_layout, plan.rep_shape, dtype, "load")
        elems = math.prod(plan.rep_shape)
        _, partial_wf = partial_round_wavefronts(elems, plan.warps * model.rates.warp_size,
                                                 model.rates.warp_size, eb)
        partial_ns = model.rates.shared_ns(partial_wf) + model.rates.shared_ns(partial_wf, "load")
        partial = _cost({"shared_wavefronts": 2 * partial_wf, "shared_bytes": 2 * elems * eb, "barriers": 2},
                        {"shared": partial_ns, "barrier": model.rates.barrier_ns(2)})
        cost = cost + (store + load + partial).scaled(operands)
        cost.info = {"path": "shared", "rep_shape": list(plan.rep_shape), "smem_order": list(plan.smem_order),
                     "store": store.info, "load": load.info}
    return cost.scaled(_scale(model, op, kernel))


WGMMA_M = 64  # rows of one wgmma instruction (one warpgroup)
WGMMA_MAX_N = 256  # widest wgmma instruction


def _dot(model: MovementModel, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
    ops = _by_id(kernel)
    info = op.get("info") or {}
    m, n = (_tile(op.get("shape")) + (1, 1))[:2]
    wgmma = model.params.model == "nvidia" and op.get("origin") == "ttng.warp_group_dot"
    # wgmma: each 64-row slice of the tile is its own instruction reading all of B (and its rows of A);
    # each <= 256-column slice reads A again
    b_reads = max(1, m // WGMMA_M) if wgmma else 1
    a_reads = max(1, math.ceil(n / WGMMA_MAX_N)) if wgmma else 1
    nbytes = 0.0
    for space, buf, reads in ((info.get("a_space"), op.get("buffer"), a_reads),
                              (info.get("b_space"), info.get("b_buffer"), b_reads)):
        if space == "shared" and buf in ops:
            b = ops[buf]
            nbytes += math.prod(_buffer_shape(b)) * dtype_bytes(b.get("dtype")) * reads
    if not nbytes:
        return Cost()
    wf = nbytes / 128
    return _cost({"shared_wavefronts": wf, "shared_bytes": nbytes},
                 {"shared": model.rates.shared_ns(wf, "load")}, b_reads=b_reads,
                 a_reads=a_reads).scaled(_scale(model, op, kernel))


_KINDS = {
    "load": _global, "store": _global, "indirect_load": _global, "indirect_store": _global,
    "tma_load": _tma, "tma_store": _tma, "async_copy": _async_copy, "async_wait": _async_wait,
    "convert": _convert, "trans": _zero, "local_alloc": _local_alloc, "local_store": _local_store,
    "local_load": _local_load, "gather": _gather, "barrier": _barrier, "reduce": _reduce, "dot": _dot,
    "other": _zero,
}
