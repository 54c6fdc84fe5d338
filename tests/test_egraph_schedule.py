"""The schedule's own limits stop a ruleset that grows forever, and the report names the limit."""

from __future__ import annotations

from egglog import EGraph, i64, rewrite, rule, ruleset, var

from eqsat.egraph.schedule import Limits, Phase, run_schedule
from eqsat.egraph.terms import Layout, Sink, Tile


def _growing(doubling: bool = True) -> tuple[EGraph, object]:
    """Every value op n gets children 2n + 1 and 2n + 2 (the e-graph doubles each iteration) or, linear,
    a neighbour n + 1: it never saturates."""
    n = var("n", i64)
    lay = var("lay", Layout)
    if doubling:
        actions = [Sink.use(n * 2 + 1, Tile.value(n * 2 + 1, lay)), Sink.use(n * 2 + 2, Tile.value(n * 2 + 2, lay))]
    else:
        actions = [Sink.use(n + 1, Tile.value(n + 1, lay))]
    grow = ruleset(rule(Tile.value(n, lay)).then(*actions), name="grow")
    eg = EGraph()
    eg.register(Sink.use(0, Tile.value(0, Layout("L"))))
    return eg, grow


def test_node_limit_stops_growth() -> None:
    eg, grow = _growing()
    report = run_schedule(eg, [Phase("grow", [grow])], Limits(node_limit=300, time_limit_s=60))
    assert report.stop_reason == "node_limit"
    assert report.stopped_in == "grow"
    assert 300 < report.nodes < 2 * 300 + 10  # stopped after the first iteration past the limit
    assert report.rule_matches


def test_time_limit_stops_growth() -> None:
    eg, grow = _growing(doubling=False)
    report = run_schedule(eg, [Phase("grow", [grow])],
                          Limits(node_limit=10**9, time_limit_s=0.3, phase_iterations=10**6))
    assert report.stop_reason == "time_limit"
    assert report.seconds >= 0.3
    assert report.overrun_s < 1.0  # one iteration of this ruleset is short


def test_iteration_limit_and_saturation() -> None:
    eg, grow = _growing()
    report = run_schedule(eg, [Phase("grow", [grow])], Limits(phase_iterations=5))
    assert (report.stop_reason, report.iterations) == ("iteration_limit", 5)
    a, b = var("a", Tile), var("b", Layout)
    idem = ruleset(rewrite(a.convert(b, b, "t")).to(a), name="idem")
    eg2 = EGraph()
    t = Tile.value(0, Layout("L"))
    eg2.register(Sink.use(0, t.convert(Layout("L"), Layout("L"), "t")))
    seeded = []
    report2 = run_schedule(eg2, [Phase("idem", [idem], seed=lambda: seeded.append(1))], Limits())
    assert report2.stop_reason == "saturated" and seeded == [1]
    eg2.check(t == t.convert(Layout("L"), Layout("L"), "t"))
