"""`tt.reduce` as Triton 3.6 lowers it (lib/Conversion/TritonGPUToLLVM/ReduceOpToLLVM.cpp), priced per CTA.

1. `reduceWithinThreads`: registers along the axis are combined in registers (free here).
2. `reduceWithinWarps`: a butterfly of `shfl.sync` over the lane bits along the axis, once per distinct
   accumulator a thread holds (`shuffle_rounds`).
3. When warps split the axis (`ReduceOpHelper::isWarpSynchronous` is false) the partials go through
   shared memory in two rounds, with the scratch buffer of `getScratchRepShape` (the source shape with
   the axis replaced by the number of warps along it) laid out with the AXIS FASTEST
   (`getOrderWithAxisAtBeginning`: the source order with the axis moved to the front), unswizzled:
   * `storeWarpReduceToSharedMemory`: each accumulator, one scalar `st.shared` per warp, written by the
     lanes whose lane index along the axis is 0 at `(index with axis := warp index along axis)`;
   * barrier; `accumulatePartialReductions`: thread `t` reads scratch element `t + r * threads`
     (r < max(elems / threads, 1), threads past `elems` predicated off), reduces over the warps-along-axis
     lanes with shuffles and writes the result back (one `ld` + one `st` per active warp and round);
   * barrier; `loadReductionAndPackResult`: every warp reads each result element it holds at
     `(index with axis := 0)`.
   The axis-fastest scratch is what makes wide reductions bank-conflicted: neighbouring output columns
   are `warps along axis` words apart (measured on an H200: col_sum_broadcast 8-way, moe_combine 16-way).

The stores and the final loads are priced by `banks.shared_access` with the scratch written as a
`#ttg.swizzled_shared` (vec 1) buffer on the rep shape and the accessing registers as a `#ttg.linear`
layout; round 2 is contiguous (one 128-byte line per warp instruction of 32-bit values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eqsat.layout import LinearLayout


@dataclass(frozen=True)
class ReducePlan:
    shuffles_per_warp: int  # butterfly shuffles one warp issues (accumulators x lane bits along axis)
    warps: int
    warps_along_axis: int  # getInterWarpSizeWithUniqueData
    rep_shape: tuple[int, ...]  # scratch shape (axis = warps along it)
    smem_order: tuple[int, ...]  # fastest first: the axis, then the source order
    store_layout: str  # #ttg.linear of the round-1 stores on rep_shape
    load_layout: str  # #ttg.linear of the final loads on rep_shape
    shared_layout: str  # the scratch buffer

    @property
    def through_shared(self) -> bool:
        return self.warps_along_axis > 1


def _linear_text(register: list[list[int]], lane: list[list[int]], warp: list[list[int]]) -> str:
    def fmt(bases: list[list[int]]) -> str:
        return "[" + ", ".join("[" + ", ".join(str(x) for x in b) + "]" for b in bases) + "]"

    return (f"#ttg.linear<{{register = {fmt(register)}, lane = {fmt(lane)}, warp = {fmt(warp)}, "
            f"block = []}}>")


def _order(ll: LinearLayout) -> list[int]:
    """Dims from fastest to slowest as the register/lane bases first move along them (Triton getOrder)."""
    seen: list[int] = []
    for dim in ("register", "lane", "warp"):
        if not ll.has_in_dim(dim):
            continue
        for b in ll.in_bases(dim):
            for j, x in enumerate(b):
                if x and j not in seen:
                    seen.append(j)
    return seen + [j for j in range(len(ll.out_dims)) if j not in seen]


def plan_reduce(ll: LinearLayout, axis: int) -> ReducePlan:
    """The lowering of a reduction of the (power-of-two) source layout `ll` along `axis`."""
    rank = len(ll.out_dims)

    def bases(dim: str) -> list[list[int]]:
        return [list(b) for b in ll.in_bases(dim)] if ll.has_in_dim(dim) else []

    regs, lanes, warps = bases("register"), bases("lane"), bases("warp")
    lane_bits_axis = sum(1 for b in lanes if b[axis])
    accumulators = 1 << sum(1 for b in regs if any(b) and not b[axis])
    warp_axis = [b for b in warps if b[axis]]
    n_axis = 1 << len(warp_axis)
    sizes = [ll.get_out_dim_size(d) for d in ll.out_dims]
    rep_shape = tuple(n_axis if j == axis else sizes[j] for j in range(rank))

    def drop_axis(b: list[int]) -> list[int]:
        return [0 if j == axis else x for j, x in enumerate(b)]

    store_regs = [drop_axis(b) for b in regs if any(drop_axis(b))]
    store_lanes = [drop_axis(b) for b in lanes]
    store_warps, k = [], 0
    for b in warps:
        if b[axis]:
            store_warps.append([(1 << k) if j == axis else 0 for j in range(rank)])
            k += 1
        else:
            store_warps.append(drop_axis(b))
    load_warps = [drop_axis(b) for b in warps]
    order = _order(ll)
    smem_order = tuple([axis] + [j for j in order if j != axis])
    shared = ("#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = ["
              + ", ".join(str(j) for j in smem_order) + "]}>")
    return ReducePlan(
        shuffles_per_warp=lane_bits_axis * accumulators,
        warps=1 << len(warps),
        warps_along_axis=n_axis,
        rep_shape=rep_shape,
        smem_order=smem_order,
        store_layout=_linear_text(store_regs, store_lanes, store_warps),
        load_layout=_linear_text(store_regs, store_lanes, load_warps),
        shared_layout=shared,
    )


def partial_round_wavefronts(elems: int, threads: int, warp_size: int, elem_bytes: int,
                             line_bytes: int = 128) -> tuple[int, int]:
    """`accumulatePartialReductions`: (warp instructions, wavefronts) of its loads (its stores are the
    same count): per round, the warps with at least one thread below `elems`, each touching a contiguous
    run of its active lanes' elements."""
    rounds = max(elems // threads, 1)
    instructions = wavefronts = 0
    for r in range(rounds):
        active = min(threads, elems - r * threads)
        for w in range(math.ceil(active / warp_size)):
            lanes = min(warp_size, active - w * warp_size)
            instructions += 1
            wavefronts += math.ceil(lanes * elem_bytes / line_bytes)
    return instructions, wavefronts
