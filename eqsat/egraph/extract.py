"""Extraction: pick one e-node per needed e-class so that the kernel's movement costs least.

Two extractors over the same node prices (eqsat.egraph.costs):

* `greedy_extract`: egglog's own extractor with `greedy_dag_cost_model` (a shared subterm counts once
  within each candidate's DAG, but every class is decided bottom-up on its own); the extracted term is
  mapped back onto the serialized e-graph (`term_selection`) so that decoding sees class -> node.
* `exact_extract`: an optimal DAG extraction by z3 `Optimize` over the serialized e-graph, for graphs up to
  `EXACT_NODE_LIMIT` nodes: a Boolean per node, exactly one node per active class, a chosen node activates
  its children's classes, and an integer rank per class that strictly decreases along chosen edges (no
  cycles). Illegal (infinite) nodes are never chosen. Minimises the sum of the chosen nodes' prices, then
  (given the input's selection) the number of chosen nodes that are not the input's. Each call builds
  its problem in a fresh z3 context, so nothing of an earlier kernel's solve steers this one.

A `Selection` maps class id -> chosen node id; `dag_cost` sums the prices of the nodes reachable from the
root through the selection (each once).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eqsat.egraph.serialized import SerializedEGraph

EXACT_NODE_LIMIT = 2000
Selection = dict[str, str]
NodePrice = Callable[[str], float]  # node id -> nanoseconds (inf when illegal)


@dataclass
class ExtractionResult:
    selection: Selection
    cost_ns: float
    method: str  # "greedy", "exact"
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------- greedy


def greedy_extract(egraph: Any, root: Any, cost_model: Any) -> tuple[Any, float]:
    """egglog's greedy DAG extraction of `root` under an egglog CostModel: (term, total ns)."""
    from egglog import greedy_dag_cost_model

    term, cost = egraph.extract(root, include_cost=True, cost_model=greedy_dag_cost_model(cost_model))
    total = cost.total
    return term, float(getattr(total, "total", total))


def term_selection(graph: SerializedEGraph, term: Any) -> tuple[str, Selection]:
    """The root class of an extracted egglog term and, for every class in it, the node it used."""
    selection: Selection = {}
    root = _walk(graph, term.__egg_typed_expr__, selection, {})
    return root, selection


def class_of(graph: SerializedEGraph, term: Any, memo: dict[Any, str]) -> str:
    """The e-class of a term of this e-graph (`memo` is shared between calls on one e-graph)."""
    return _walk(graph, term.__egg_typed_expr__, None, memo)


def _walk(graph: SerializedEGraph, typed: Any, selection: Selection | None, memo: dict[Any, str]) -> str:
    from egglog.declarations import CallDecl, LitDecl

    if selection is None and typed in memo:
        return memo[typed]
    decl = typed.expr
    sort = typed.tp.ident.name
    if isinstance(decl, LitDecl):
        cid = graph.literal_class(sort, decl.value)
        if cid is None:
            raise KeyError(f"literal {decl.value!r} of {sort} is not in the e-graph")
        return cid
    assert isinstance(decl, CallDecl), decl
    ref = decl.callable
    name = getattr(ref, "method_name", None) or ref.ident.name
    children = tuple(_walk(graph, a, selection, memo) for a in decl.args)
    nid = graph.lookup(sort, name, children)
    if nid is None:
        raise KeyError(f"node {sort}.{name} is not in the serialized e-graph")
    cid = graph.nodes[nid].eclass
    if selection is not None:
        selection.setdefault(cid, nid)
    memo[typed] = cid
    return cid


# ---------------------------------------------------------------------------------------------- costs


