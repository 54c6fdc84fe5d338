"""Swizzle rules: candidate shared encodings for every shared allocation and shared-memory conversion.

    swizzle.alloc_encoding    Smem.alloc/buffer/staged(op, ..., enc) -> same with enc'   alloc_enc(op, enc')
    swizzle.convert_encoding  via_shared(t, a, enc, b) -> via_shared(t, a, enc', b)
                                                                                  convert_enc(a, b, ty, enc')
    swizzle.synthesized       the same two rewrites with an XOR swizzle that z3 synthesised to make both the
                              store and the load conflict-free under the target's phase tables
                              (alloc_enc_synth / convert_enc_synth), when no enumerated encoding is

Candidates (`candidate_encodings`): swizzled_shared with vec in {1, 16 bytes}, perPhase in {1, 2, 4},
maxPhase up to one 128-byte row of vectors (a few dozen, not thousands), padded_shared with one row
interval and 4/8/16-byte pads, nvmma 32/64/128B for 16-bit 2D tiles on Hopper (where `legality`
allows), and on CDNA3 targets the z3-synthesised XOR layout fitted to the ds_write/ds_read phase tables.
Synthesised encodings are emitted as `#ttg.shared_linear<{offset = [...]}, alignment = 16>`.

Soundness: every rewrite is interpreted (a non-bijective encoding loses elements in the simulated
buffer); every candidate encoding that is a linear map is proved bijective onto its buffer with z3; a
synthesised swizzle is also re-simulated with the cost model's bank simulator (`costmodels.banks`),
which must report zero conflicts for both directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from egglog import EGraph, String, eq, i64, rule, union, var
from eqsat.rules.harness import Instance, interpreter_rule
from eqsat.rules.instances import ELEM_BYTES, random_blocked, random_global, random_layout, random_shape

from eqsat.egraph.interpret import Env, InterpretError, _pow2_layout, layout_for, padded, ty_text
from eqsat.egraph.proofs import AccessPattern, prove_bijective, synthesize_xor_swizzle
from eqsat.egraph.terms import (
    Layout,
    SharedEnc,
    Smem,
    Tile,
    alloc_enc,
    alloc_enc_synth,
    convert_enc,
    convert_enc_synth,
)
from eqsat.layout import GuardedLayout, LinearLayout

MAX_CANDIDATES = 24

s_, t, x = var("s_", Smem), var("t", Tile), var("x", Tile)
a, b = var("a", Layout), var("b", Layout)
enc, enc2 = var("enc", SharedEnc), var("enc2", SharedEnc)
ty, mode = var("ty", String), var("mode", String)
op, buf, stages = var("op", i64), var("buf", i64), var("stages", i64)


# ------------------------------------------------------------------------------------- candidates
def candidate_encodings(shape: tuple[int, ...] | list[int], dtype: str, target: str,
                        order: tuple[int, ...] | None = None) -> list[str]:
    """Enumerated shared encodings for a buffer of `shape` x `dtype` on `target` (Triton syntax)."""
    rank = len(shape)
    order = tuple(order) if order else tuple(range(rank - 1, -1, -1))
    e = ELEM_BYTES.get(dtype, 4)
    order_s = "[" + ", ".join(map(str, order)) + "]"
    out: list[str] = []
    row_elems = padded((int(shape[order[0]]),))[0]
    for vec in sorted({1, max(1, 16 // e)}):
        max_vectors = max(1, min(128 // (vec * e), row_elems // vec))
        for per_phase in (1, 2, 4):
            mp = 1
            while mp <= max_vectors:
                out.append(f"#ttg.swizzled_shared<{{vec = {vec}, perPhase = {per_phase}, maxPhase = {mp}, "
                           f"order = {order_s}}}>")
                mp *= 2
    if rank >= 2:
        pshape = "[" + ", ".join(map(str, padded(tuple(shape)))) + "]"
        for pad_bytes in (4, 8, 16):
            pad = max(1, pad_bytes // e)
            out.append(f"#ttg.padded_shared<[{row_elems}:+{pad}] {{order = {order_s}, shape = {pshape}}}>")
    if rank == 2 and e == 2 and not target.startswith("mi") and order == (1, 0):
        rows = padded((int(shape[0]),))[0]
        for width in (w for w in (32, 64, 128) if row_elems * e >= w and rows >= 8):
            out.append(f"#ttg.nvmma_shared<{{swizzlingByteWidth = {width}, transposed = false, "
                       f"elementBitWidth = {8 * e}}}>")
    seen: dict[str, None] = {}
    for c in out:
        seen.setdefault(c, None)
    return list(seen)[:MAX_CANDIDATES] if len(seen) > MAX_CANDIDATES else list(seen)


def offset_map(text: str, shape: tuple[int, ...]) -> LinearLayout | None:
    """offset -> coordinate of a linear shared encoding (None for padded encodings)."""
    ll = layout_for(text, tuple(shape))
    if isinstance(ll, GuardedLayout):
        ll = ll.layout
    if not isinstance(ll, LinearLayout):
        return None
    return ll.sublayout(["offset"], list(ll.out_dims))


def prove_encoding(text: str, shape: tuple[int, ...]) -> str | None:
    """None when the encoding addresses every element of `shape` exactly once (z3 for linear ones, the
    address map for padded ones), else why not."""
    try:
        om = offset_map(text, shape)
    except InterpretError as e:
        return str(e)
    if om is None:
        from eqsat.egraph.interpret import shared_addresses

        try:
            addr = shared_addresses(text, tuple(shape))
        except InterpretError as e:
            return str(e)
        return None if np.unique(addr).size == addr.size else "two elements share an address"
    proof = prove_bijective(om)
    return None if proof else f"z3: {proof.detail}"


# ------------------------------------------------------------------------------------- synthesis
MAX_LANES = 64  # a warp has 32 (NVIDIA) or 64 (CDNA) lanes; a bigger lane count is not a real layout
MAX_SYNTH_ELEMENTS = 1 << 20  # buffers the synthesis models (rows x cols after padding)


def _lane_coords(layout: str, shape: tuple[int, int]) -> list[tuple[int, int]]:
    """(row, col) of every lane's first element; [] for a layout of more than MAX_LANES lanes (the loop
    would otherwise run 2^63 times on a hostile threadsPerWarp)."""
    ll = _pow2_layout(layout, shape)
    n = ll.get_in_dim_size("lane")
    if n > MAX_LANES:
        return []
    out = []
    for lane in range(n):
        r = ll.apply({"lane": lane})
        out.append((int(r["dim0"]), int(r["dim1"])))
    return out


def _vec(layout: str, shape: tuple[int, int], e: int) -> int:
    ll = _pow2_layout(layout, shape)
    return max(1, min(ll.contiguous_elements("register", "dim1"), 16 // e))


def synthesize(store_layout: str, load_layout: str, shape: tuple[int, int], dtype: str,
               target: str) -> str | None:
    """A `#ttg.shared_linear` XOR swizzle of a row-major 2D buffer under which storing in `store_layout`
    and loading in `load_layout` are both conflict-free on `target`, or None when z3 finds none."""
    from eqsat.costmodels import banks
    from eqsat.costmodels.base import load_params

    params = load_params(target)
    rows, cols = padded(shape)
    if rows * cols > MAX_SYNTH_ELEMENTS:
        return None
    e = ELEM_BYTES.get(dtype, 4)
    vec = min(_vec(store_layout, (rows, cols), e), _vec(load_layout, (rows, cols), e), cols)
    accesses = []
    for layout, direction in ((store_layout, "store"), (load_layout, "load")):
        vb = min(_vec(layout, (rows, cols), e), vec) * e
        vb = 1 << (vb.bit_length() - 1)
        instruction = banks.instruction_for(params, direction, vb)
        phases = banks.phase_groups(params, instruction).tolist()
        lanes = _lane_coords(layout, (rows, cols))
        if len(lanes) != int(params["warp_size"]):
            return None
        accesses.append(AccessPattern(lanes, vb, phases))
    bases = synthesize_xor_swizzle(rows, cols, e, vec, accesses)
    if bases is None:
        return None
    offsets = ", ".join(f"[{r}, {c}]" for r, c in bases)
    return "#ttg.shared_linear<{offset = [" + offsets + "]}, alignment = 16>"


def conflicts(layout: str, shared: str, shape: tuple[int, ...], dtype: str, target: str) -> tuple[int, int]:
    """(store, load) excess wavefronts per lane group of the worst instruction, by the cost model's bank
    simulator under the target's phase tables (`phase_conflicts`: what the hardware serves)."""
    from eqsat.costmodels import banks
    from eqsat.costmodels.base import load_params

    params = load_params(target)
    st = banks.shared_access(params, layout, shared, shape, dtype, "store")
    ld = banks.shared_access(params, layout, shared, shape, dtype, "load")
    return st.phase_conflicts, ld.phase_conflicts


