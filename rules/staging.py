"""Staging rules: how a global tile reaches its shared buffer (synchronous, cp.async, TMA, direct-to-LDS).

    staging.lift_sync      Smem.alloc(a, load(op, L), enc) -> Smem.staged(op, a, enc, "sync", 1)
                           (makes a load + local_alloc explicit as a staging, so the modes below apply)
    staging.async_copy     staged(op, a, enc, "sync", 1) -> staged(op, a, enc, "async_copy", n)
    staging.tma            staged(op, a, enc, "sync", 1) -> staged(op, a, enc, "tma", n)          (Hopper)
    staging.direct_to_lds  staged(op, a, enc, "sync", 1) -> staged(op, a, enc, "direct_to_lds", n) (CDNA3)

Preconditions: `legal(kind, op, enc)` (from the cost model's `legality("cp_async" | "tma" |
"direct_to_lds", ...)`) and `stages_for(op, n)` (the loop depth the seed offers: 2..4 inside a loop,
1 outside). The buffer's contents do not depend on the mode (the interpreter checks that); what the mode
changes is the protocol, and every mode's protocol (`eqsat.rules.typestate.protocol`) must pass the
typestate check for random stage and trip counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from egglog import EGraph, String, eq, i64, rule, union, var
from eqsat.rules.harness import Instance, interpreter_rule
from eqsat.rules.instances import ELEM_BYTES, random_global, random_layout, random_shape, random_shared
from eqsat.rules.typestate import check_protocol, protocol

from eqsat.egraph.interpret import Env, padded, ty_text
from eqsat.egraph.terms import Layout, SharedEnc, Smem, Tile, legal, stages_for

s_ = var("s_", Smem)
lay = var("lay", Layout)
enc = var("enc", SharedEnc)
ty = var("ty", String)
op, buf, n = var("op", i64), var("buf", i64), var("n", i64)

LOOP_STAGES = (2, 3, 4)


def _staged_instance(seed: int, lifted: bool = False, kind: str = "cp_async") -> Instance:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 3)))
    ty_s = ty_text(shape, ("f16", "f32", "i32")[seed % 3])
    e = random_shared(rng, shape)
    env = Env(loads={0: random_global(rng, shape)})
    env.values[0] = (np.zeros(padded(shape)), ty_s)
    stages = int(rng.integers(1, 5))
    if lifted:
        lhs = Smem.alloc(1, Tile.load(0, Layout(random_layout(rng, shape)), ty_s), SharedEnc(e))
        return Instance(lhs, env, note=e)
    lhs = Smem.staged(0, 1, SharedEnc(e), "sync", 1)
    return Instance(lhs, env, [legal(kind, 0, SharedEnc(e)), stages_for(0, stages)], note=f"{stages} stages")


def _typestate(mode: str) -> Any:
    def check(seed: int) -> None:
        rng = np.random.default_rng(seed + 15485863)
        stages, trips = int(rng.integers(1, 6)), int(rng.integers(0, 12))
        try:
            check_protocol(protocol(mode, stages, trips), stages)
        except AssertionError as e:
            raise AssertionError(f"staging protocol {mode} with {stages} stages, {trips} trips: {e}") from e

    return check


LIFT_SYNC = interpreter_rule(
    "staging.lift_sync",
    "A local_alloc initialised from a global load is a synchronous staging of that load into the buffer.",
    "the allocation's operand is a global load (not an indirect one)",
    [rule(eq(s_).to(Smem.alloc(buf, Tile.load(op, lay, ty), enc)), name="staging.lift_sync").then(
        union(s_).with_(Smem.staged(op, buf, enc, "sync", 1)))],
    lambda seed: _staged_instance(seed, lifted=True), soundness="typestate", plan_choice="staging",
    also=_typestate("sync"))


def _mode_rule(mode: str, kind: str, doc: str) -> Any:
    return interpreter_rule(
        f"staging.{mode}", doc,
        f"legal(\"{kind}\", op, enc) from the cost model's legality, stages_for(op, n) from the loop depth",
        [rule(eq(s_).to(Smem.staged(op, buf, enc, "sync", 1)), legal(kind, op, enc), stages_for(op, n),
              name=f"staging.{mode}").then(union(s_).with_(Smem.staged(op, buf, enc, mode, n)))],
        lambda seed: _staged_instance(seed, kind=kind), soundness="typestate", plan_choice="staging",
        also=_typestate(mode))


ASYNC_COPY = _mode_rule("async_copy", "cp_async",
                        "Copy with cp.async (async_copy_global_to_local + commit + wait), multi-stage "
                        "in loops.")
TMA = _mode_rule("tma", "tma", "Copy with a TMA descriptor and an mbarrier (expect, copy, wait) on Hopper.")
DIRECT_TO_LDS = _mode_rule("direct_to_lds", "direct_to_lds",
                           "Copy with buffer_load ... lds straight into LDS on CDNA3 (unswizzled writes).")

RULES = [LIFT_SYNC, ASYNC_COPY, TMA, DIRECT_TO_LDS]


# ------------------------------------------------------------------------------------- seed
def _legality(model: Any, kind: str, load: dict[str, Any], enc_text: str) -> bool:
    if model is None:
        return False
    e = ELEM_BYTES.get(load.get("dtype", "f32"), 4)
    access = load.get("access") or {}
    vbytes = int(access.get("vector_bytes") or e)
    if kind == "tma":
        reason = model.legality("tma", box=list(load["shape"]), elem_bytes=e, strides=None)
    elif kind == "cp_async":
        reason = model.legality("cp_async", bytes=vbytes)
    else:
        reason = model.legality("direct_to_lds", bytes=vbytes, encoding=enc_text)
    return reason is None


def seed(egraph: EGraph, encoded: Any, model: Any) -> None:
    kernel = encoded if isinstance(encoded, dict) else encoded.kernel
    ops = {o["id"]: o for o in kernel["ops"]}
    facts: list[Any] = []
    for o in kernel["ops"]:
        if o["kind"] != "local_alloc" or not o.get("inputs"):
            continue
        load = ops.get(o["inputs"][0])
        if load is None or load["kind"] != "load" or not load.get("shape"):
            continue
        in_loop = int(load.get("depth") or 0) > 0
        facts.extend(stages_for(load["id"], s) for s in (LOOP_STAGES if in_loop else (1,)))
        for kind in ("cp_async", "tma", "direct_to_lds"):
            if kind == "tma" and (load.get("access") or {}).get("base_via"):
                continue  # a uniform data-dependent base: legal TMA, but lowering/tma.py cannot build it yet
            if _legality(model, kind, load, o.get("layout") or ""):
                facts.append(legal(kind, load["id"], SharedEnc(o.get("layout") or "")))
    if facts:
        egraph.register(*facts)
