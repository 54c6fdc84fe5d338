"""Every registered rule passes its soundness check on a few random instances (the same code path as
`eqsat rules check`), and the registry is consistent: names, families, plan choices, egglog rule names."""

from __future__ import annotations

import pytest
from eqsat.rules import FAMILY_ORDER, all_rules, families, matches_by_rule, rule_name_of

from eqsat.commands.rules import check_rules
from eqsat.plan import CHOICE_KINDS

RULES = all_rules()
EXAMPLES = {"swizzle.synthesized": 2}


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_is_sound_on_random_instances(rule) -> None:
    [(name, failure, _)] = check_rules([rule], EXAMPLES.get(rule.name, 4), first_seed=100)
    assert failure is None, failure


def test_registry_is_consistent() -> None:
    fams = families()
    assert [f.name for f in fams] == list(FAMILY_ORDER)
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for f in fams:
        assert f.rules and all(r.family == f.name for r in f.rules)
    for r in RULES:
        assert r.doc and r.preconditions
        assert r.plan_choice in ("", *CHOICE_KINDS)
        assert r.egg_rules
        for egg in r.egg_rules:
            assert rule_name_of(_egg_name(egg)) == r.name


def _egg_name(egg) -> str:
    import re

    m = re.search(r"name=([\w.#]+)", str(egg))
    assert m, str(egg)
    return m.group(1)


def test_matches_fold_to_rule_names() -> None:
    assert matches_by_rule({"convert.remat_load#load": 2, "convert.remat_load#indirect": 1,
                            "analysis.layout_of#load": 5}) == {"convert.remat_load": 3, "analysis.layout_of": 5}