# ------------------------------------------------------------------------------------- rules
def _alloc_instance(seed: int, synth: bool = False) -> Instance:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 3)))
    dtype = ("f16", "f32", "i32")[seed % 3]
    ty_s = ty_text(shape, dtype)
    cands = candidate_encodings(shape, dtype, "h100")
    e1, e2 = (cands[int(i)] for i in rng.integers(len(cands), size=2))
    layout = random_layout(rng, shape)
    env = Env(loads={0: random_global(rng, shape)})
    env.values[0] = (np.zeros(padded(shape)), ty_s)
    kind = seed % 3
    if kind == 0:
        lhs = Smem.alloc(1, Tile.load(0, Layout(layout), ty_s), SharedEnc(e1))
    elif kind == 1:
        lhs = Smem.staged(0, 1, SharedEnc(e1), "async_copy", 2)
    else:
        env.buffers[1] = rng.standard_normal(padded(shape))
        env.values[1] = (np.zeros(padded(shape)), ty_s)
        lhs = Smem.buffer(1, SharedEnc(e1))
    fact = (alloc_enc_synth if synth else alloc_enc)(1, SharedEnc(e2))
    return Instance(lhs, env, [fact], note=f"{e1} -> {e2}")


def _prove_candidates(seed: int) -> None:
    rng = np.random.default_rng(seed + 104729)
    shape = random_shape(rng, 2)
    dtype = ("f16", "f32")[seed % 2]
    for c in candidate_encodings(shape, dtype, ("h100", "mi300x")[seed % 2]):
        why = prove_encoding(c, shape)
        if why is not None:
            raise AssertionError(f"swizzle candidate {c} on {shape}: not a bijection onto its buffer: {why}")


