"""Gather rules: how `tt.gather` and indirect global loads move their data.

    gather.warp_shuffle     gather(src, idx, axis, L) ->
                              convert(gather(convert(src, W), convert(idx, W), W), W, L)
                            W warp-local for the axis (Triton's OptimizeGatherLayouts choice): warp shuffles
    gather.shared           gather(src, idx, axis, L) -> gather_shared(src, idx, axis, L)
    gather.indirect_global  gather(load(op), idx, axis, L) -> gather_global(op, idx, axis, L): load only the
                            gathered elements, when the load's mask does not depend on the gathered axis
    gather.wide_indirect    indirect_load(op, L) -> convert(indirect_load(op, W), W, L): issue an embedding /
                            per-row paged-KV load with wider vectors along the contiguous dim

Indirect means per-lane indirection (the dm op's `access.indirect_via`: each row of the tile has its own
loaded index). A tile at a base loaded once per program (`access.base_via`: cu_seqlens, one block-table
entry per tile) is a plain `load`/`store`: the load rules of `convert` and `staging` apply to it as to any
strided box, and the gather rules do not.

The seed states `gather_layout(idx_layout, axis, ty, W)` for every gather (W from `warp_local_layout`),
`mask_free_axis(load, axis)` for loads feeding a gather whose mask provably ignores the axis (no mask, or
a mask constant along the whole axis), and `load_candidate(op, W)` for every indirect load (W from
`wide_layout`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from egglog import EGraph, String, eq, i64, rule, union, var
from eqsat.rules.harness import Instance, interpreter_rule
from eqsat.rules.instances import (
    ELEM_BYTES,
    mask_free_of,
    random_blocked,
    random_global,
    random_layout,
    random_shape,
)

from eqsat.egraph.interpret import Env, GlobalAccess, padded, ty_text
from eqsat.egraph.terms import (
    Layout,
    Tile,
    gather_layout,
    layout_of,
    load_candidate,
    mask_free_axis,
    ty_of,
)

t, src, idx = var("t", Tile), var("src", Tile), var("idx", Tile)
lay, ls, li, w, a = (var(n, Layout) for n in ("lay", "ls", "li", "w", "a"))
ty, tys, tyi = var("ty", String), var("tys", String), var("tyi", String)
op, axis = var("op", i64), var("axis", i64)


def _pow2_split(total: int, extent: int) -> int:
    return max(1, min(total, padded((extent,))[0]))


def warp_local_layout(shape: tuple[int, ...] | list[int], axis: int, num_warps: int, warp_size: int) -> str:
    """A blocked layout that keeps `axis` inside each warp: lanes (then registers) along the axis, warps
    across the other dims (the layout OptimizeGatherLayouts makes for a warp-local gather)."""
    rank = len(shape)
    tpw = [1] * rank
    tpw[axis] = _pow2_split(warp_size, int(shape[axis]))
    rest = warp_size // tpw[axis]
    others = [d for d in range(rank - 1, -1, -1) if d != axis]
    for d in others:
        k = _pow2_split(rest, int(shape[d]))
        tpw[d] *= k
        rest //= k
    tpw[others[0] if others else axis] *= rest
    wpc = [1] * rank
    wpc[others[-1] if others else axis] = num_warps
    order = [axis] + others
    return (f"#ttg.blocked<{{sizePerThread = [{', '.join('1' for _ in range(rank))}], threadsPerWarp = "
            f"[{', '.join(map(str, tpw))}], warpsPerCTA = [{', '.join(map(str, wpc))}], "
            f"order = [{', '.join(map(str, order))}]}}>")


def wide_layout(shape: tuple[int, ...] | list[int], fastest: int, dtype: str, num_warps: int,
                warp_size: int) -> str:
    """A blocked layout with 16-byte vectors along the contiguous dim `fastest`, lanes next along it."""
    rank = len(shape)
    vec = max(1, min(16 // ELEM_BYTES.get(dtype, 4), padded((int(shape[fastest]),))[0]))
    spt = [1] * rank
    spt[fastest] = vec
    tpw = [1] * rank
    tpw[fastest] = _pow2_split(warp_size, max(1, int(shape[fastest]) // vec))
    rest = warp_size // tpw[fastest]
    others = [d for d in range(rank - 1, -1, -1) if d != fastest]
    if others:
        tpw[others[0]] = rest
    else:
        tpw[fastest] *= rest
    wpc = [1] * rank
    wpc[others[0] if others else fastest] = num_warps
    order = [fastest] + others
    return (f"#ttg.blocked<{{sizePerThread = [{', '.join(map(str, spt))}], threadsPerWarp = "
            f"[{', '.join(map(str, tpw))}], warpsPerCTA = [{', '.join(map(str, wpc))}], "
            f"order = [{', '.join(map(str, order))}]}}>")


def _gather_instance(seed: int, *, global_src: bool = False, converted: bool = False) -> Instance:
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 3))
    src_shape = random_shape(rng, rank)
    ax = int(rng.integers(rank))
    idx_shape = list(src_shape)
    idx_shape[ax] = int(random_shape(rng, 1)[0])
    idx_shape_t = tuple(idx_shape)
    dtype = ("f16", "f32", "i32")[seed % 3]
    tys_s, tyi_s = ty_text(src_shape, dtype), ty_text(idx_shape_t, "i32")
    l_src, l_idx = random_layout(rng, src_shape), random_layout(rng, idx_shape_t)
    mask_axis = ax if rng.random() < 0.5 else None
    env = Env(loads={0: random_global(rng, src_shape, mask_axis=mask_axis)})
    index = rng.integers(0, src_shape[ax], size=padded(idx_shape_t)).astype(np.float64)
    env.loads[1] = GlobalAccess(memory=index.reshape(-1), address=np.arange(index.size).reshape(index.shape),
                                mask=np.ones(index.shape, dtype=bool))
    source: Any = Tile.load(0, Layout(l_src), tys_s)
    if converted:
        l_mid = random_layout(rng, src_shape)
        source = source.convert(Layout(l_src), Layout(l_mid), tys_s)
    ty_out = ty_text(idx_shape_t, dtype)
    lhs = Tile.gather(source, Tile.load(1, Layout(l_idx), tyi_s), ax, Layout(l_idx), ty_out)
    facts: list[Any] = []
    free = mask_free_of(env.loads[0], ax)
    if global_src and free:
        facts.append(mask_free_axis(0, ax))
    # one text for source and index: a blocked encoding (shape-agnostic), warp-local or not
    wl = warp_local_layout(idx_shape_t, ax, 4, 32) if rng.random() < 0.5 else random_blocked(rng, rank)
    facts.append(gather_layout(Layout(l_idx), ax, ty_text(idx_shape_t, dtype), Layout(wl)))
    return Instance(lhs, env, facts, should_fire=free or not global_src,
                    note=f"axis {ax}, {'mask free of axis' if free else 'mask depends on axis'}")


WARP_SHUFFLE = interpreter_rule(
    "gather.warp_shuffle",
    "Make the gather warp-local: convert source and index to a layout W that keeps the gathered axis inside "
    "each warp, gather with warp shuffles, convert the result back (Triton's own strategy).",
    "gather_layout(idx_layout, axis, ty, W): W is warp-local for the axis (seed: warp_local_layout)",
    [rule(eq(t).to(Tile.gather(src, idx, axis, lay, ty)), eq(layout_of(src)).to(ls),
          eq(layout_of(idx)).to(li), eq(ty_of(src)).to(tys), eq(ty_of(idx)).to(tyi),
          gather_layout(li, axis, ty, w),
          name="gather.warp_shuffle").then(
              union(t).with_(Tile.gather(src.convert(ls, w, tys), idx.convert(li, w, tyi), axis, w, ty)
                             .convert(w, lay, ty)))],
    _gather_instance, plan_choice="gather_strategy")

SHARED = interpreter_rule(
    "gather.shared",
    "Gather through shared memory: the whole source is stored, each index loads its element (Triton's path "
    "when the gather is not warp-local; wins when shuffle rounds outnumber the shared traffic).",
    "none (always an alternative)",
    [rule(eq(t).to(Tile.gather(src, idx, axis, lay, ty)), name="gather.shared").then(
        union(t).with_(Tile.gather_shared(src, idx, axis, lay, ty)))],
    _gather_instance, plan_choice="gather_strategy")

INDIRECT_GLOBAL = interpreter_rule(
    "gather.indirect_global",
    "A gather of a tile that came from a global load reads only the gathered elements straight from global "
    "memory (addresses recomputed at the gathered coordinates); the source load may then die.",
    "the source is a global load (possibly through a convert) and mask_free_axis(load, axis): its mask "
    "does not depend on the gathered coordinate (the lowering keeps the mask of the output coordinate)",
    [rule(eq(t).to(Tile.gather(Tile.load(op, a, tys), idx, axis, lay, ty)), mask_free_axis(op, axis),
          name="gather.indirect_global#load").then(
              union(t).with_(Tile.gather_global(op, idx, axis, lay, ty))),
     rule(eq(t).to(Tile.gather(Tile.load(op, a, tys).convert(a, ls, tys), idx, axis, lay, ty)),
          mask_free_axis(op, axis), name="gather.indirect_global#converted").then(
              union(t).with_(Tile.gather_global(op, idx, axis, lay, ty)))],
    lambda seed: _gather_instance(seed, global_src=True, converted=bool(seed % 2)),
    plan_choice="gather_strategy")


def _wide_instance(seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 3)))
    ty_s = ty_text(shape, ("f16", "f32", "i32")[seed % 3])
    l_orig = random_layout(rng, shape)
    l_wide = wide_layout(shape, len(shape) - 1, ty_s.split("x")[-1], 4, 32) if seed % 2 else \
        random_layout(rng, shape)
    env = Env(loads={0: random_global(rng, shape)})
    return Instance(Tile.indirect_load(0, Layout(l_orig), ty_s), env, [load_candidate(0, Layout(l_wide))])


WIDE_INDIRECT = interpreter_rule(
    "gather.wide_indirect",
    "Issue an indirect global load (embedding rows, per-row paged KV) in a layout with 16-byte vectors along "
    "the contiguous dim, then convert to the layout its users want.",
    "load_candidate(op, W) for an indirect load op (seed: wide_layout along the access's fastest dim)",
    [rule(eq(t).to(Tile.indirect_load(op, lay, ty)), load_candidate(op, w),
          name="gather.wide_indirect").then(
              union(t).with_(Tile.indirect_load(op, w, ty).convert(w, lay, ty)))],
    _wide_instance, plan_choice="load_layout")

RULES = [WARP_SHUFFLE, SHARED, INDIRECT_GLOBAL, WIDE_INDIRECT]


def mask_free(load_op: dict[str, Any], axis: int) -> bool:
    """The load's mask provably ignores coordinate `axis`: no mask at all, or (for the fastest dim) a mask
    constant over at least the whole extent."""
    access = load_op.get("access") or {}
    guard = (load_op.get("info") or {}).get("guard") or {}
    if guard.get("valid_shape") and guard.get("padded_shape") and \
            guard["valid_shape"][axis] != guard["padded_shape"][axis]:
        return False
    constancy = access.get("mask_constancy")
    if constancy is None:
        return True
    return access.get("fastest_dim") == axis and int(constancy) >= int(load_op["shape"][axis])


def seed(egraph: EGraph, encoded: Any, model: Any) -> None:
    kernel = encoded if isinstance(encoded, dict) else encoded.kernel
    ops = {o["id"]: o for o in kernel["ops"]}
    warps, lanes = int(kernel.get("num_warps", 4)), int(kernel.get("threads_per_warp", 32))
    facts: list[Any] = []
    for o in kernel["ops"]:
        if o["kind"] == "gather":
            ax = int(o["info"].get("axis", 0))
            idx_layout = o["info"].get("index_layout") or o["dst_layout"]
            ty_s = ty_text(o["shape"], o["dtype"])
            facts.append(gather_layout(Layout(idx_layout), ax, ty_s,
                                       Layout(warp_local_layout(o["shape"], ax, warps, lanes))))
            producer = ops.get(o["inputs"][0]) if o.get("inputs") else None
            while producer is not None and producer["kind"] == "convert" and producer.get("inputs"):
                producer = ops.get(producer["inputs"][0])
            if producer is not None and producer["kind"] == "load" and mask_free(producer, ax):
                facts.append(mask_free_axis(producer["id"], ax))
        elif o["kind"] == "indirect_load" and o.get("shape"):
            fastest = int((o.get("access") or {}).get("fastest_dim") or len(o["shape"]) - 1)
            wide = wide_layout(o["shape"], fastest, o["dtype"], warps, lanes)
            if wide != o.get("layout"):
                facts.append(load_candidate(o["id"], Layout(wide)))
    if facts:
        egraph.register(*facts)
