"""Decoding: an extracted selection (e-class -> chosen e-node) -> the plan's `Choice`s (eqsat/plan.py).

The input program is itself a selection (`original`, from the encoded root term). Comparing the two:

    class of convert op X chose  via_shared(t, src, enc, dst)   -> convert_path {"path": "shared", enc}
                                 convert(t', M, dst), M != src   -> convert_path {"path": "via", "layout": M}
                                 any other node (the value made
                                 directly in dst)                -> convert_path {"path": "drop"}
    class of gather op X chose   gather_shared                   -> gather_strategy shared
                                 gather_global                   -> gather_strategy indirect_load
                                 convert(gather(.., W ..), W, L)
                                 or gather with other inputs     -> gather_strategy warp_shuffle in W
    a live new Tile.load(op, L) or Tile.indirect_load(op, L),
    L != op's layout                                            -> load_layout {"layout": L}
    a live Tile.guarded_load(op, W, ty, v, g) or
    Sink.guarded_store(op, t in W, v, g)                         -> specialize {"layout": W, "vec": v,
                                                                    "version": g} (only in a version)
    a live new Smem.alloc/buffer(op, .., enc), enc != op's       -> shared_encoding {"encoding": enc}
    a live new Smem.staged(op, buf, enc, mode, n)                -> staging {"mode", "stages"} when mode or n
                                                                    differ from op's own ("sync" for a
                                                                    load feeding a local_alloc), and
                                                                    shared_encoding of buf when enc differs

Every choice lists the other e-nodes of the class where it was decided as rejected alternatives, each
priced as the node plus its children's cheapest trees: `illegal: <reason>` or `costlier by X ns`. The
rule of a choice is the rule recorded on the chosen class by the `made_by`/`smem_made_by` relations
(eqsat/egraph/terms.py), restricted to registry rules whose `plan_choice` is the choice's kind; without a
record, the registry rules of that kind that matched during the run; else "unattributed".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eqsat.egraph.costs import GraphPrices
from eqsat.egraph.encode import STAGING_KINDS, EncodedKernel
from eqsat.egraph.extract import Selection, class_of, reachable_selected, tree_costs
from eqsat.egraph.serialized import ENode, SerializedEGraph
from eqsat.plan import Alternative, Choice


@dataclass
class DecodeContext:
    encoded: EncodedKernel
    graph: SerializedEGraph
    prices: GraphPrices
    root: str
    original: Selection
    chosen: Selection
    rule_kinds: Mapping[str, str] = field(default_factory=dict)  # registry rule name -> plan_choice kind
    rule_matches: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        memo: dict[Any, str] = {}
        self.op_class = {oid: class_of(self.graph, t, memo) for oid, t in self.encoded.tiles.items()}
        self._best: dict[str, float] | None = None
        self.chosen_node: dict[tuple[int, str], str] = {}  # (op, kind) of each choice -> its e-node

    @property
    def best(self) -> dict[str, float]:
        if self._best is None:
            self._best = tree_costs(self.graph, self.prices)
        return self._best


def decode(ctx: DecodeContext) -> list[Choice]:
    """The choices that turn the original selection into the chosen one (op order, one per op and kind)."""
    g, ops = ctx.graph, ctx.encoded.ops
    live = reachable_selected(g, ctx.chosen, ctx.root)
    choices: dict[tuple[int, str], Choice] = {}

    def add(op: int, kind: str, params: dict[str, Any], cid: str, nid: str) -> None:
        if (op, kind) not in choices:
            choices[(op, kind)] = _choice(ctx, op, kind, params, cid, nid)
            ctx.chosen_node[(op, kind)] = nid

    live_set = set(live)
    for oid, cid in ctx.op_class.items():
        n0, n1 = ctx.original.get(cid), ctx.chosen.get(cid)
        if cid not in live_set or n1 is None or n1 == n0:
            continue
        node, kind = g.nodes[n1], ops[oid]["kind"]
        if kind == "convert":
            if node.name == "via_shared":
                add(oid, "convert_path", {"path": "shared", "encoding": g.text(node.children[2])}, cid, n1)
            elif node.name == "convert":
                mid = g.text(node.children[1])
                if mid != (ops[oid].get("src_layout") or ""):
                    add(oid, "convert_path", {"path": "via", "layout": mid}, cid, n1)
            else:
                add(oid, "convert_path", {"path": "drop"}, cid, n1)
        elif kind == "gather":
            strategy = _gather_strategy(ctx, node)
            if strategy is not None:
                add(oid, "gather_strategy", strategy, cid, n1)

    original_nodes = set(ctx.original.values())
    for cid in live:
        nid = ctx.chosen.get(cid)
        if nid is None or nid in original_nodes:
            continue
        node = g.nodes[nid]
        head = node.head
        if head == "Tile.guarded_load":
            op = int(g.text(node.children[0]))
            add(op, "specialize", {"layout": g.text(node.children[1]), "vec": int(g.text(node.children[3])),
                                   "version": g.text(node.children[4])}, cid, nid)
        elif head == "Sink.guarded_store":
            op = int(g.text(node.children[0]))
            add(op, "specialize", {"layout": ctx.prices.class_meta(node.children[1]).layout,
                                   "vec": int(g.text(node.children[2])), "version": g.text(node.children[3])},
                cid, nid)
        elif head in ("Tile.load", "Tile.indirect_load"):
            op = int(g.text(node.children[0]))
            layout = g.text(node.children[1])
            if layout != (ops[op].get("dst_layout") or ""):
                add(op, "load_layout", {"layout": layout}, cid, nid)
        elif head in ("Smem.alloc", "Smem.buffer"):
            op = int(g.text(node.children[0]))
            enc = g.text(node.children[-1])
            if enc != (ops[op].get("dst_layout") or ""):
                add(op, "shared_encoding", {"encoding": enc}, cid, nid)
        elif head == "Smem.staged":
            op, buf = int(g.text(node.children[0])), int(g.text(node.children[1]))
            enc, mode, stages = (g.text(c) for c in node.children[2:5])
            own_mode = STAGING_KINDS.get(ops[op]["kind"], "sync")
            own_stages = _own_stages(ctx, op)
            if (mode, int(stages)) != (own_mode, own_stages):
                add(op, "staging", {"mode": mode, "stages": int(stages)}, cid, nid)
            if buf in ops and enc != (ops[buf].get("dst_layout") or ""):
                add(buf, "shared_encoding", {"encoding": enc}, cid, nid)
    return [choices[k] for k in sorted(choices)]


def _gather_strategy(ctx: DecodeContext, node: ENode) -> dict[str, Any] | None:
    g = ctx.graph
    if node.name == "gather_shared":
        return {"strategy": "shared"}
    if node.name == "gather_global":
        return {"strategy": "indirect_load"}
    if node.name == "convert":
        inner = ctx.chosen.get(node.children[0])
        if inner is not None and g.nodes[inner].name == "gather":
            return {"strategy": "warp_shuffle", "layout": g.text(g.nodes[inner].children[3])}
        return None
    if node.name == "gather":
        return {"strategy": "warp_shuffle", "layout": ctx.prices.class_meta(node.children[1]).layout}
    return None


def _own_stages(ctx: DecodeContext, op: int) -> int:
    for nid in ctx.original.values():
        node = ctx.graph.nodes[nid]
        if node.head == "Smem.staged" and int(ctx.graph.text(node.children[0])) == op:
            return int(ctx.graph.text(node.children[4]))
    return 1


def _choice(ctx: DecodeContext, op: int, kind: str, params: dict[str, Any], cid: str, nid: str) -> Choice:
    g, prices = ctx.graph, ctx.prices
    chosen_total = _node_total(ctx, nid)
    before_nid = ctx.original.get(cid) or _original_node_of(ctx, op)
    alternatives = []
    for other in g.classes[cid]:
        if other == nid:
            continue
        cost = prices.cost(other)
        total = _node_total(ctx, other)
        if cost.illegal:
            why = f"illegal: {cost.illegal}"
        elif math.isinf(total):
            why = "illegal: needs an illegal subterm"
        else:
            why = f"costlier by {total - chosen_total:.1f} ns"
        alternatives.append(Alternative(kind, _describe(g, g.nodes[other]), cost.to_json(), why,
                                        _rule(ctx, kind, cid) if other not in ctx.original.values() else ""))
    return Choice(op, kind, params, _rule(ctx, kind, cid),
                  cost_before=prices.cost(before_nid).to_json() if before_nid else {},
                  cost_after=prices.cost(nid).to_json(), alternatives=alternatives)


def _node_total(ctx: DecodeContext, nid: str) -> float:
    node = ctx.graph.nodes[nid]
    return ctx.prices(nid) + sum(ctx.best[c] for c in node.children)


def _original_node_of(ctx: DecodeContext, op: int) -> str | None:
    cid = ctx.op_class.get(op)
    return ctx.original.get(cid) if cid else None


def _describe(g: SerializedEGraph, node: ENode) -> dict[str, Any]:
    out: dict[str, Any] = {"node": node.head}
    for child in node.children:
        sort = g.sorts.get(child)
        if sort in ("Layout", "SharedEnc", "String", "i64"):
            out.setdefault("args", []).append(g.text(child))
    return out


def _rule(ctx: DecodeContext, kind: str, cid: str) -> str:
    g = ctx.graph
    recorded = sorted({g.text(r.children[1]) for r in g.rows
                       if r.name in ("made_by", "smem_made_by") and r.children[0] == cid})
    of_kind = [r for r in recorded if ctx.rule_kinds.get(r, kind) == kind]
    if of_kind:
        return " | ".join(of_kind)
    matched = sorted(r for r, k in ctx.rule_kinds.items() if k == kind and ctx.rule_matches.get(r, 0) > 0)
    return " | ".join(matched) if matched else "unattributed"