_ALLOC_RULES = [
    rule(eq(s_).to(Smem.alloc(op, t, enc)), alloc_enc(op, enc2),
         name="swizzle.alloc_encoding#alloc").then(union(s_).with_(Smem.alloc(op, t, enc2))),
    rule(eq(s_).to(Smem.buffer(op, enc)), alloc_enc(op, enc2),
         name="swizzle.alloc_encoding#buffer").then(union(s_).with_(Smem.buffer(op, enc2))),
    rule(eq(s_).to(Smem.staged(op, buf, enc, mode, stages)), alloc_enc(buf, enc2),
         name="swizzle.alloc_encoding#staged").then(
             union(s_).with_(Smem.staged(op, buf, enc2, mode, stages))),
]

ALLOC_ENCODING = interpreter_rule(
    "swizzle.alloc_encoding",
    "Give a shared allocation (and every access to it) another encoding: the buffer holds the same tensor, "
    "only the addresses (and so the bank conflicts of its stores and loads) change.",
    "alloc_enc(op, enc'): an enumerated candidate for the allocation (seed: candidate_encodings, legal on "
    "the target), proved bijective onto the buffer",
    _ALLOC_RULES, _alloc_instance, plan_choice="shared_encoding", also=_prove_candidates)


def _convert_instance(seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, int(rng.integers(1, 3)))
    dtype = ("f16", "f32", "i32")[seed % 3]
    ty_s = ty_text(shape, dtype)
    cands = candidate_encodings(shape, dtype, "h100")
    e1, e2 = (cands[int(i)] for i in rng.integers(len(cands), size=2))
    la, lb = random_layout(rng, shape), random_layout(rng, shape)
    env = Env(loads={0: random_global(rng, shape)})
    lhs = Tile.load(0, Layout(la), ty_s).via_shared(Layout(la), SharedEnc(e1), Layout(lb), ty_s)
    facts = [convert_enc(Layout(la), Layout(lb), ty_s, SharedEnc(e2))]
    return Instance(lhs, env, facts, note=f"{e1} -> {e2}")


CONVERT_ENCODING = interpreter_rule(
    "swizzle.convert_encoding",
    "Re-encode the shared buffer of an explicit shared-memory conversion with another candidate.",
    "convert_enc(a, b, ty, enc'): an enumerated candidate for the conversion's buffer",
    [rule(eq(t).to(x.via_shared(a, enc, b, ty)), convert_enc(a, b, ty, enc2),
          name="swizzle.convert_encoding").then(union(t).with_(x.via_shared(a, enc2, b, ty)))],
    _convert_instance, plan_choice="convert_path", also=_prove_candidates)