def reachable_selected(graph: SerializedEGraph, selection: Selection, root: str) -> list[str]:
    """Classes reachable from `root` through the selected nodes (root first); raises on a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(cid: str) -> None:
        if state.get(cid) == 2:
            return
        if state.get(cid) == 1:
            raise ValueError(f"selection has a cycle through class {cid}")
        state[cid] = 1
        nid = selection.get(cid) or graph.classes[cid][0]
        for child in graph.nodes[nid].children:
            visit(child)
        state[cid] = 2
        order.append(cid)

    visit(root)
    order.reverse()
    return order


def dag_cost(graph: SerializedEGraph, selection: Selection, root: str, price: NodePrice) -> float:
    """Sum of the prices of the selected nodes reachable from `root` (each class counted once)."""
    total = 0.0
    for cid in reachable_selected(graph, selection, root):
        total += price(selection.get(cid) or graph.classes[cid][0])
    return total


def tree_costs(graph: SerializedEGraph, price: NodePrice) -> dict[str, float]:
    """Per class, the least tree cost of any term in it (Bellman-Ford style fixpoint; inf if none)."""
    best = {cid: math.inf for cid in graph.classes}
    changed = True
    while changed:
        changed = False
        for cid, nids in graph.classes.items():
            for nid in nids:
                c = price(nid) + sum(best[ch] for ch in graph.nodes[nid].children)
                if c < best[cid]:
                    best[cid] = c
                    changed = True
    return best


# ---------------------------------------------------------------------------------------------- exact


def exact_extract(graph: SerializedEGraph, root: str, price: NodePrice,
                  node_limit: int = EXACT_NODE_LIMIT, timeout_ms: int = 20000,
                  prefer: Selection | None = None) -> ExtractionResult | None:
    """Optimal DAG extraction with z3, or None when the graph is over `node_limit` nodes or z3 gives up.
    Among selections of equal cost, one with the fewest nodes outside `prefer` (the input program): ties
    are not left to the solver's search order."""
    import time

    import z3

    t0 = time.perf_counter()
    classes = graph.reachable(root)
    nodes = [nid for cid in classes for nid in graph.classes[cid]]
    if len(nodes) > node_limit:
        return None
    scale = 1000.0  # prices in picoseconds as integers
    ctx = z3.Context()  # a fresh context: z3's state must not carry from one kernel to the next
    opt = z3.Optimize(ctx=ctx)
    opt.set("timeout", timeout_ms)
    x = {nid: z3.Bool(f"x{i}", ctx) for i, nid in enumerate(nodes)}
    active = {cid: z3.Bool(f"a{i}", ctx) for i, cid in enumerate(classes)}
    rank = {cid: z3.Int(f"r{i}", ctx) for i, cid in enumerate(classes)}
    opt.add(active[root])
    kept = set(prefer.values()) if prefer is not None else set(nodes)
    tie = len(nodes) + 1
    terms = []
    for cid in classes:
        members = graph.classes[cid]
        opt.add(z3.Sum([z3.If(x[n], 1, 0) for n in members]) == z3.If(active[cid], 1, 0))
        for nid in members:
            p = price(nid)
            if math.isinf(p) or math.isnan(p):
                opt.add(z3.Not(x[nid]))
                continue
            for child in graph.nodes[nid].children:
                if child == cid:
                    opt.add(z3.Not(x[nid]))
                    break
                opt.add(z3.Implies(x[nid], z3.And(active[child], rank[cid] > rank[child])))
            # ties in price go to the fewest nodes outside `prefer`: one objective, price (ps) first,
            # scaled past the largest possible count of changes (a second lexicographic objective makes
            # z3 search far longer: tma_matmul 0.3 s -> over 20 s)
            weight = int(round(p * scale)) * tie + (1 if nid not in kept else 0)
            if weight:
                terms.append(z3.If(x[nid], weight, 0))
    opt.minimize(z3.Sum(terms) if terms else z3.IntVal(0, ctx))
    if opt.check() != z3.sat:
        return None
    model = opt.model()
    selection: Selection = {}
    for cid in classes:
        for nid in graph.classes[cid]:
            if z3.is_true(model.eval(x[nid], model_completion=True)):
                selection[cid] = nid
                break
    cost = dag_cost(graph, selection, root, price)
    return ExtractionResult(selection, cost, "exact", time.perf_counter() - t0)


def brute_force(graph: SerializedEGraph, root: str, price: NodePrice) -> float:
    """The optimal DAG cost by enumerating every selection (tests only: tiny graphs)."""
    import itertools

    classes = graph.reachable(root)
    best = math.inf
    for combo in itertools.product(*(graph.classes[c] for c in classes)):
        selection = dict(zip(classes, combo, strict=True))
        try:
            cost = dag_cost(graph, selection, root, price)
        except ValueError:
            continue
        best = min(best, cost)
    return best
