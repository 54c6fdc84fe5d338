"""Typestate of staging protocols: every generated protocol passes; broken ones (missing wait, missing
mbarrier expect, reuse before consumption, missing barrier, a copy nobody waits for) are rejected."""

from __future__ import annotations

import pytest
from eqsat.rules.typestate import MODES, Event, TypestateError, check_protocol, protocol


@pytest.mark.parametrize("mode", MODES)
def test_generated_protocols_pass(mode: str) -> None:
    for stages in range(1, 6):
        for trips in range(0, 10):
            check_protocol(protocol(mode, stages, trips), stages)


def _drop(events: list[Event], kind: str, which: int) -> list[Event]:
    hits = [i for i, e in enumerate(events) if e.kind == kind]
    return [e for i, e in enumerate(events) if i != hits[which]]


@pytest.mark.parametrize(("mode", "kind"), [("async_copy", "wait"), ("direct_to_lds", "wait"),
                                            ("tma", "bar_wait"), ("sync", "barrier")])
def test_missing_wait_is_rejected(mode: str, kind: str) -> None:
    events = protocol(mode, 3, 6)
    for which in range(sum(e.kind == kind for e in events) - (1 if mode == "sync" else 0)):
        with pytest.raises(TypestateError):
            check_protocol(_drop(events, kind, which), 3)


def test_missing_expect_is_rejected() -> None:
    with pytest.raises(TypestateError, match="expect"):
        check_protocol(_drop(protocol("tma", 2, 4), "expect", 1), 2)


def test_reuse_before_consumption_is_rejected() -> None:
    events = [Event("issue", 0), Event("commit"), Event("issue", 0), Event("commit"), Event("wait", n=0)]
    with pytest.raises(TypestateError, match="reuse before consumption"):
        check_protocol(events, 2)


def test_too_lax_wait_is_rejected() -> None:
    events = [Event("wait", n=e.n + 1) if e.kind == "wait" else e for e in protocol("async_copy", 3, 5)]
    with pytest.raises(TypestateError, match="a wait is missing"):
        check_protocol(events, 3)


def test_copy_nobody_waits_for_is_rejected() -> None:
    with pytest.raises(TypestateError, match="nobody waited"):
        check_protocol([Event("issue", 0), Event("commit")], 1)