def _synth_instance(seed: int) -> tuple[Instance, tuple[str, str, tuple[int, int], str, str, str | None]]:
    rng = np.random.default_rng(seed)
    target = ("h100", "mi300x")[seed % 2]
    warp = 64 if target == "mi300x" else 32
    shape = (1 << int(rng.integers(3, 7)), 1 << int(rng.integers(3, 8)))
    dtype = ("f16", "f32")[(seed // 2) % 2]
    ty_s = ty_text(shape, dtype)
    la, lb = random_blocked(rng, 2, 4, warp), random_blocked(rng, 2, 4, warp)
    found = synthesize(la, lb, shape, dtype, target)
    e0 = candidate_encodings(shape, dtype, target)[0]
    env = Env(loads={0: random_global(rng, shape)})
    lhs = Tile.load(0, Layout(la), ty_s).via_shared(Layout(la), SharedEnc(e0), Layout(lb), ty_s)
    facts = [convert_enc_synth(Layout(la), Layout(lb), ty_s, SharedEnc(found))] if found else []
    return Instance(lhs, env, facts, should_fire=found is not None, note=target), \
        (la, lb, shape, dtype, target, found)


def _synth_check(seed: int) -> None:
    from eqsat.rules.harness import check_instance

    inst, (la, lb, shape, dtype, target, found) = _synth_instance(seed)
    check_instance(SYNTHESIZED, inst, seed)
    if found is None:
        return
    why = prove_encoding(found, shape)
    if why is not None:
        raise AssertionError(f"swizzle.synthesized (seed {seed}): {found} is not a bijection: {why}")
    st, _ = conflicts(la, found, shape, dtype, target)
    _, ld = conflicts(lb, found, shape, dtype, target)
    if st or ld:
        raise AssertionError(f"swizzle.synthesized (seed {seed}, {target}): {found} has {st} store / "
                             f"{ld} load conflicts for {la} -> {lb} on {shape} {dtype}")


SYNTHESIZED = interpreter_rule(
    "swizzle.synthesized",
    "Use an XOR swizzle synthesised by z3 (eqsat.egraph.proofs.synthesize_xor_swizzle) that makes both the "
    "store and the load of the buffer conflict-free under the target's phase tables.",
    "alloc_enc_synth(op, enc) / convert_enc_synth(a, b, ty, enc): the seed found no conflict-free "
    "enumerated candidate and z3 found a swizzle; it is proved bijective and re-simulated conflict-free",
    [rule(eq(t).to(x.via_shared(a, enc, b, ty)), convert_enc_synth(a, b, ty, enc2),
          name="swizzle.synthesized#convert").then(union(t).with_(x.via_shared(a, enc2, b, ty))),
     rule(eq(s_).to(Smem.alloc(op, t, enc)), alloc_enc_synth(op, enc2),
          name="swizzle.synthesized#alloc").then(union(s_).with_(Smem.alloc(op, t, enc2)))],
    lambda seed: _synth_instance(seed)[0], soundness="z3", plan_choice="shared_encoding")
SYNTHESIZED.check = _synth_check

RULES = [ALLOC_ENCODING, CONVERT_ENCODING, SYNTHESIZED]


# ------------------------------------------------------------------------------------- seed
def _legal(model: Any, text: str, op: dict[str, Any]) -> bool:
    if model is None:
        return True
    try:
        return model.legality("shared_encoding", encoding=text, shape=op.get("shape"), dtype=op.get("dtype"),
                              op=op) is None
    except TypeError:
        return model.legality("shared_encoding", encoding=text) is None


def _conflict_free(model_target: str, layouts: list[str], text: str, op: dict[str, Any]) -> bool:
    try:
        return all(sum(conflicts(lay, text, tuple(op["shape"]), op["dtype"], model_target)) == 0
                   for lay in layouts)
    except Exception:  # noqa: BLE001 - a pair the simulator cannot price is not conflict-free
        return False


def seed(egraph: EGraph, encoded: Any, model: Any) -> None:
    kernel = encoded if isinstance(encoded, dict) else encoded.kernel
    target = getattr(model, "target", None) or kernel.get("target", "h100")
    ops = {o["id"]: o for o in kernel["ops"]}
    facts: list[Any] = []
    for o in kernel["ops"]:
        if not o.get("shape") or not o.get("dtype"):
            continue
        shape = tuple(o["shape"])
        if o["kind"] == "local_alloc":
            buffer_shape = shape[-2:] if len(shape) > 2 else shape
            cands = [c for c in candidate_encodings(buffer_shape, o["dtype"], target)
                     if c != o.get("layout") and _legal(model, c, o)]
            facts.extend(alloc_enc(o["id"], SharedEnc(c)) for c in cands)
        elif o["kind"] == "convert" and o.get("src_layout") and o.get("dst_layout"):
            t_s = ty_text(shape, o["dtype"])
            src, dst = o["src_layout"], o["dst_layout"]
            cands = [c for c in candidate_encodings(shape, o["dtype"], target) if _legal(model, c, o)]
            facts.extend(convert_enc(Layout(src), Layout(dst), t_s, SharedEnc(c)) for c in cands)
            if len(shape) == 2 and all(int(s) == padded((int(s),))[0] for s in shape) and \
                    not any(_conflict_free(target, [src, dst], c, o) for c in cands[:8]):
                found = synthesize(src, dst, (int(shape[0]), int(shape[1])), o["dtype"], target)
                if found is not None:
                    facts.append(convert_enc_synth(Layout(src), Layout(dst), t_s, SharedEnc(found)))
    del ops
    if facts:
        egraph.register(*facts)
