"""The rule registry: every rewrite rule with its doc, preconditions, egglog rules and soundness check.

A `Rule` is one named rewrite (`convert.drop_identity`, `gather.indirect_global`, ...). It owns one or more
egglog rules (`egg_rules`), each named `<rule name>` or `<rule name>#<variant>`, so an egglog run report
(`EGraph.run(...).num_matches_per_rule`) can be folded back to rule names with `matches_by_rule`, and a
plan can name the rule that produced a choice. `check(seed)` is the rule's soundness obligation: it raises
`AssertionError` with a one-line counterexample when the rule is unsound on the random instance `seed`
(reference interpreter, z3 proof or typestate check, as `soundness` says).

A `RuleFamily` groups the rules of one module (gather, convert, swizzle, staging) into one egglog
`Ruleset` (plus the `layout_of`/`ty_of` analysis rules of `eqsat.rules.analysis`) and a `seed` function
that inserts the Python-computed facts its rules require (candidate layouts and shared encodings per op,
warp-local gather layouts, legality from the cost model) into the e-graph of an encoded kernel.
`builtin_families()` lists them in phase order: convert, gather, swizzle, staging; `families(selection)`
adds the families of installed packages and of user files (`--rules`), and applies `--only`/`--disable`
(eqsat.rules.user).

Tests may plant an extra rule with `planted(rule)` (a context manager); `all_rules()` then includes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from egglog import EGraph, Ruleset, ruleset

if TYPE_CHECKING:
    from eqsat.costmodels.base import CostModel

FAMILY_ORDER: tuple[str, ...] = ("convert", "gather", "swizzle", "staging", "specialize")
SOUNDNESS_KINDS: tuple[str, ...] = ("interpreter", "z3", "typestate")


@dataclass
class Rule:
    """One named rewrite rule and its soundness obligation."""

    name: str
    family: str
    doc: str
    preconditions: str
    soundness: str  # "interpreter" | "z3" | "typestate"
    check: Callable[[int], None]
    egg_rules: list[Any] = field(default_factory=list)  # egglog rules named `name` or `name#variant`
    plan_choice: str = ""  # the plan.py choice kind this rule's alternative lowers as ("" = none needed)
    # optional: a hypothesis strategy of instance parameters and the check of one of them; with them,
    # `eqsat rules check` shrinks a failure to the smallest parameters that break the rule
    examples: Any = None
    check_example: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        if self.soundness not in SOUNDNESS_KINDS:
            raise ValueError(f"rule {self.name}: soundness '{self.soundness}' not in {SOUNDNESS_KINDS}")
        if not self.name.startswith(self.family + "."):
            raise ValueError(f"rule {self.name} must be named '{self.family}.<name>'")


@dataclass
class RuleFamily:
    """The rules of one module as one egglog ruleset, plus the seeding of the facts they need."""

    name: str
    rules: list[Rule]
    ruleset: Ruleset
    seed: Callable[[EGraph, Any, CostModel], None]  # (egraph, EncodedKernel, cost model)


def egg_name(rule_name: str, variant: str | None = None) -> str:
    """The name of an egglog rule implementing `rule_name` (one per pattern variant)."""
    return rule_name if variant is None else f"{rule_name}#{variant}"


def rule_name_of(egg_rule_name: str) -> str:
    """The registry rule an egglog rule name belongs to (`analysis.*` names are the analyses)."""
    return egg_rule_name.split("#", 1)[0]


def matches_by_rule(num_matches_per_rule: Mapping[Any, int]) -> dict[str, int]:
    """Fold an egglog `RunReport.num_matches_per_rule` (keys: rule decls or names) into counts per Rule."""
    counts: dict[str, int] = {}
    for key, n in num_matches_per_rule.items():
        name = getattr(key, "name", None) or str(key)
        rule = rule_name_of(name)
        counts[rule] = counts.get(rule, 0) + int(n)
    return counts


def family_ruleset(name: str, rules: list[Rule]) -> Ruleset:
    """One egglog ruleset with the analysis rules and every egglog rule of `rules`."""
    from eqsat.rules.analysis import analysis_rules

    egg = [r for rule in rules for r in rule.egg_rules]
    return ruleset(*analysis_rules(), *egg, name=name)


_PLANTED: list[Rule] = []


@contextmanager
def planted(rule: Rule) -> Iterator[Rule]:
    """Register `rule` for the duration of the block (tests plant deliberately wrong rules this way)."""
    _PLANTED.append(rule)
    try:
        yield rule
    finally:
        _PLANTED.remove(rule)


def builtin_families() -> list[RuleFamily]:
    """The built-in rule families, in phase order (convert, gather, swizzle, staging), planted rules
    included."""
    from eqsat.rules import convert, gather, specialize, staging, swizzle

    modules = {"convert": convert, "gather": gather, "swizzle": swizzle, "staging": staging,
               "specialize": specialize}
    out = []
    for name in FAMILY_ORDER:
        rules = list(modules[name].RULES) + [r for r in _PLANTED if r.family == name]
        out.append(RuleFamily(name, rules, family_ruleset(name, rules), modules[name].seed))
    return out


def families(selection: Any = None) -> list[RuleFamily]:
    """The families a run uses (eqsat.rules.user.selected_families): the built-in ones, those of
    installed packages (entry-point group `eqsat.rules`) and of `selection.sources`, filtered by
    `selection.only`/`disable`; by default every built-in and installed family."""
    from eqsat.rules.user import selected_families

    return selected_families(selection)


def all_rules(selection: Any = None) -> list[Rule]:
    """Every registered rule, family by family."""
    return [r for fam in families(selection) for r in fam.rules]


def rule_by_name(name: str, selection: Any = None) -> Rule:
    for rule in all_rules(selection):
        if rule.name == name:
            return rule
    raise KeyError(f"no rule named '{name}' (see `eqsat rules list`)")


__all__ = ["FAMILY_ORDER", "Rule", "RuleFamily", "all_rules", "builtin_families", "egg_name", "families",
           "family_ruleset", "matches_by_rule", "planted", "rule_by_name", "rule_name_of"]
