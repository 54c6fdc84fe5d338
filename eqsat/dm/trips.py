"""How often an op runs per program: loop trip counts and branch conditions from the launch's values.

For a dm op inside loops, `trip_report` evaluates the bounds of every enclosing `scf.for` (outermost
first; an innermost `scf.while`, such as a binary search over loaded sequence starts, is run) with
`eqsat.dm.guard.MaskEvaluator` on up to `MAX_PROGRAMS` programs of the launch grid (evenly spaced, the
last included): the scalar arguments of the manifest's launch table, the program ids, and, when a bound is
read from an argument tensor (`cu_seqlens[pid + 1] - cu_seqlens[pid]`, `seq_lens[pid]`), the launch's
tensor values (`eqsat.ingest.launch.launch_tensors`). Inner bounds may depend on outer induction
variables: an inner loop is counted at up to `MAX_SAMPLES` sampled values of the outer one.

    trips per program = mean over programs of  sum over the iterations of the nest (exact, or sampled)

Programs that an early return keeps from the loop are left out of the mean (the cost model multiplies
by the fraction that reach it). The result is `{"value": t, "assumed": false, "from": "launch"}`; when
a bound cannot be evaluated (an `scf.while`, a runtime argument the launch lacks, loaded data it does
not give) it is `{"assumed": true, "reason": ..., "runtime_args": [...]}` and the cost model falls back
to its assumed count and says so.

`executed_fraction` does the same for the branch conditions an op runs under (`eqsat.dm.cfg`): the
fraction of programs for which all of them hold (an early `return` of empty sequences), or None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from xdsl.ir import Operation

from eqsat.dm.cfg import Condition
from eqsat.dm.guard import MaskEvaluator, Unknown, _programs
from eqsat.ir.dialects.base import op_name_of

MAX_PROGRAMS = 64
MAX_SAMPLES = 16


def enclosing_loops(op: Operation) -> list[Operation]:
    """The `scf.for` / `scf.while` ops around `op`, outermost first."""
    out = []
    parent = op.parent_op()
    while parent is not None:
        if op_name_of(parent) in ("scf.for", "scf.while"):
            out.append(parent)
        parent = parent.parent_op()
    return out[::-1]


def _sampled_programs(grid: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    progs = _programs(grid)
    if len(progs) <= MAX_PROGRAMS:
        return progs
    picks = np.linspace(0, len(progs) - 1, MAX_PROGRAMS).round().astype(int)
    return [progs[i] for i in sorted(set(picks.tolist()))]


def _count(loops: Sequence[Operation], i: int, make, env: dict) -> float:
    loop = loops[i]
    ev = make(env)
    if op_name_of(loop) == "scf.while":  # run it (a binary search): only as the innermost loop
        if i != len(loops) - 1:
            raise Unknown("a loop inside an scf.while")
        return float(ev.run_while(loop)[0])
    lb, ub, step = (int(ev.value(v)) for v in loop.operands[:3])
    n = len(range(lb, ub, step)) if step > 0 else 0
    if i == len(loops) - 1 or n == 0:
        return float(n)
    values = range(lb, ub, step)
    picks = sorted(set(np.linspace(0, n - 1, min(n, MAX_SAMPLES)).round().astype(int).tolist()))
    iv = loop.regions[0].blocks[0].args[0]
    total = sum(_count(loops, i + 1, make, {**env, iv: values[k]}) for k in picks)
    return total * n / len(picks)


class LaunchValues:
    """The launch's scalar arguments, grid and, built on demand one argument at a time, its tensors as
    flat arrays (`tensor_source(names)` -> {name: array} for the names it can build)."""

    def __init__(self, args: Mapping[str, int], grid: tuple[int, int, int], tensor_source=None):
        self.args = dict(args)
        self.grid = grid
        self._tensor_source = tensor_source
        self._tensors: dict[str, np.ndarray] = {}
        self._tried: set[str] = set()
        self.tensor_error: str | None = None

    def tensors(self, names: set[str] | frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
        """The tensors built so far, after building those of `names` it can."""
        want = set(names) - self._tried
        if want and self._tensor_source is not None:
            self._tried |= want
            try:
                self._tensors.update(self._tensor_source(want) or {})
            except Exception as e:  # noqa: BLE001 - a launch whose tensors cannot be built: assumed
                self.tensor_error = f"{type(e).__name__}: {e}"
        return self._tensors

    def renamed(self, alias: Mapping[str, str]) -> LaunchValues:
        """The same launch with its values also under other names (`alias`: SSA name -> parameter name,
        for function arguments Triton named after a later variable, `hi = n`); tensors stay shared."""
        args = {**self.args, **{a: self.args[p] for a, p in alias.items() if p in self.args}}
        back: dict[str, list[str]] = {}
        for a, p in alias.items():
            back.setdefault(p, []).append(a)

        def source(names: set[str]) -> dict[str, np.ndarray]:
            got = self.tensors({alias.get(n, n) for n in names})
            return {**got, **{a: got[p] for p, al in back.items() if p in got for a in al}}

        return LaunchValues(args, self.grid, source if self._tensor_source is not None else None)

    def evaluate(self, fn):
        """`fn(tensors)` with the tensors built so far (None: scalars only), building each argument
        tensor a load turns out to read, then again."""
        for _ in range(16):
            have = self.tensors()
            try:
                return fn(dict(have) or None)
            except Unknown as e:
                if e.tensor is None or e.tensor in have or e.tensor in self._tried:
                    raise
                self.tensors({e.tensor})
                if e.tensor not in self._tensors:
                    raise
        raise Unknown("too many argument tensors read")


def _reached(conditions: Sequence[Condition], ev: MaskEvaluator) -> bool:
    """Whether the program passes every condition (True when they cannot be evaluated)."""
    try:
        return all(bool(np.all(ev.value(c.value))) == c.taken for c in conditions)
    except Unknown:
        return True


def trip_report(op: Operation, launch: LaunchValues | None,
                conditions: Sequence[Condition] = ()) -> dict[str, object] | None:
    """Trips per program of `op`'s loop nest (None outside loops); see the module docstring. With the
    branch `conditions` of the outermost loop (an early return before it), the mean is over the programs
    that reach the loop: the cost model multiplies it by the fraction that do (`executed_fraction`)."""
    loops = enclosing_loops(op)
    if not loops:
        return None
    if launch is None:
        return {"assumed": True, "reason": "no launch values", "runtime_args": []}

    def run(tensors):
        total = 0.0
        reached = 0
        for pid in _sampled_programs(launch.grid):
            def make(env, pid=pid):
                return MaskEvaluator(launch.args, pid, launch.grid, env, tensors)
            if conditions and not _reached(conditions, make({})):
                continue
            reached += 1
            total += _count(loops, 0, make, {})
        return total / reached if reached else 0.0

    try:
        value = launch.evaluate(run)
    except Unknown as e:
        return {"assumed": True, "reason": str(e), "runtime_args": sorted(e.runtime_args)}
    except (ValueError, TypeError, OverflowError, IndexError, KeyError) as e:
        return {"assumed": True, "reason": f"loop bounds not evaluated: {e}", "runtime_args": []}
    return {"value": round(value, 6), "assumed": False, "from": "launch"}


def executed_fraction(conditions: Sequence[Condition], launch: LaunchValues | None) -> float | None:
    """The fraction of the launch's programs for which every condition holds, or None (not evaluable:
    a condition inside a loop, on a runtime value the launch lacks)."""
    if not conditions or launch is None:
        return None

    def run(tensors):
        progs = _sampled_programs(launch.grid)
        hits = 0
        for pid in progs:
            ev = MaskEvaluator(launch.args, pid, launch.grid, tensors=tensors)
            if all(bool(np.all(ev.value(c.value))) == c.taken for c in conditions):
                hits += 1
        return hits / len(progs)

    try:
        return round(launch.evaluate(run), 6)
    except (Unknown, ValueError, TypeError, OverflowError, IndexError, KeyError):
        return None


__all__ = ["LaunchValues", "enclosing_loops", "executed_fraction", "trip_report"]
