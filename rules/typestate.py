"""Typestate check of staging protocols: every shared buffer slot goes empty -> in flight -> full ->
consumed -> empty, and nothing else.

A staging plan (eqsat.plan `staging` choice: mode and stages) lowers to a sequence of events per loop
trip; `protocol(mode, stages, trips)` writes that sequence as the lowering emits it (Triton's software
pipeline: a prologue fills `stages - 1` slots, each iteration waits for its slot, consumes it, releases
it and refills the slot freed one iteration earlier). `check_protocol` runs the typestate machine and
raises `TypestateError` naming the first bad event:

    issue(b)      async copy / TMA / direct-to-LDS into slot b        requires b empty      -> in flight
    store(b)      synchronous load + local_store into b               requires b empty      -> written
    commit        close the open async group (cp.async / direct-to-LDS)
    wait(n)       async_wait: all but the n most recent committed groups have landed: their slots -> full
    expect(b)     mbarrier expect-tx for slot b (TMA), before issue(b)
    bar_wait(b)   mbarrier wait of slot b (TMA): an issued slot -> full
    barrier       CTA barrier: written slots -> full
    consume(b)    local_load / dot operand read                       requires b full       -> consumed
    release(b)    the readers are done with b                         requires b consumed   -> released
                  (released -> empty at the next synchronisation: barrier, wait or bar_wait, so other
                  warps have finished reading before the slot is written again)

At the end no slot may be in flight or written (a copy nobody waited for). A missing wait shows up as a
consume of an in-flight slot; reuse before consumption as an issue into a full, in-flight or just
released slot.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("sync", "async_copy", "tma", "direct_to_lds")


class TypestateError(AssertionError):
    """A protocol that breaks the buffer typestate (message: event index, event, slot state)."""


@dataclass(frozen=True)
class Event:
    kind: str
    slot: int = -1
    n: int = 0

    def __str__(self) -> str:
        if self.kind == "wait":
            return f"wait({self.n})"
        return self.kind if self.slot < 0 else f"{self.kind}({self.slot})"


def protocol(mode: str, stages: int, trips: int) -> list[Event]:
    """The events of staging `trips` loop iterations through `stages` slots in `mode`."""
    if mode not in MODES:
        raise ValueError(f"unknown staging mode '{mode}'")
    if mode == "sync":
        ev: list[Event] = []
        for _ in range(trips):
            ev += [Event("store", 0), Event("barrier"), Event("consume", 0), Event("release", 0),
                   Event("barrier")]
        return ev
    stages = max(1, stages)
    ev = []
    issued = 0

    def issue(i: int) -> None:
        nonlocal issued
        slot = i % stages
        if mode == "tma":
            ev.extend([Event("expect", slot), Event("issue", slot)])
        else:
            ev.extend([Event("issue", slot), Event("commit")])
        issued += 1

    for i in range(min(stages - 1, trips)):
        issue(i)
    for i in range(trips):
        if issued <= i:  # one stage: nothing was prefetched
            issue(i)
        if mode == "tma":
            ev.append(Event("bar_wait", i % stages))
        else:
            ev.append(Event("wait", n=issued - (i + 1)))
        ev += [Event("consume", i % stages), Event("release", i % stages)]
        if stages == 1:  # the next copy overwrites the slot just read: all warps must be done with it
            ev.append(Event("barrier"))
        if i + stages - 1 < trips and stages > 1:
            issue(i + stages - 1)
    return ev


def check_protocol(events: list[Event], stages: int) -> None:
    """Raise TypestateError at the first event that breaks the typestate of the `stages` slots."""
    state = ["empty"] * max(1, stages)
    groups: list[list[int]] = []
    open_group: list[int] = []
    expected: set[int] = set()
    armed: set[int] = set()  # TMA slots whose mbarrier expects the bytes of their copy

    def fail(k: int, e: Event, why: str) -> None:
        raise TypestateError(f"event {k} {e}: {why} (slots: {', '.join(state)})")

    for k, e in enumerate(events):
        if e.slot >= len(state):
            fail(k, e, f"slot {e.slot} beyond {len(state)} buffers")
        if e.kind == "issue":
            if state[e.slot] != "empty":
                fail(k, e, f"slot is {state[e.slot]}: reuse before consumption")
            if e.slot in expected:
                expected.discard(e.slot)
                armed.add(e.slot)
            state[e.slot] = "in flight"
            open_group.append(e.slot)
        elif e.kind == "store":
            if state[e.slot] != "empty":
                fail(k, e, f"slot is {state[e.slot]}: overwritten before consumption")
            state[e.slot] = "written"
        elif e.kind == "commit":
            groups.append(open_group)
            open_group = []
        elif e.kind == "wait":
            state = ["empty" if s == "released" else s for s in state]
            landed = groups[: max(0, len(groups) - e.n)]
            groups = groups[max(0, len(groups) - e.n):]
            for g in landed:
                for s in g:
                    if state[s] == "in flight":
                        state[s] = "full"
        elif e.kind == "expect":
            expected.add(e.slot)
        elif e.kind == "bar_wait":
            if state[e.slot] != "in flight":
                fail(k, e, f"waits on a slot that is {state[e.slot]}")
            if e.slot not in armed:
                fail(k, e, "the mbarrier was never told to expect the copy (expect missing)")
            armed.discard(e.slot)
            state = ["empty" if s == "released" else s for s in state]
            state[e.slot] = "full"
            open_group = [s for s in open_group if s != e.slot]
        elif e.kind == "barrier":
            state = ["full" if s == "written" else "empty" if s == "released" else s for s in state]
        elif e.kind == "consume":
            if state[e.slot] != "full":
                fail(k, e, f"reads a slot that is {state[e.slot]}: a wait is missing")
            state[e.slot] = "consumed"
        elif e.kind == "release":
            if state[e.slot] != "consumed":
                fail(k, e, f"releases a slot that is {state[e.slot]}")
            state[e.slot] = "released"
        else:
            fail(k, e, "unknown event")
    left = [i for i, s in enumerate(state) if s in ("in flight", "written")]
    if left:
        raise TypestateError(f"end: slots {left} still {state[left[0]]}: a copy nobody waited for")
