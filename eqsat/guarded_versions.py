"""Guarded versions of a plan: candidates from the specialization facts, extraction under each guard set,
the version TTGIR, and the decision whether it pays.

    candidates(module, kernel_json, launch) -> {key: {"guards", "divisible", "ops"}}
        from eqsat.dm.specialize: per integer argument the weakest divisibility guard reaching the widest
        vectors (holding at the launch's value when known), the accesses it widens (each with its
        16-byte layout, type and width: the `spec_candidate` facts of rules/specialize.py), and a
        16-byte `aligned` guard on every pointer argument those accesses address
    build_version(...) -> (version dict, ttgir) | rejection dict
        extract again with the candidate's guard set assumed (guarded nodes priced), decode, lower on a
        copy, add `tt.divisibility` to the guarded arguments, and price fallback and version with the
        kernel-time model (costmodels/issue.py) on their lifted TTGIRs: the version pays when it wins
        more than `VERSION_NS` plus the plan margin
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from eqsat.dm.address import pow2_div


def _function(module: Any, name: str) -> Any:
    from eqsat.lowering.apply import _function as fn

    return fn(module, name)


def candidates(module: Any, kernel_json: Mapping[str, Any], launch: Mapping[str, Any] | None
               ) -> dict[str, dict[str, Any]]:
    from eqsat.dm.specialize import access_roots, best_guards, specialization_facts, widths_under
    from eqsat.egraph.interpret import ty_text
    from eqsat.lowering.specialize import version_name
    from eqsat.rules.specialize import candidate_layout

    name = kernel_json.get("kernel") or ""
    func = _function(module, name)
    values = {k: v for k, v in ((launch or {}).get("args") or {}).items()
              if isinstance(v, int) and not isinstance(v, bool)}
    facts = specialization_facts(module, func, values=values)
    guards = [gd for gd in best_guards(facts, values) if gd["kind"] == "divisible"]
    if not guards:
        return {}
    index = {a.name: a.index for a in facts.args}
    divisible = {index[gd["arg"]]: min(16, pow2_div(int(gd["by"]))) for gd in guards}
    under = widths_under(module, func, divisible)
    ops = {int(o["id"]): o for o in kernel_json.get("ops", [])}
    widened = {i: w for i, w in under.items() if w > facts.now.get(i, 1) and i in ops
               and ops[i].get("kind") in ("load", "store")}
    if not widened:
        return {}
    roots = access_roots(module, func)
    ptr_args = [a for a in facts.args if a.kind == "ptr"]
    aligned = [{"arg": a.name, "kind": "aligned", "bytes": 16} for a in ptr_args
               if a.name in {roots.get(i) for i in widened}]
    warps = int(kernel_json.get("num_warps", 4))
    lanes = int(kernel_json.get("threads_per_warp", 32))
    cands = {}
    for i, w in sorted(widened.items()):
        op = ops[i]
        cands[str(i)] = {"layout": candidate_layout(op, warps, lanes),
                         "ty": ty_text(op["shape"], op["dtype"]), "vec": int(w)}
    key = version_name(guards)
    return {key: {"guards": guards + aligned, "int_guards": guards, "divisible": divisible, "ops": cands}}


def lifted_json(text: str, name: str, target: str, launch: Mapping[str, Any] | None,
                grid: Any) -> dict[str, Any]:
    from eqsat.dm.json import dm_to_json
    from eqsat.dm.lift import Launch, lift_module
    from eqsat.ir.parser import parse_ttgir

    module = parse_ttgir(text, f"<version of {name}>")
    dm = dm_to_json(lift_module(module, kernel=name, target=target,
                                launch=Launch.from_manifest(dict(launch)) if launch else None), target)
    if grid and not dm.get("grid"):
        dm["grid"] = [int(g) for g in grid]
    return dm


def build_version(key: str, cand: Mapping[str, Any], *, module: Any, kernel_json: Mapping[str, Any],
                  target: str, model: Any, extract: Callable[[Any], tuple[list[Any], dict[str, Any],
                                                                          dict[str, Any]]],
                  fallback_text: str, launch: Mapping[str, Any] | None, margin: Callable[[float], float]
                  ) -> tuple[dict[str, Any], str | None]:
    """(version, its TTGIR) when it pays, else (rejection, None). `extract(assumed)` returns the choices,
    cost_after and extraction record of an extraction with the guard set `assumed` priced in."""
    from eqsat.costmodels.issue import VERSION_NS
    from eqsat.ir.printer import print_ttgir
    from eqsat.lowering.apply import lower
    from eqsat.lowering.edits import LoweringError
    from eqsat.lowering.specialize import specialize_signature, version_slug
    from eqsat.plan import Plan

    name = str(kernel_json.get("kernel") or "")
    guards = list(cand["guards"])
    base = {"name": key, "slug": version_slug(cand["int_guards"]), "guards": guards}
    choices, cost_after, _ = extract(frozenset({key}))
    if not any(c.kind == "specialize" for c in choices):
        return {**base, "reason": "the extraction under the guards chose no specialized access"}, None
    try:
        lowered = lower(module, Plan(name, target, {}, {}, choices))
    except LoweringError as e:
        return {**base, "reason": f"not lowerable: {e.message}"}, None
    text = specialize_signature(print_ttgir(lowered), None, cand["divisible"])  # the module's kernel: its
    # tt.func is the @triton.jit function's name, not the manifest entry's
    grid = kernel_json.get("grid")
    fallback = model.kernel_time(lifted_json(fallback_text, name, target, launch, grid))
    version = model.kernel_time(lifted_json(text, name, target, launch, grid))
    fallback_ns, predicted_ns = fallback.total_ns, version.total_ns + VERSION_NS
    record = {**base, "predicted_ns": _num(predicted_ns), "fallback_ns": _num(fallback_ns),
              "bound": {"fallback": fallback.info.get("bound"), "version": version.info.get("bound")}}
    gain = fallback_ns - predicted_ns
    need = margin(fallback_ns)
    if not (math.isfinite(gain) and gain >= need):
        return {**record, "reason": f"predicted gain {gain:.1f} ns (with {VERSION_NS:.0f} ns for the "
                                    f"version) is below the margin {need:.1f} ns"}, None
    return {**record, "choices": [_choice_json(c) for c in choices], "cost_after": cost_after,
            "ttgir": f"versions/{base['slug']}.ttgir"}, text


def _choice_json(c: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(c)


def _num(x: float) -> float | None:
    return None if math.isinf(x) or math.isnan(x) else round(x, 3)


__all__ = ["build_version", "candidates", "lifted_json"]
