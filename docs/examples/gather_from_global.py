"""A user rule family, written from scratch for docs/rules.md: gather straight from global memory.

    mine.gather_from_global   gather(load(op, a), idx, axis, L) -> gather_global(op, idx, axis, L)
                              gather(convert(load(op, a), a, b), idx, axis, L) -> (the same)
                              when the load's mask does not depend on the gathered coordinate

Load it with `--rules docs/examples/gather_from_global.py`. The family's seed states the fact its rule
needs (`mine_mask_free(op, axis)`); the check draws instances from a hypothesis strategy, so a failure
shrinks to the smallest shape, axis and mask that break the rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from egglog import String, eq, i64, relation, rule, union, var
from eqsat.rules.harness import Instance, property_rule
from eqsat.rules.instances import mask_free_of, random_global, random_layout
from hypothesis import strategies as st

from eqsat.egraph.interpret import Env, GlobalAccess, padded, ty_text
from eqsat.egraph.terms import Layout, Tile

FAMILY = "mine"
AFTER = "gather"  # run right after the built-in gather family

# a fact of this family's own: the mask of global load `op` is constant along `axis`
mine_mask_free = relation("mine_mask_free", i64, i64)

t, idx = var("t", Tile), var("idx", Tile)
a, b, lay = var("a", Layout), var("b", Layout), var("lay", Layout)
op, axis = var("op", i64), var("axis", i64)
tys, ty = var("tys", String), var("ty", String)

# two patterns: the gathered tile straight from its load, or through a layout conversion (what Triton
# emits when the load's coalesced layout is not the gather's); egglog rule names are `<rule>#<variant>`
EGG_RULES = [
    rule(eq(t).to(Tile.gather(Tile.load(op, a, tys), idx, axis, lay, ty)), mine_mask_free(op, axis),
         name="mine.gather_from_global#load").then(
             union(t).with_(Tile.gather_global(op, idx, axis, lay, ty))),
    rule(eq(t).to(Tile.gather(Tile.load(op, a, tys).convert(a, b, tys), idx, axis, lay, ty)),
         mine_mask_free(op, axis),
         name="mine.gather_from_global#converted").then(
             union(t).with_(Tile.gather_global(op, idx, axis, lay, ty))),
]

# an instance: (rows, cols, gathered axis, index extent, mask bound along the axis or None, seed)
EXAMPLES = st.tuples(st.integers(2, 24), st.integers(2, 24), st.integers(0, 1), st.integers(1, 24),
                     st.one_of(st.none(), st.integers(1, 24)), st.integers(0, 2**16))


def make_instance(example: tuple[Any, ...], *, with_precondition: bool = True) -> Instance:
    rows, cols, ax, n_idx, bound, seed = example
    rng = np.random.default_rng(seed)
    shape = (rows, cols)
    idx_shape = (n_idx, cols) if ax == 0 else (rows, n_idx)
    src = random_global(rng, shape, masked=bound is not None, mask_axis=ax)
    if bound is not None:  # a mask along the gathered axis that really cuts it
        grid = np.indices(padded(shape))
        src.mask &= grid[ax] < min(bound, shape[ax])
    index = rng.integers(0, shape[ax], size=padded(idx_shape)).astype(np.float64)
    env = Env(loads={0: src, 1: GlobalAccess(memory=index.reshape(-1),
                                             address=np.arange(index.size).reshape(index.shape),
                                             mask=np.ones(index.shape, dtype=bool))})
    l_src, l_idx = random_layout(rng, shape), random_layout(rng, idx_shape)
    lhs = Tile.gather(Tile.load(0, Layout(l_src), ty_text(shape, "f32")),
                      Tile.load(1, Layout(l_idx), ty_text(idx_shape, "i32")), ax, Layout(l_idx),
                      ty_text(idx_shape, "f32"))
    free = mask_free_of(src, ax)
    facts = [mine_mask_free(0, ax)] if free or not with_precondition else []
    return Instance(lhs, env, facts, should_fire=free or not with_precondition,
                    note=f"{rows}x{cols}, axis {ax}, mask bound {bound}")


GATHER_FROM_GLOBAL = property_rule(
    "mine.gather_from_global",
    "A gather of a tile loaded from global memory loads only the gathered elements (the addresses "
    "recomputed at the gathered coordinates); the full tile's load may then die.",
    "mine_mask_free(op, axis): the load's mask is constant along the gathered axis (seed)",
    EGG_RULES, EXAMPLES, make_instance, plan_choice="gather_strategy")

RULES = [GATHER_FROM_GLOBAL]


def seed(egraph: Any, encoded: Any, model: Any) -> None:
    """State mine_mask_free for every load that feeds a gather and whose mask ignores the gathered axis."""
    from eqsat.rules.gather import mask_free

    kernel = encoded if isinstance(encoded, dict) else encoded.kernel
    ops = {o["id"]: o for o in kernel["ops"]}
    facts = []
    for o in kernel["ops"]:
        if o["kind"] != "gather" or not o.get("inputs"):
            continue
        ax = int(o["info"].get("axis", 0))
        producer = ops.get(o["inputs"][0])
        while producer is not None and producer["kind"] == "convert" and producer.get("inputs"):
            producer = ops.get(producer["inputs"][0])  # through the conversion of the second pattern
        if producer is not None and producer["kind"] == "load" and mask_free(producer, ax):
            facts.append(mine_mask_free(producer["id"], ax))
    if facts:
        egraph.register(*facts)
