"""Helpers for rule authors' own test suites (pytest), the same checks `eqsat rules check` runs.

    load_rules("mine.py") -> [Rule]                the rules of a user rule file or module, validated
    counterexample(rule, examples=50) -> str|None  the smallest failing instance, or None: rules with an
                                                   `examples` strategy (eqsat.rules.harness.property_rule)
                                                   are searched by hypothesis and the failure shrunk;
                                                   others run check(seed) for seeds 0..examples-1
    assert_sound(rule, examples=50)                AssertionError with that counterexample
    fires_on(rule, paths, target, rules=("mine.py",)) -> {kernel: matches}
                                                   where the rule fires on real kernels (a corpus
                                                   manifest or .ttgir files), as `eqsat rules coverage`

    def test_my_rule():                            # in the author's tests/test_my_rules.py
        for rule in load_rules("my_rules.py"):
            assert_sound(rule)
"""

from __future__ import annotations

from typing import Any

from eqsat.errors import EqsatError


def load_rules(source: str) -> list[Any]:
    from eqsat.rules.user import load_source

    return list(load_source(source)[0].rules)


def counterexample(rule: Any, examples: int = 50, first_seed: int = 0) -> str | None:
    """One line describing the smallest instance that breaks `rule`, or None when none was found."""
    if getattr(rule, "examples", None) is not None and rule.check_example is not None:
        return _shrunk(rule, examples)
    for seed in range(first_seed, first_seed + examples):
        try:
            rule.check(seed)
        except AssertionError as e:
            return " ".join(str(e).split())
        except Exception as e:  # noqa: BLE001 - a crashing check is a failing check
            return f"seed {seed}: check crashed: {type(e).__name__}: {' '.join(str(e).split())}"
    return None


def _shrunk(rule: Any, examples: int) -> str | None:
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    def fails(example: Any) -> bool:
        try:
            rule.check_example(example)
        except AssertionError:
            return True
        except Exception:  # noqa: BLE001 - a crash on an example counts as breaking the rule
            return True
        return False

    try:
        smallest = find(rule.examples, fails, settings=settings(max_examples=examples, database=None,
                                                                  deadline=None, derandomize=True,
                                                                  suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return None
    try:
        rule.check_example(smallest)
    except AssertionError as e:
        reason = " ".join(str(e).split())
    except Exception as e:  # noqa: BLE001
        reason = f"check crashed: {type(e).__name__}: {' '.join(str(e).split())}"
    else:  # pragma: no cover - flaky check: failed once, passes now
        reason = "failed while shrinking, passes when re-run (the check is not deterministic)"
    return f"minimal counterexample {smallest!r}: {reason}"


def assert_sound(rule: Any, examples: int = 50) -> None:
    found = counterexample(rule, examples)
    if found is not None:
        raise AssertionError(f"{rule.name} is unsound: {found}")


def fires_on(rule: Any, paths: list[str], target: str, rules: tuple[str, ...] = ()) -> dict[str, int]:
    """Matches of `rule` per kernel of `paths` on `target`, with the user rule files `rules` loaded."""
    from eqsat.commands.rules import coverage
    from eqsat.rules.user import RuleSelection

    rows, _ = coverage(paths, target, selection=RuleSelection(sources=tuple(rules)))
    bad = [r for r in rows if r["error"]]
    if bad:
        raise EqsatError(f"{bad[0]['kernel']}: {bad[0]['error']}")
    return {r["kernel"]: r["matches"].get(rule.name, 0) for r in rows}
