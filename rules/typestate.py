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

`check_ttgir_pipeline(ttgir, trips)` (below) checks the same typestate on the TTGIR a pipeline really is
(Triton's cp.async and TMA pipelines, fences included) by running its scalar arithmetic concretely.
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


# ------------------------------------------------------------------------- pipelines in real TTGIR
"""The same typestate, checked on the TTGIR Triton's pipeliner (or any lowering) really emitted.

`check_ttgir_pipeline(ttgir, trips)` runs the function's scalar arithmetic (constants, addi/subi/muli/
divsi/remsi, cmpi, select, xori/andi/ori, extsi/extui/trunci) concretely, loops `trips` times (a loop
bound that is a kernel argument is set so that it does), follows every shared-memory slot (a buffer and
the index `ttg.memdesc_index` picks; views through memdesc_trans/subslice/reinterpret are the same slot)
and every mbarrier slot, and raises `TypestateError` at the first event that breaks the protocol:

    ttg.async_copy_global_to_local v      issue: v empty -> in flight, into the open group
    amdg.buffer_load_to_local ... into v  (CDNA3) the same
    ttg.async_commit_group                close the group
    ttg.async_wait {num = n}              all but the n most recent groups land: their slots -> full
    ttng.init_barrier b                   b usable
    ttng.barrier_expect b, bytes, p       (p true) b expects `bytes` more
    ttng.async_tma_copy_global_to_local   (p true) issue into v, its bytes counted on b
    ttng.wait_barrier b, phase [, p]      b armed, its copies' bytes == expected, phase == completions % 2:
                                          every slot b covers -> full
    ttg.local_alloc %t / ttg.local_store  generic-proxy write: the slot is written and unfenced
    ttng.fence_async_shared               every unfenced slot fenced
    ttg.local_load v                      v full, written or read -> read (a synchronous read; a slot
                                          read to the end may be rewritten, and read again: subslices)
    ttng.warp_group_dot a, b (async)      a, b full or written-and-fenced -> reading, until retired
    ttng.warp_group_dot_wait {pendings=n} all but the n most recent dots retire: their slots -> read
    ttng.async_tma_copy_local_to_global v v written and fenced (the TMA unit reads through the async proxy)
    ttg.local_dealloc buf                 no slot of buf in flight

Writing a slot that is in flight, full (landed, never read) or being read by an unretired dot is reuse
before consumption; reading one in flight is a missing wait; an async-proxy read of a generic write
without a fence is a missing fence; a slot still in flight at the end is a copy nobody waited for.
CTA barriers between generic shared-memory accesses are Triton's membar pass's job (it runs after the
TTGIR) and are not required here.
"""

import re as _re  # noqa: E402

_LOC = _re.compile(r"\s+loc\((?:[^()]|\([^()]*\))*\)")


@dataclass
class _Line:
    text: str
    results: list[str]
    op: str
    regions: list[list[_Line]]


def _parse_lines(ttgir: str) -> list[_Line]:
    """The first tt.func's body as a tree of lines (regions of scf.for/if/while and reductions nested)."""
    raw = [_LOC.sub("", ln).rstrip() for ln in ttgir.split("\n")]
    start = next((i for i, ln in enumerate(raw) if _re.search(r"\btt\.func\b", ln)), None)
    if start is None:
        return []
    pos = start + 1

    def block() -> list[_Line]:
        nonlocal pos
        out: list[_Line] = []
        while pos < len(raw):
            ln = raw[pos].strip()
            pos += 1
            if not ln or ln.startswith("^"):
                continue
            if ln.startswith("}"):
                if ln.endswith("{"):  # `} else {`, `} do {`: the next region of the same op
                    pos -= 1
                    raw[pos] = "{"
                return out
            if ln == "{":
                continue
            m = _re.match(r"((?:%[\w$.#-]+(?::\d+)?(?:, )?)+) = ([\w.]+)", ln)
            results, op = ([], "")
            if m:
                results = [r.split(":")[0] for r in _re.findall(r"%[\w$.#-]+(?::\d+)?", m.group(1))]
                op = m.group(2)
            else:
                op = ln.split(" ", 1)[0].strip('"')
            node = _Line(ln, results, op, [])
            if ln.endswith("{"):
                node.regions.append(block())
                while pos < len(raw) and raw[pos].strip() == "{":
                    pos += 1
                    node.regions.append(block())
            out.append(node)
        return out

    return block()


_MEMDESC = _re.compile(r"!ttg\.memdesc<([\dx]+)x(\w+?),")


def _bytes_of(text: str) -> int:
    m = _MEMDESC.search(text.split("->")[-1]) or _MEMDESC.search(text)
    if m is None:
        return 0
    dims = [int(d) for d in m.group(1).split("x")]
    bits = int(_re.sub(r"\D", "", m.group(2)) or 32)
    n = 1
    for d in dims:
        n *= d
    return n * max(8, bits) // 8


class _PipelineState:
    def __init__(self, trips: int) -> None:
        self.trips = trips
        self.env: dict[str, int | None] = {}
        self.view: dict[str, tuple[str, int | None]] = {}
        self.slot: dict[tuple[str, int | None], str] = {}
        self.unfenced: set[tuple[str, int | None]] = set()
        self.groups: list[list[tuple[str, int | None]]] = []
        self.open: list[tuple[str, int | None]] = []
        self.bars: dict[tuple[str, int | None], dict[str, object]] = {}
        self.dots: list[list[tuple[str, int | None]]] = []
        self.k = 0

    def fail(self, line: _Line, why: str) -> None:
        raise TypestateError(f"event {self.k} `{line.text[:140]}`: {why}")

    # ----------------------------------------------------------------------------------- values
    def val(self, name: str) -> int | None:
        return self.env.get(name.split("#")[0] if name not in self.env else name)

    def operands(self, text: str) -> list[str]:
        rhs = text.split(" = ", 1)[1] if " = " in text.split("{")[0] else text
        rhs = rhs.split(" : ")[0]
        return _re.findall(r"%[\w$.#-]+", rhs)

    def slot_of(self, name: str) -> tuple[str, int | None] | None:
        return self.view.get(name)

    def state(self, s: tuple[str, int | None]) -> str:
        return self.slot.get(s, "empty")

    # ----------------------------------------------------------------------------------- ops
    def run(self, lines: list[_Line]) -> None:
        for line in lines:
            self.k += 1
            self.step(line)

    def step(self, line: _Line) -> None:  # noqa: C901 - one branch per op kind
        op, t, res = line.op, line.text, line.results
        ops = self.operands(t)
        if op == "arith.constant":
            m = _re.search(r"arith\.constant (true|false|-?\d+)(?: : i\d+)?$", t)
            if m and res:
                v = m.group(1)
                self.env[res[0]] = 1 if v == "true" else 0 if v == "false" else int(v)
        elif op in _ARITH and res and len(ops) >= 1 and "tensor<" not in t.split(" : ")[-1]:
            self.env[res[0]] = _ARITH[op](t, [self.val(o) for o in ops])
        elif op == "scf.for":
            self.loop(line, ops)
        elif op == "scf.if":
            cond = self.val(ops[0]) if ops else None
            arms = line.regions
            if cond is None or cond:
                self.run(arms[0] if arms else [])
            elif len(arms) > 1:
                self.run(arms[1])
        elif op == "ttg.local_alloc":
            if "-> !ttg.memdesc" in t and "(tensor<" in t and res:  # initialised from registers
                s = (res[0], None)
                self.view[res[0]] = s
                self.slot[s] = "written"
                self.unfenced.add(s)
            elif res:
                self.view[res[0]] = (res[0], None)
        elif op == "ttg.memdesc_index" and res:
            base = self.slot_of(ops[0])
            self.view[res[0]] = ((base[0] if base else ops[0]), self.val(ops[1]) if len(ops) > 1 else None)
        elif op in ("ttg.memdesc_trans", "ttg.memdesc_subslice", "ttg.memdesc_reinterpret",
                    "ttg.memdesc_reshape") and res:
            if ops and ops[0] in self.view:
                self.view[res[0]] = self.view[ops[0]]
        elif op == "ttg.local_store":
            s = self.slot_of(ops[1])
            if s is not None:
                self.write(line, s, "written")
                self.unfenced.add(s)
        elif op == "ttg.async_copy_global_to_local":
            s = self.slot_of(ops[1])
            if s is not None:
                self.write(line, s, "in flight")
                self.open.append(s)
        elif op == "amdg.buffer_load_to_local":  # CDNA3 direct-to-LDS: `... into %dst`
            m = _re.search(r" into (%[\w$.#-]+)", t)
            s = self.slot_of(m.group(1)) if m else None
            if s is not None:
                self.write(line, s, "in flight")
                self.open.append(s)
        elif op == "ttg.async_commit_group":
            self.groups.append(self.open)
            self.open = []
        elif op == "ttg.async_wait":
            m = _re.search(r"num = (\d+)", t)
            n = int(m.group(1)) if m else 0
            cut = max(0, len(self.groups) - n)
            landed, self.groups = self.groups[:cut], self.groups[cut:]
            for g in landed:
                for s in g:
                    if self.state(s) == "in flight":
                        self.slot[s] = "full"
        elif op == "ttng.init_barrier":
            b = self.slot_of(ops[0])
            if b is not None:
                self.bars[b] = {"expect": 0, "issued": 0, "done": 0, "slots": []}
        elif op == "ttng.barrier_expect":
            b, pred = self.slot_of(ops[0]), self.val(ops[1]) if len(ops) > 1 else 1
            m = _re.search(r", (\d+), ", t)
            if pred != 0 and b is not None:
                bar = self.barrier(line, b)
                bar["expect"] = int(bar["expect"]) + (int(m.group(1)) if m else 0)
        elif op == "ttng.async_tma_copy_global_to_local":
            tail = t.split("]", 1)[1] if "]" in t else t
            names = _re.findall(r"%[\w$.#-]+", tail.split(" : ")[0])
            if len(names) >= 2:
                s, b = self.slot_of(names[0]), self.slot_of(names[1])
                pred = self.val(names[2]) if len(names) > 2 else 1
                if pred != 0 and s is not None and b is not None:
                    bar = self.barrier(line, b)
                    if int(bar["expect"]) == 0:
                        self.fail(line, f"TMA copy on barrier {b} that expects no bytes (expect missing)")
                    self.write(line, s, "in flight")
                    bar["issued"] = int(bar["issued"]) + _bytes_of(t)
                    bar["slots"].append(s)  # type: ignore[union-attr]
        elif op == "ttng.wait_barrier":
            b = self.slot_of(ops[0])
            phase = self.val(ops[1]) if len(ops) > 1 else None
            pred = self.val(ops[2]) if len(ops) > 2 else 1
            if pred != 0 and b is not None:
                self.wait_barrier(line, b, phase)
        elif op == "ttng.fence_async_shared":
            self.unfenced.clear()
        elif op == "ttg.local_load":
            s = self.slot_of(ops[0])
            if s is not None:
                self.read(line, s)
                if s[1] is not None or self.state(s) != "written":
                    self.slot[s] = "read"
        elif op in ("ttng.warp_group_dot", "tt.dot", "ttng.tc_gen5_mma"):
            slots = [s for o in ops[:2] if (s := self.slot_of(o)) is not None]
            for s in slots:
                self.read(line, s, async_proxy=op != "tt.dot")
            if "isAsync = true" in t:
                for s in slots:
                    if s[1] is not None or self.state(s) != "written":
                        self.slot[s] = "reading"
                self.dots.append(slots)
            else:
                for s in slots:
                    if s[1] is not None:
                        self.slot[s] = "read"
        elif op == "ttng.warp_group_dot_wait":
            m = _re.search(r"pendings = (\d+)", t)
            n = int(m.group(1)) if m else 0
            cut = max(0, len(self.dots) - n)
            retired, self.dots = self.dots[:cut], self.dots[cut:]
            still = {s for d in self.dots for s in d}
            for d in retired:
                for s in d:
                    if s not in still and self.state(s) == "reading":
                        self.slot[s] = "read"
        elif op == "ttng.async_tma_copy_local_to_global":
            names = _re.findall(r"%[\w$.#-]+", (t.split("]", 1)[1] if "]" in t else t).split(" : ")[0])
            s = self.slot_of(names[0]) if names else None
            if s is not None and s in self.unfenced:
                self.fail(line, f"TMA store reads slot {s} written through the generic proxy with no "
                                f"fence_async_shared (missing fence)")
        elif op == "ttg.local_dealloc":
            s = self.slot_of(ops[0]) if ops else None
            if s is not None:
                busy = [k for k, v in self.slot.items() if k[0] == s[0] and v == "in flight"]
                if busy:
                    self.fail(line, f"buffer freed while slot {busy[0]} is in flight")
        else:
            for region in line.regions:  # other ops with bodies (reductions): nothing moves inside
                del region

    def barrier(self, line: _Line, b: tuple[str, int | None]) -> dict[str, object]:
        if b not in self.bars:
            self.fail(line, f"mbarrier {b} used before ttng.init_barrier")
        return self.bars[b]

    def wait_barrier(self, line: _Line, b: tuple[str, int | None], phase: int | None) -> None:
        bar = self.barrier(line, b)
        if int(bar["expect"]) == 0:
            self.fail(line, f"waits on barrier {b}, which no expect armed (a wait nobody signals)")
        if int(bar["issued"]) != int(bar["expect"]):
            self.fail(line, f"barrier {b} expects {bar['expect']} bytes, its copies bring {bar['issued']}")
        if phase is not None and phase != int(bar["done"]) % 2:
            self.fail(line, f"waits for phase {phase} of barrier {b}, whose next phase is "
                            f"{int(bar['done']) % 2}")
        for s in bar["slots"]:  # type: ignore[union-attr]
            if self.state(s) == "in flight":
                self.slot[s] = "full"
        bar.update(expect=0, issued=0, done=int(bar["done"]) + 1, slots=[])

    def write(self, line: _Line, s: tuple[str, int | None], new: str) -> None:
        st = self.state(s)
        if st not in ("empty", "read") and not (st == "written" and new == "written"):
            why = {"in flight": "a copy into it is still in flight", "full": "it landed and was never read",
                   "reading": "an unretired dot still reads it"}.get(st, st)
            self.fail(line, f"writes slot {s} while {why}: reuse before consumption")
        self.slot[s] = new

    def read(self, line: _Line, s: tuple[str, int | None], async_proxy: bool = False) -> None:
        st = self.state(s)
        if st == "in flight":
            self.fail(line, f"reads slot {s} while its copy is in flight: a wait is missing")
        if st == "empty" and s[1] is not None:
            self.fail(line, f"reads slot {s}, which nothing filled")
        if async_proxy and s in self.unfenced:
            self.fail(line, f"wgmma reads slot {s} written through the generic proxy with no "
                            f"fence_async_shared (missing fence)")

    def loop(self, line: _Line, ops: list[str]) -> None:
        m = _re.search(r"scf\.for %([\w$.-]+) = (%[\w$.-]+) to (%[\w$.-]+) step (%[\w$.-]+)"
                       r"(?: iter_args\((.*?)\))?", line.text)
        if m is None:
            self.run(line.regions[0] if line.regions else [])
            return
        iv, lb, ub, st, iters = m.groups()
        pairs = _re.findall(r"(%[\w$.-]+) = (%[\w$.#-]+)", iters or "")
        lo, step = self.val(lb) or 0, self.val(st) or 1
        hi = self.val(ub)
        if hi is None:
            hi = lo + self.trips * step
            self.env[ub] = hi
        body = line.regions[0] if line.regions else []
        carried = [(a, self.val(v), self.view.get(v)) for a, v in pairs]
        i = lo
        while (i < hi if step > 0 else i > hi):
            self.env["%" + iv] = i
            for a, v, vw in carried:
                self.env[a] = v
                if vw is not None:
                    self.view[a] = vw
                else:
                    self.view.pop(a, None)
            self.run([ln for ln in body if ln.op != "scf.yield"])
            y = next((ln for ln in body if ln.op == "scf.yield"), None)
            if y is not None:
                ys = _re.findall(r"%[\w$.#-]+", y.text.split(" : ")[0])
                carried = [(a, self.val(v), self.view.get(v)) for (a, _), v in zip(pairs, ys, strict=False)]
            i += step
        for k, (_a, v, vw) in enumerate(carried):
            if line.results:
                name = f"{line.results[0]}#{k}" if len(carried) > 1 else line.results[0]
                self.env[name] = v
                if vw is not None:
                    self.view[name] = vw

    def finish(self) -> None:
        left = [s for s, v in self.slot.items() if v == "in flight"]
        if left:
            raise TypestateError(f"end: slot {left[0]} still in flight: a copy nobody waited for")


def _cmp(t: str, a: list[int | None]) -> int | None:
    if len(a) < 2 or a[0] is None or a[1] is None:
        return None
    pred = t.split("arith.cmpi ", 1)[1].split(",", 1)[0]
    x, y = a[0], a[1]
    return int({"slt": x < y, "sle": x <= y, "sgt": x > y, "sge": x >= y, "eq": x == y, "ne": x != y,
                "ult": x < y, "ule": x <= y, "ugt": x > y, "uge": x >= y}[pred])


def _bin(f):  # noqa: ANN001, ANN202
    def g(_t: str, a: list[int | None]) -> int | None:
        if len(a) < 2 or a[0] is None or a[1] is None:
            return None
        try:
            return f(a[0], a[1])
        except ZeroDivisionError:
            return None
    return g


def _select(_t: str, a: list[int | None]) -> int | None:
    if len(a) < 3 or a[0] is None:
        return None
    return a[1] if a[0] else a[2]


def _cast(_t: str, a: list[int | None]) -> int | None:
    return a[0] if a else None


_ARITH = {"arith.addi": _bin(lambda x, y: x + y), "arith.subi": _bin(lambda x, y: x - y),
          "arith.muli": _bin(lambda x, y: x * y), "arith.divsi": _bin(lambda x, y: int(x / y)),
          "arith.remsi": _bin(lambda x, y: x - int(x / y) * y), "arith.xori": _bin(lambda x, y: x ^ y),
          "arith.andi": _bin(lambda x, y: x & y), "arith.ori": _bin(lambda x, y: x | y),
          "arith.maxsi": _bin(max), "arith.minsi": _bin(min), "arith.cmpi": _cmp, "arith.select": _select,
          "arith.extsi": _cast, "arith.extui": _cast, "arith.trunci": _cast, "arith.index_cast": _cast}


def _walk(lines: list[_Line]) -> list[_Line]:
    out = []
    for ln in lines:
        out.append(ln)
        for r in ln.regions:
            out += _walk(r)
    return out


def _bind_loop_bounds(state: _PipelineState, lines: list[_Line], trips: int) -> None:
    """Before running: a loop bound that is a kernel argument gets the value that makes its loop run
    `trips` times, so that predicates computed before the loop (the prologue's) see it too."""
    every = _walk(lines)
    defined = {r for ln in every for r in ln.results}
    for ln in every:
        if ln.op == "arith.constant":
            state.step(ln)
    for ln in every:
        m = _re.search(r"scf\.for %[\w$.-]+ = (%[\w$.-]+) to (%[\w$.-]+) step (%[\w$.-]+)", ln.text)
        if m and m.group(2) not in defined and m.group(2) not in state.env:
            lo, step = state.val(m.group(1)), state.val(m.group(3))
            if lo is not None and step:
                state.env[m.group(2)] = lo + trips * step


def check_ttgir_pipeline(ttgir: str, trips: int = 6) -> dict[str, int]:
    """Raise TypestateError at the first protocol violation of the TTGIR's shared-memory traffic run for
    `trips` trips of each loop; return counts of what was checked (copies, waits, dots, fences)."""
    state = _PipelineState(trips)
    lines = _parse_lines(ttgir)
    _bind_loop_bounds(state, lines, trips)
    state.run(lines)
    state.finish()
    text = _LOC.sub("", ttgir)
    return {"async_copies": text.count("ttg.async_copy_global_to_local"),
            "tma_copies": text.count("ttng.async_tma_copy_global_to_local"),
            "waits": text.count("ttg.async_wait") + text.count("ttng.wait_barrier"),
            "fences": text.count("ttng.fence_async_shared"), "events": state.k}
