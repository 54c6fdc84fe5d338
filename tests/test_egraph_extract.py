"""Extraction: exact (z3) is optimal (== brute force on random e-graphs) and never worse than greedy."""

from __future__ import annotations

import math

from egglog import EGraph, union
from hypothesis import given, settings
from hypothesis import strategies as st

from eqsat.egraph.costs import EgglogCostModel
from eqsat.egraph.extract import (
    brute_force,
    dag_cost,
    exact_extract,
    greedy_extract,
    reachable_selected,
    term_selection,
)
from eqsat.egraph.serialized import ENode, SerializedEGraph
from eqsat.egraph.terms import Layout, Sink, Tile


@st.composite
def random_egraphs(draw: st.DrawFn) -> tuple[SerializedEGraph, str, dict[str, float]]:
    """A small e-graph: classes c0..cN, nodes with children in any class (cycles allowed), random prices
    (some illegal = inf); class c0 is the root. Every class has a node."""
    n_classes = draw(st.integers(2, 5))
    g = SerializedEGraph()
    prices: dict[str, float] = {}
    k = 0
    for c in range(n_classes):
        for _ in range(draw(st.integers(1, 3))):
            children = tuple(f"c{d}" for d in draw(st.lists(st.integers(0, n_classes - 1), max_size=2)))
            nid = f"n{k}"
            k += 1
            g.add(ENode(nid, "Tile", f"f{k}", f"c{c}", children))
            prices[nid] = draw(st.sampled_from([0.0, 1.0, 2.5, 4.0, 7.0, 13.0, math.inf]))
    return g, "c0", prices


@settings(max_examples=120, deadline=None)
@given(random_egraphs())
def test_exact_equals_brute_force(case: tuple[SerializedEGraph, str, dict[str, float]]) -> None:
    g, root, prices = case
    best = brute_force(g, root, prices.__getitem__)
    result = exact_extract(g, root, prices.__getitem__)
    if math.isinf(best):
        assert result is None or math.isinf(result.cost_ns)
        return
    assert result is not None
    assert math.isclose(result.cost_ns, best, abs_tol=1e-6), (result.selection, best)
    reachable_selected(g, result.selection, root)  # acyclic, or it raises


def _shared_subterm_egraph(n_parents: int) -> tuple[EGraph, Sink]:
    """n parents, each either `shared.convert(...)` (1 ns, needs the 8 ns shared load) or a 4 ns value:
    greedy picks every 4 ns value (4 < 1 + 8 per class); the optimum shares the load (8 + n)."""
    eg = EGraph()
    shared = Tile.load(99, Layout("S"), "s")
    sinks = []
    for i in range(n_parents):
        via = shared.convert(Layout("S"), Layout(f"x{i}"), "t")
        eg.register(union(via).with_(Tile.value(i, Layout(f"x{i}"))))
        sinks.append(Sink.use(i, via))
    root = sinks[0]
    for s in sinks[1:]:
        root = Sink.seq(s, root)
    eg.register(root)
    return eg, root


PRICES = {("Tile", "load"): 8.0, ("Tile", "convert"): 1.0, ("Tile", "value"): 4.0}


def _price(sort: str, name: str, metas: tuple) -> tuple[float, object]:
    return PRICES.get((sort, name), 0.0), None


def test_exact_beats_greedy_on_shared_subterms() -> None:
    eg, root = _shared_subterm_egraph(3)
    term, greedy_ns = greedy_extract(eg, root, EgglogCostModel(_price))
    g = SerializedEGraph.from_egraph(eg)
    root_class, greedy_sel = term_selection(g, term)

    def node_price(nid: str) -> float:
        n = g.nodes[nid]
        return PRICES.get((n.sort, n.name), 0.0)

    assert math.isclose(dag_cost(g, greedy_sel, root_class, node_price), greedy_ns)
    exact = exact_extract(g, root_class, node_price)
    assert exact is not None
    assert greedy_ns == 12.0
    assert exact.cost_ns == 11.0 < greedy_ns
    assert exact.cost_ns == brute_force(g, root_class, node_price)
