"""Deliberately wrong rules, planted in the registry for one test, must be caught by their checks:
a gather rewrite that drops the mask precondition, a swizzle that is not a bijection, a fold that
forgets the first layout, and a staging mode whose protocol omits a wait."""

from __future__ import annotations

from egglog import eq, rule, union
from eqsat.rules import Rule, all_rules, planted
from eqsat.rules.convert import _fold_instance
from eqsat.rules.gather import _gather_instance
from eqsat.rules.harness import interpreter_rule
from eqsat.rules.swizzle import _alloc_instance, prove_encoding
from eqsat.rules.typestate import check_protocol, protocol

from eqsat.commands.rules import check_rules
from eqsat.egraph.terms import SharedEnc, Smem, Tile


def _catch(rule: Rule, examples: int = 12) -> str:
    with planted(rule):
        assert rule in all_rules()
        [(name, failure, _)] = check_rules([rule], examples)
    assert rule not in all_rules()
    assert name == rule.name
    assert failure is not None, f"{rule.name} was not caught"
    assert "\n" not in failure
    return failure


def test_gather_global_without_mask_precondition_is_caught() -> None:
    from eqsat.rules.gather import a as la
    from eqsat.rules.gather import axis, idx, lay, op, t, ty, tys

    bad = interpreter_rule(
        "gather.no_mask_check", "indirect global gather that ignores the mask", "none",
        [rule(eq(t).to(Tile.gather(Tile.load(op, la, tys), idx, axis, lay, ty)), name="gather.no_mask_check")
         .then(union(t).with_(Tile.gather_global(op, idx, axis, lay, ty)))],
        lambda seed: _gather_instance(seed, global_src=True))
    failure = _catch(bad)
    assert "gather.no_mask_check" in failure and "mask depends on axis" in failure


def test_non_bijective_swizzle_is_caught() -> None:
    from eqsat.rules.swizzle import enc, op, s_, t

    broken = "#ttg.shared_linear<{offset = [[0, 1], [0, 1]]}, alignment = 16>"
    bad = interpreter_rule(
        "swizzle.collapsing", "re-encode every allocation with a map that sends two offsets to one element",
        "none",
        [rule(eq(s_).to(Smem.alloc(op, t, enc)), name="swizzle.collapsing")
         .then(union(s_).with_(Smem.alloc(op, t, SharedEnc(broken))))],
        lambda seed: _alloc_instance(seed * 3))
    assert "collapsing" in _catch(bad, 4)
    assert prove_encoding(broken, (2, 2)) is not None


def test_fold_that_forgets_the_first_layout_is_caught() -> None:
    from eqsat.rules.convert import a, b, c, t, ty, x

    bad = interpreter_rule(
        "convert.bad_fold", "fold keeping the middle layout as source", "none",
        [rule(eq(t).to(x.convert(a, b, ty).convert(b, c, ty)), name="convert.bad_fold")
         .then(union(t).with_(x.convert(b, c, ty)))],
        _fold_instance)
    assert "bad_fold" in _catch(bad, 4)


def test_staging_protocol_without_wait_is_caught() -> None:
    def check(seed: int) -> None:
        events = [e for e in protocol("async_copy", 2 + seed % 3, 5) if e.kind != "wait"]
        check_protocol(events, 2 + seed % 3)

    bad = Rule("staging.no_wait", "staging", "async copy whose lowering forgets async_wait", "none",
               "typestate", check)
    assert "a wait is missing" in _catch(bad, 2)
