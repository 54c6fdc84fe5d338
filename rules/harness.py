"""The check harness: run one rule's real egglog rules on a random instance and interpret every result.

An `Instance` is a left-hand side (an egglog term), the facts its preconditions need (computed in
Python, exactly as a family's `seed` computes them for a kernel) and the environment of the reference
interpreter (global memory, op values). `check_instance` builds a fresh e-graph, runs the rule's egglog
rules with the analyses, requires that the rule fired when the instance says it should, extracts every
top-level variant of the left-hand side's e-class, evaluates each with `eqsat.egraph.interpret`, and
raises `AssertionError` (one line: the rule, the two terms, the first difference) on any mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from egglog import EGraph, ruleset
from eqsat.rules import Rule, matches_by_rule
from eqsat.rules.analysis import analysis_rules

from eqsat.egraph.interpret import Env, Interpreter, InterpretError, difference, parse_term

ITERATIONS = 4
MAX_VARIANTS = 64


@dataclass
class Instance:
    lhs: Any  # egglog expression (Tile or Smem)
    env: Env
    facts: list[Any] = field(default_factory=list)
    should_fire: bool = True
    note: str = ""


def _short(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def run_rule(rule: Rule, inst: Instance) -> tuple[EGraph, Any, int]:
    """The saturated e-graph, the root handle and the number of matches of `rule`."""
    eg = EGraph()
    root = eg.let("root", inst.lhs)
    for fact in inst.facts:
        eg.register(fact)
    rs = ruleset(*analysis_rules(), *rule.egg_rules, name=f"check_{rule.name}")
    report = eg.run(rs * ITERATIONS)
    return eg, root, matches_by_rule(report.num_matches_per_rule).get(rule.name, 0)


def check_instance(rule: Rule, inst: Instance, seed: int) -> int:
    """Raise AssertionError on a counterexample; return how many variants were compared."""
    eg, root, fired = run_rule(rule, inst)
    where = f"{rule.name} (seed {seed}{', ' + inst.note if inst.note else ''})"
    if inst.should_fire and not fired:
        raise AssertionError(f"{where}: did not fire on {_short(str(inst.lhs))}")
    interp = Interpreter(inst.env)
    lhs_text = str(inst.lhs)
    try:
        ref = interp(parse_term(lhs_text))
    except InterpretError as e:
        raise AssertionError(f"{where}: instance is ill-formed ({e}): {_short(lhs_text)}") from e
    variants = eg.extract_multiple(root, MAX_VARIANTS)
    for v in variants:
        text = str(v)
        try:
            val = interp(parse_term(text))
        except InterpretError as e:
            raise AssertionError(f"{where}: {_short(text)} has no meaning: {e}") from e
        diff = difference(ref, val)
        if diff is not None:
            raise AssertionError(f"{where}: {_short(lhs_text, 300)} != {_short(text, 300)}: {diff}")
    return len(variants)


def interpreter_rule(name: str, doc: str, preconditions: str, egg_rules: list[Any],
                     make: Callable[[int], Instance], *, plan_choice: str = "",
                     soundness: str = "interpreter",
                     also: Callable[[int], None] | None = None) -> Rule:
    """A Rule whose check draws `make(seed)` and compares every result of its egglog rules with the
    interpreter; `also(seed)` adds another obligation (a z3 proof, a typestate check)."""
    family = name.split(".", 1)[0]
    holder: list[Rule] = []

    def check(seed: int) -> None:
        check_instance(holder[0], make(seed), seed)
        if also is not None:
            also(seed)

    rule = Rule(name=name, family=family, doc=doc, preconditions=preconditions, soundness=soundness,
                check=check, egg_rules=egg_rules, plan_choice=plan_choice)
    holder.append(rule)
    return rule


def property_rule(name: str, doc: str, preconditions: str, egg_rules: list[Any], examples: Any,
                  make: Callable[[Any], Instance], *, plan_choice: str = "",
                  soundness: str = "interpreter") -> Rule:
    """A Rule whose instances come from `make(example)` for examples of the hypothesis strategy
    `examples` (shapes, layouts, argument values). `check(seed)` checks the example hypothesis draws for
    that seed; `check_example(example)` checks one example, so that `eqsat rules check` (and
    `eqsat.testing.counterexample`) can shrink a failure to the smallest example that breaks the rule."""
    family = name.split(".", 1)[0]
    holder: list[Rule] = []

    def check_example(example: Any) -> None:
        check_instance(holder[0], make(example), -1)

    def check(seed: int) -> None:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as with_seed

        @with_seed(seed)
        @settings(max_examples=1, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(examples)
        def one(example: Any) -> None:
            check_example(example)

        one()

    rule = Rule(name=name, family=family, doc=doc, preconditions=preconditions, soundness=soundness,
                check=check, egg_rules=egg_rules, plan_choice=plan_choice, examples=examples,
                check_example=check_example)
    holder.append(rule)
    return rule
