"""The saturation schedule: rule families run phase by phase under node, time and iteration limits.

egglog cannot be interrupted inside one iteration, so the project enforces its own limits between
iterations: each phase runs `egraph.run(1, ruleset=...)` repeatedly until the ruleset no longer changes the
e-graph (saturated), or the e-graph holds more than `node_limit` rows (`egraph.all_function_sizes()`), or
more than `time_limit_s` seconds have passed since the schedule started, or the phase has run
`phase_iterations` times. After the family phases a cleanup phase runs all rulesets together to
saturation under the same limits. A limit that stops a phase stops the whole schedule: the report says
which (`stop_reason`: "saturated", "node_limit", "time_limit", "iteration_limit") and where, and by how much
the last iteration overran the time limit (one iteration can take longer than the limit).

    run_schedule(egraph, [Phase("convert", rs, seed), ...], Limits(node_limit=20000, time_limit_s=10))
        -> ScheduleReport(stop_reason, iterations, nodes, seconds, rule_matches, phases=[...])

`rule_matches` folds egglog's `num_matches_per_rule` onto rule names (`name#variant` -> `name`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from egglog import EGraph, Ruleset, run

STOP_REASONS = ("saturated", "node_limit", "time_limit", "iteration_limit")


@dataclass
class Limits:
    node_limit: int = 20_000
    time_limit_s: float = 10.0
    phase_iterations: int = 50


@dataclass
class Phase:
    name: str
    rulesets: list[Ruleset]
    seed: Callable[[], None] | None = None  # adds the facts this phase's rules need, before it runs


@dataclass
class PhaseReport:
    name: str
    stop_reason: str
    iterations: int
    nodes: int
    seconds: float


@dataclass
class ScheduleReport:
    stop_reason: str = "saturated"
    stopped_in: str = ""
    iterations: int = 0
    nodes: int = 0
    seconds: float = 0.0
    overrun_s: float = 0.0  # seconds past the time limit when the schedule noticed it
    rule_matches: dict[str, int] = field(default_factory=dict)
    phases: list[PhaseReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def egraph_rows(egraph: EGraph) -> int:
    """Rows of every function and relation of the e-graph (e-nodes plus analysis facts)."""
    return sum(size for _, size in egraph.all_function_sizes())


def rule_name(key: Any) -> str:
    """The registry rule name of an egglog `num_matches_per_rule` key."""
    name = getattr(key, "name", None) or str(key)
    return str(name).split("#", 1)[0]


def run_schedule(egraph: EGraph, phases: list[Phase], limits: Limits, cleanup: bool = True) -> ScheduleReport:
    """Run every phase, then (if `cleanup` and there are rulesets) all rulesets together, within limits."""
    report = ScheduleReport()
    t0 = time.perf_counter()
    all_rulesets = [rs for p in phases for rs in p.rulesets]
    plan = list(phases)
    if cleanup and len(all_rulesets) > 1:
        plan.append(Phase("cleanup", all_rulesets))
    for phase in plan:
        if phase.seed is not None:
            phase.seed()
        reason = _run_phase(egraph, phase, limits, report, t0)
        if reason != "saturated":
            report.stop_reason, report.stopped_in = reason, phase.name
            break
    report.seconds = time.perf_counter() - t0
    report.nodes = egraph_rows(egraph)
    if report.stop_reason == "time_limit":
        report.overrun_s = max(0.0, report.seconds - limits.time_limit_s)
    return report


def _run_phase(egraph: EGraph, phase: Phase, limits: Limits, report: ScheduleReport, t0: float) -> str:
    start = time.perf_counter()
    iterations = 0
    reason = "saturated"
    schedule = None
    for rs in phase.rulesets:
        schedule = run(rs) if schedule is None else schedule + run(rs)
    while schedule is not None:
        if time.perf_counter() - t0 > limits.time_limit_s:
            reason = "time_limit"
            break
        if iterations >= limits.phase_iterations:
            reason = "iteration_limit"
            break
        result = egraph.run(schedule)
        iterations += 1
        for key, n in result.num_matches_per_rule.items():
            name = rule_name(key)
            report.rule_matches[name] = report.rule_matches.get(name, 0) + int(n)
        if not result.updated:
            break
        if egraph_rows(egraph) > limits.node_limit:
            reason = "node_limit"
            break
        if time.perf_counter() - t0 > limits.time_limit_s:
            reason = "time_limit"
            break
    report.iterations += iterations
    report.phases.append(PhaseReport(phase.name, reason, iterations, egraph_rows(egraph),
                                     time.perf_counter() - start))
    return reason
