"""Specialize rules: accesses issued with wider vectors in a version of the kernel valid under a guard.

    specialize.vector_load    load(op, L, ty) -> convert(guarded_load(op, W, ty, v, g), W, L, ty)
                              when spec_candidate(op, W, v, g): under guard set g (e.g. `n_cols%4`) the
                              access's mask is constant over runs of v and its rows are v-aligned, so
                              the load is issued in W (16-byte vectors) and converted to what its users
                              read
    specialize.vector_store   store(op, t) -> guarded_store(op, convert(t, L, W, ty), v, g)   likewise

A guarded node is only valid in the version compiled under g: the node pricer prices it infinite unless
the extraction assumes g (eqsat/optimize.py extracts the fallback with no guard assumed, then once per
candidate version with its guard set). The version is one TTGIR (`lowering/specialize.py`: the arguments
get `tt.divisibility`, the accesses are re-issued in W), dispatched at call time by `guards_hold`.

Soundness, per rule (all must hold, each can fail):

    interpreter   on random arguments that satisfy the guard (row width n with d | n, a 16-byte-aligned
                  base, any row count), the vectorized access (each v-register run one access predicated
                  by its first element's mask, at a v-aligned contiguous address) equals the plain one
    fallback      on random arguments that do not satisfy the guard, `guards_hold` is false: the
                  unguarded plan runs
    z3            the guard implies the claimed width: for all n, rows r, vector starts k*v:
                  d | n  =>  (r*n + k*v) % v == 0  and  (k*v + j < n) == (k*v < n) for 0 <= j < v

The seed states `spec_candidate` for the accesses the specialization facts (eqsat.dm.specialize) widen
under each candidate version: the kernel JSON carries them as `specialize` (eqsat/optimize.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from egglog import EGraph, String, eq, i64, rule, union, var
from eqsat.rules import Rule
from eqsat.rules.gather import wide_layout
from eqsat.rules.harness import Instance, check_instance
from eqsat.rules.instances import ELEM_BYTES

from eqsat.egraph.interpret import Env, GlobalAccess, ty_text
from eqsat.egraph.terms import Layout, Sink, Tile, layout_of, spec_candidate

t, s = var("t", Tile), var("s", Sink)
lay, w = var("lay", Layout), var("w", Layout)
ty, g = var("ty", String), var("g", String)
op, v = var("op", i64), var("v", i64)

DTYPES = ("f16", "bf16", "f32", "i32")


# ------------------------------------------------------------------------------------------ instances
def row_instance(seed: int, *, dtype: str | None = None, divisor: int | None = None, vec: int | None = None,
                 store: bool = False, satisfy: bool = True) -> tuple[Instance, dict[str, Any]]:
    """A (rows x BLOCK) tile of rows of width n at row stride n (`x + row * n + offs`, mask offs < n),
    the base aligned to 16 bytes. The guard is `n % divisor == 0`; `vec` the width the rule claims
    (default: 16 bytes). With `satisfy`, n satisfies the guard, else it does not."""
    rng = np.random.default_rng(seed)
    dtype = dtype or DTYPES[seed % len(DTYPES)]
    eb = ELEM_BYTES[dtype]
    vec = vec or 16 // eb
    divisor = divisor or vec
    block = int(vec * (1 << int(rng.integers(1, 4))))
    rows = int(1 << int(rng.integers(0, 3)))
    k = int(rng.integers(1, 2 * block // divisor + 2))
    n = divisor * k
    if not satisfy:
        n += int(rng.integers(1, divisor))
    base = int(rng.integers(0, 4)) * (16 // eb)  # a 16-byte-aligned row 0
    r_idx, c_idx = np.indices((rows, block))
    address = base + r_idx * n + c_idx
    mask = c_idx < n
    size = base + rows * n + block + int(rng.integers(0, 9))
    memory = rng.standard_normal(size).round(3)
    acc = GlobalAccess(memory=memory, address=address.astype(np.int64), mask=mask,
                       other=float(rng.integers(-3, 4)))
    shape = (rows, block)
    ty_s = ty_text(shape, dtype)
    l_orig = (f"#ttg.blocked<{{sizePerThread = [1, 1], threadsPerWarp = [{min(32, rows)}, "
              f"{32 // min(32, rows)}], warpsPerCTA = [1, 4], order = [1, 0]}}>")
    l_wide = wide_layout(shape, 1, dtype, 4, 32)
    key = f"n%{divisor}"
    facts = [spec_candidate(0, Layout(l_wide), ty_s, vec, key)]
    env = Env(loads={0: acc})
    if store:
        env.values[1] = (rng.standard_normal(shape).round(3), ty_s)
        lhs: Any = Sink.store(0, Tile.value(1, Layout(l_orig)))
    else:
        lhs = Tile.load(0, Layout(l_orig), ty_s)
    guards = [{"arg": "n", "kind": "divisible", "by": divisor}]
    args = {"n": n, "rows": rows, "block": block, "vec": vec, "dtype": dtype, "guards": guards}
    return Instance(lhs, env, facts, note=f"{dtype} n={n} guard n%{divisor} claims {vec}-vectors"), args


def _fallback_taken(seed: int, **kw: Any) -> None:
    """Arguments that do not satisfy the guard do not pass `guards_hold`: the fallback plan runs."""
    from eqsat.lowering.specialize import guards_hold

    _, args = row_instance(seed, satisfy=False, **kw)
    if guards_hold(args["guards"], {"n": args["n"]}):
        raise AssertionError(f"guard {args['guards']} holds on n={args['n']}, which does not satisfy it")
    _, args = row_instance(seed, **kw)
    if not guards_hold(args["guards"], {"n": args["n"]}):
        raise AssertionError(f"guard {args['guards']} fails on n={args['n']}, which satisfies it")


def guard_implies_width(divisor: int, vec: int, bound: int = 1 << 16) -> str | None:
    """None when `n % divisor == 0` implies v-aligned, mask-constant vectors of `vec` elements for rows
    `x + r * n` (x 16-byte aligned) masked `offs < n`; else a counterexample (z3)."""
    import z3

    n, r, k, j = z3.Ints("n r k j")
    ctx = [n > 0, n < bound, r >= 0, r < bound, k >= 0, k < bound, j >= 0, j < vec, n % divisor == 0]
    aligned = (r * n + k * vec) % vec == 0
    constant = (k * vec + j < n) == (k * vec < n)
    solver = z3.Solver()
    solver.set("timeout", 5000)
    solver.add(*ctx, z3.Not(z3.And(aligned, constant)))
    res = solver.check()
    if res == z3.unsat:
        return None
    if res == z3.sat:
        m = solver.model()
        return (f"n={m[n]}, row {m[r]}, vector {m[k]}, lane element {m[j]}: "
                f"n%{divisor}==0 does not give {vec}-element vectors")
    return f"z3 could not decide n%{divisor} => {vec}-vectors ({res})"


def _check(name: str, seed: int, *, store: bool, divisor: int | None = None, vec: int | None = None,
           dtype: str | None = None, rule_obj: list[Rule]) -> None:
    inst, args = row_instance(seed, store=store, divisor=divisor, vec=vec, dtype=dtype)
    check_instance(rule_obj[0], inst, seed)
    _fallback_taken(seed, store=store, divisor=divisor, vec=vec, dtype=dtype)
    d = divisor or args["vec"]
    why = guard_implies_width(d, args["vec"])
    if why is not None:
        raise AssertionError(f"{name} (seed {seed}): {why}")


def specialize_rule(name: str, doc: str, egg_rules: list[Any], *, store: bool, divisor: int | None = None,
                    vec: int | None = None, dtype: str | None = None) -> Rule:
    """A specialize rule whose check runs the interpreter on guard-satisfying rows, the fallback check
    and the z3 implication, for the guard `n % divisor` claiming `vec`-element vectors (defaults: the
    16-byte width of a random dtype, guarded by itself)."""
    holder: list[Rule] = []
    rule_ = Rule(name=name, family="specialize", doc=doc,
                 preconditions="spec_candidate(op, W, ty, v, g): the specialization facts say that under g "
                               "the access's mask is constant and its address aligned over v elements",
                 soundness="interpreter",
                 check=lambda seed: _check(name, seed, store=store, divisor=divisor, vec=vec, dtype=dtype,
                                           rule_obj=holder),
                 egg_rules=egg_rules, plan_choice="specialize")
    holder.append(rule_)
    return rule_


VECTOR_LOAD = specialize_rule(
    "specialize.vector_load",
    "In the version valid under guard g, issue a masked global load in a 16-byte-vector layout W (the "
    "guard makes its mask constant and its rows aligned over v elements), then convert to its users' "
    "layout.",
    [rule(eq(t).to(Tile.load(op, lay, ty)), spec_candidate(op, w, ty, v, g), name="specialize.vector_load")
     .then(union(t).with_(Tile.guarded_load(op, w, ty, v, g).convert(w, lay, ty)))],
    store=False)

VECTOR_STORE = specialize_rule(
    "specialize.vector_store",
    "In the version valid under guard g, convert the stored value to a 16-byte-vector layout W and store "
    "it with v-element vectors.",
    [rule(eq(s).to(Sink.store(op, t)), eq(layout_of(t)).to(lay), spec_candidate(op, w, ty, v, g),
          name="specialize.vector_store")
     .then(union(s).with_(Sink.guarded_store(op, t.convert(lay, w, ty), v, g)))],
    store=True)

RULES = [VECTOR_LOAD, VECTOR_STORE]


# ------------------------------------------------------------------------------------------ seed, prices
def seed(egraph: EGraph, encoded: Any, model: Any) -> None:
    """`spec_candidate(op, W, ty, v, key)` for every access widened in every candidate version the kernel
    JSON lists under `specialize` (eqsat/optimize.py puts them there from eqsat.dm.specialize)."""
    kernel = encoded if isinstance(encoded, dict) else encoded.kernel
    facts = []
    for key, version in sorted((kernel.get("specialize") or {}).items()):
        for oid, cand in sorted(version.get("ops", {}).items(), key=lambda kv: int(kv[0])):
            facts.append(spec_candidate(int(oid), Layout(cand["layout"]), cand["ty"], int(cand["vec"]), key))
    if facts:
        egraph.register(*facts)


def candidate_layout(op: Mapping[str, Any], num_warps: int, warp_size: int) -> str:
    shape = op.get("shape") or [1]
    fastest = (op.get("access") or {}).get("fastest_dim")
    fastest = len(shape) - 1 if fastest is None or fastest < 0 else int(fastest)
    return wide_layout(shape, fastest, op.get("dtype") or "f32", num_warps, warp_size)


def guarded_op(op: Mapping[str, Any], vec: int) -> dict[str, Any]:
    """The dm op as the version compiles it: aligned and mask-constant over `vec` elements."""
    out = dict(op)
    access = dict(op.get("access") or {})
    access["alignment"] = max(int(access.get("alignment") or 1), int(vec))
    access["mask_constancy"] = max(int(access.get("mask_constancy") or 0), int(vec))
    out["access"] = access
    return out


def price_guarded(pricer: Any, name: str, args: tuple[Any, ...]) -> Any:
    """The price of `Tile.guarded_load(op, W, ty, v, g)` / `Sink.guarded_store(op, t, v, g)`: infinite
    unless the pricer assumes g (`pricer.assumed`), else the access issued in W under g."""
    from eqsat.costmodels.base import Cost

    oid = int(args[0])
    guard = str(args[-1])
    vec = int(args[-2])
    if guard not in getattr(pricer, "assumed", ()):
        return Cost.infeasible(f"valid only in the version under {guard}")
    layout = args[1] if name == "guarded_load" else args[1].layout
    op = guarded_op(pricer.ops[oid], vec)
    return pricer.model.global_access(op, layout, pricer.kernel)


__all__ = ["RULES", "VECTOR_LOAD", "VECTOR_STORE", "candidate_layout", "guard_implies_width", "guarded_op",
           "price_guarded", "row_instance", "seed", "specialize_rule"]
