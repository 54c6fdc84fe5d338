"""Convert rules: drop, fold, push and re-route `ttg.convert_layout`, or rematerialise its source load.

Every rule keeps the term-language invariant (one Tile e-class = one value in one layout): a rewrite of
`t.convert(a, b, ty)` produces another term that holds the same elements in layout `b`.

    convert.drop_identity     convert(t, a, b) -> t            a == b as text, or same_layout(a, b, ty)
    convert.fold_chain        convert(convert(t, a, b), b, c) -> convert(t, a, c)
    convert.push_elementwise  convert(f(x, a), a, b) -> f(convert(x, a, b), b)    (one or two operands)
    convert.remat_load        convert(load(op, a), a, b) -> load(op, b)           load_candidate(op, b)
    convert.via_intermediate  convert(t, a, b) -> convert(convert(t, a, m), m, b) via_candidate(a, b, m)
    convert.via_shared        convert(t, a, b) -> via_shared(t, a, enc, b)        convert_enc(a, b, ty, enc)

The seed states, per dm `convert` op: `same_layout` when source and destination are equal F2 maps,
`load_candidate(load, dst)` when the source is a global load, and `via_candidate` for the other register
layouts of the kernel with the same shape (at most `MAX_VIA` of them). Shared encodings for via_shared
start from `default_encodings` (the swizzle family's seed adds the other candidates).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from egglog import EGraph, String, eq, i64, rule, union, var
from eqsat.rules.harness import Instance, interpreter_rule
from eqsat.rules.instances import (
    layouts_equal,
    linear_text_of,
    random_global,
    random_layout,
    random_shape,
    random_shared,
)

from eqsat.egraph.interpret import Env, ty_text
from eqsat.egraph.proofs import prove_fold
from eqsat.egraph.terms import (
    Layout,
    SharedEnc,
    Tile,
    convert_enc,
    load_candidate,
    same_layout,
    ty_of,
    via_candidate,
)

MAX_VIA = 3

t, x, y = var("t", Tile), var("x", Tile), var("y", Tile)
a, b, c, m = (var(n, Layout) for n in ("a", "b", "c", "m"))
ty, tyx, tyy = var("ty", String), var("tyx", String), var("tyy", String)
op = var("op", i64)
enc = var("enc", SharedEnc)


def _load_leaf(rng: np.random.Generator, shape: tuple[int, ...], layout: str, ty_s: str) -> tuple[Any, Env]:
    env = Env(loads={0: random_global(rng, shape)})
    return Tile.load(0, Layout(layout), ty_s), env


def _basic(seed: int) -> tuple[np.random.Generator, tuple[int, ...], str, str, str]:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, rank=int(rng.integers(1, 3)))
    ty_s = ty_text(shape, ("f16", "f32", "i32")[seed % 3])
    return rng, shape, ty_s, random_layout(rng, shape), random_layout(rng, shape)


# ------------------------------------------------------------------------------------- drop_identity
def _drop_instance(seed: int) -> Instance:
    rng, shape, ty_s, la, lb = _basic(seed)
    kind = seed % 3
    if kind == 0:
        lb = la
    elif kind == 1:
        lb = linear_text_of(la, shape)
    leaf, env = _load_leaf(rng, shape, la, ty_s)
    facts = [same_layout(Layout(la), Layout(lb), ty_s)] if layouts_equal(la, lb, shape) else []
    return Instance(leaf.convert(Layout(la), Layout(lb), ty_s), env, facts, should_fire=kind != 2,
                    note=("same text", "same map", "other layout")[kind])


DROP_IDENTITY = interpreter_rule(
    "convert.drop_identity",
    "A conversion to the layout the tile is already in is the tile itself: drop it (Triton strips identity "
    "conversions only when the text is equal; an F2-equal #ttg.linear spelling is caught here too).",
    "source and destination have the same text, or same_layout(a, b, ty): equal F2 maps on the tile",
    [rule(eq(t).to(x.convert(a, a, ty)), name="convert.drop_identity#text").then(union(t).with_(x)),
     rule(eq(t).to(x.convert(a, b, ty)), same_layout(a, b, ty),
          name="convert.drop_identity#map").then(union(t).with_(x))],
    _drop_instance, plan_choice="convert_path")


# ------------------------------------------------------------------------------------- fold_chain
def _fold_instance(seed: int) -> Instance:
    rng, shape, ty_s, la, lb = _basic(seed)
    lc = random_layout(rng, shape) if seed % 2 else la
    leaf, env = _load_leaf(rng, shape, la, ty_s)
    lhs = leaf.convert(Layout(la), Layout(lb), ty_s).convert(Layout(lb), Layout(lc), ty_s)
    return Instance(lhs, env, note="a -> b -> a" if lc == la else "a -> b -> c")


def _fold_proof(seed: int) -> None:
    from eqsat.egraph.interpret import _pow2_layout

    rng = np.random.default_rng(seed + 7919)
    shape = random_shape(rng, rank=2, pow2=True)
    la, lb, lc = (random_layout(rng, shape) for _ in range(3))
    proof = prove_fold(*(_pow2_layout(s, shape) for s in (la, lb, lc)))
    if not proof:
        raise AssertionError(f"convert.fold_chain (seed {seed}): z3: {la} -> {lb} -> {lc}: {proof.detail}")


FOLD_CHAIN = interpreter_rule(
    "convert.fold_chain",
    "Two chained conversions fetch what one conversion from the first layout fetches: fold them (a -> b -> a "
    "then drops). Lowered by dropping the inner convert (plan: convert_path drop).",
    "the inner convert's destination is the outer convert's source",
    [rule(eq(t).to(x.convert(a, b, ty).convert(b, c, ty)),
          name="convert.fold_chain").then(union(t).with_(x.convert(a, c, ty)))],
    _fold_instance, plan_choice="convert_path", also=_fold_proof)


# ------------------------------------------------------------------------------------- push_elementwise
ELEMENTWISE = (lambda v: v * 2.0 + 1.0, lambda v: np.maximum(v, 0.25), lambda v: -v)


def _push_instance(seed: int) -> Instance:
    rng, shape, ty_s, la, lb = _basic(seed)
    leaf, env = _load_leaf(rng, shape, la, ty_s)
    env.elementwise[5] = ELEMENTWISE[seed % 3]
    if seed % 2:
        env.loads[1] = random_global(rng, shape)
        env.elementwise[5] = lambda u, v: u * 2.0 - v
        other = Tile.load(1, Layout(la), ty_s)
        f = Tile.elementwise2(5, leaf, other, Layout(la), ty_s)
    else:
        f = Tile.elementwise(5, leaf, Layout(la), ty_s)
    return Instance(f.convert(Layout(la), Layout(lb), ty_s), env, note="binary" if seed % 2 else "unary")


PUSH_ELEMENTWISE = interpreter_rule(
    "convert.push_elementwise",
    "Elementwise ops compute slot by slot, so converting their result equals computing on converted "
    "operands: moves the conversion towards the loads, where remat_load or fold_chain may remove it.",
    "the converted tile is an elementwise op (dm kind other with arith/math origin) in the source layout",
    [rule(eq(t).to(Tile.elementwise(op, x, a, ty).convert(a, b, ty)), eq(ty_of(x)).to(tyx),
          name="convert.push_elementwise#unary").then(
              union(t).with_(Tile.elementwise(op, x.convert(a, b, tyx), b, ty))),
     rule(eq(t).to(Tile.elementwise2(op, x, y, a, ty).convert(a, b, ty)), eq(ty_of(x)).to(tyx),
          eq(ty_of(y)).to(tyy), name="convert.push_elementwise#binary").then(
              union(t).with_(Tile.elementwise2(op, x.convert(a, b, tyx), y.convert(a, b, tyy), b, ty)))],
    _push_instance)


# ------------------------------------------------------------------------------------- remat_load
def _remat_instance(seed: int) -> Instance:
    rng, shape, ty_s, la, lb = _basic(seed)
    leaf, env = _load_leaf(rng, shape, la, ty_s)
    if seed % 2:
        leaf = Tile.indirect_load(0, Layout(la), ty_s)
    return Instance(leaf.convert(Layout(la), Layout(lb), ty_s), env, [load_candidate(0, Layout(lb))],
                    note="indirect" if seed % 2 else "direct")


REMAT_LOAD = interpreter_rule(
    "convert.remat_load",
    "Issue the global load directly in the consumer's layout (addresses, mask and other rematerialised) "
    "instead of loading and converting: saves the conversion, may lose coalescing; the cost model decides.",
    "load_candidate(op, b): the seed offers the convert's destination layout for the load feeding it",
    [rule(eq(t).to(Tile.load(op, a, ty).convert(a, b, ty)), load_candidate(op, b),
          name="convert.remat_load#load").then(union(t).with_(Tile.load(op, b, ty))),
     rule(eq(t).to(Tile.indirect_load(op, a, ty).convert(a, b, ty)), load_candidate(op, b),
          name="convert.remat_load#indirect").then(union(t).with_(Tile.indirect_load(op, b, ty)))],
    _remat_instance, plan_choice="load_layout")


# ------------------------------------------------------------------------------------- via_intermediate
def _via_instance(seed: int) -> Instance:
    rng, shape, ty_s, la, lb = _basic(seed)
    lm = random_layout(rng, shape)
    leaf, env = _load_leaf(rng, shape, la, ty_s)
    return Instance(leaf.convert(Layout(la), Layout(lb), ty_s), env,
                    [via_candidate(Layout(la), Layout(lb), Layout(lm), ty_s)])


VIA_INTERMEDIATE = interpreter_rule(
    "convert.via_intermediate",
    "Split a conversion into two through an intermediate layout (e.g. two warp-shuffle conversions instead "
    "of one through shared memory).",
    "via_candidate(a, b, m, ty): the seed offers the kernel's other layouts of the same shape",
    [rule(eq(t).to(x.convert(a, b, ty)), via_candidate(a, b, m, ty),
          name="convert.via_intermediate").then(union(t).with_(x.convert(a, m, ty).convert(m, b, ty)))],
    _via_instance, plan_choice="convert_path")


# ------------------------------------------------------------------------------------- via_shared
def _shared_instance(seed: int) -> Instance:
    rng, shape, ty_s, la, lb = _basic(seed)
    e = random_shared(rng, shape)
    leaf, env = _load_leaf(rng, shape, la, ty_s)
    return Instance(leaf.convert(Layout(la), Layout(lb), ty_s), env,
                    [convert_enc(Layout(la), Layout(lb), ty_s, SharedEnc(e))], note=e)


VIA_SHARED = interpreter_rule(
    "convert.via_shared",
    "Do the conversion as an explicit shared-memory round trip with a chosen encoding (local_alloc + "
    "local_load) instead of Triton's own choice of swizzle.",
    "convert_enc(a, b, ty, enc): a candidate encoding from the swizzle family's seed",
    [rule(eq(t).to(x.convert(a, b, ty)), convert_enc(a, b, ty, enc),
          name="convert.via_shared").then(union(t).with_(x.via_shared(a, enc, b, ty)))],
    _shared_instance, plan_choice="convert_path")

RULES = [DROP_IDENTITY, FOLD_CHAIN, PUSH_ELEMENTWISE, REMAT_LOAD, VIA_INTERMEDIATE, VIA_SHARED]


# ------------------------------------------------------------------------------------- seed
def kernel_json(encoded: Any) -> dict[str, Any]:
    """The dm JSON kernel of an encoded kernel (or the dict itself)."""
    return encoded if isinstance(encoded, dict) else encoded.kernel


def op_ty(op_json: dict[str, Any]) -> str:
    return ty_text(op_json["shape"], op_json["dtype"])


def default_encodings(shape: tuple[int, ...], dtype: str, target: str) -> list[str]:
    """The shared encodings convert.via_shared starts from: the widest-vector swizzle with the most phases
    and a padded row (the swizzle family's seed adds the other candidates)."""
    from eqsat.rules.swizzle import candidate_encodings

    cands = candidate_encodings(shape, dtype, target)
    swizzled = [c for c in cands if c.startswith("#ttg.swizzled_shared")]
    padded_enc = [c for c in cands if c.startswith("#ttg.padded_shared")]
    return swizzled[-1:] + padded_enc[:1]


def seed(egraph: EGraph, encoded: Any, model: Any) -> None:
    kernel = kernel_json(encoded)
    ops = {o["id"]: o for o in kernel["ops"]}
    by_shape: dict[tuple[int, ...], set[str]] = {}
    for o in kernel["ops"]:
        if o.get("layout") and o.get("shape") and not o.get("layout", "").startswith("#ttg.swizzled"):
            if o.get("dst_space") in ("registers", None):
                by_shape.setdefault(tuple(o["shape"]), set()).add(o["layout"])
    facts: list[Any] = []
    for o in kernel["ops"]:
        if o["kind"] != "convert" or not o.get("src_layout") or not o.get("dst_layout"):
            continue
        src, dst, shape, t_s = o["src_layout"], o["dst_layout"], tuple(o["shape"]), op_ty(o)
        if layouts_equal(src, dst, shape):
            facts.append(same_layout(Layout(src), Layout(dst), t_s))
        producer = ops.get(o["inputs"][0]) if o.get("inputs") else None
        if producer is not None and producer["kind"] in ("load", "indirect_load"):
            facts.append(load_candidate(producer["id"], Layout(dst)))
        for enc_text in default_encodings(shape, o["dtype"], str(kernel.get("target", "h100"))):
            facts.append(convert_enc(Layout(src), Layout(dst), t_s, SharedEnc(enc_text)))
        mids = sorted(by_shape.get(shape, set()) - {src, dst})[:MAX_VIA]
        facts.extend(via_candidate(Layout(src), Layout(dst), Layout(mid), t_s) for mid in mids)
    if facts:
        egraph.register(*facts)
