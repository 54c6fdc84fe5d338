"""Apply a plan (eqsat/plan.py) to a parsed TTGIR module: `lower(module, plan, kernel) -> TTModule`.

The module is copied, the dm op ids of the plan are resolved to the Triton ops they were lifted from
(`eqsat.dm.lift.source_ops`, on the unedited copy, so ids keep meaning what `eqsat ingest --format json`
said), and each choice is applied by the lowering of its kind (one module each in eqsat.lowering).

Choices are resolved against ops, not positions. After the ids are resolved once, a choice reaches its op
however earlier choices edited the module:

    re-issued    a lowering that replaces its op by a new one (a load issued in another layout, a gather
                 rebuilt in another layout, a gather become an indirect load) returns the new op; a later
                 choice on the old op is applied to the new one
    subsumed     an op that an earlier choice removed from the program (a conversion that became an
                 identity once its source was re-issued in the destination layout; a tile load whose only
                 reader became an indirect load) has nothing left to apply a choice to: the program no
                 longer does that movement at all. The choice is recorded in the `LoweringReport` with the
                 choice that removed the op, and not applied
    applied      otherwise the lowering of its kind edits the op, or raises `LoweringError` (with the
                 choice in `.choice`) naming the kernel, the op and the reason; nothing fails silently

The order is canonical, not the plan's list order: by dm op id (program order, so a value's producer is
edited before its consumers, which is how the e-graph composed the choices: a conversion's path is chosen
for the value its re-issued source makes), then by kind (`KIND_ORDER`). The same choices in any order give
the same text. An identity plan gives back text identical to the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eqsat.lowering.convert_path import apply_convert_path
from eqsat.lowering.edits import LoweringError, copy_module, fail
from eqsat.lowering.gather import apply_gather_strategy
from eqsat.lowering.load_layout import apply_load_layout
from eqsat.lowering.shared_encoding import apply_shared_encoding
from eqsat.lowering.specialize import apply_specialize
from eqsat.lowering.staging import apply_staging
from xdsl.ir import Operation

from eqsat.dm.lift import functions, source_ops
from eqsat.errors import EqsatError
from eqsat.ir.dialects import op_name_of
from eqsat.ir.dialects.tt import FuncOp
from eqsat.ir.parser import TTModule
from eqsat.plan import Choice, Plan

# (op, params, failure) -> the op that now stands for `op` when the lowering replaced it, else None
Lowering = Callable[[Operation, dict[str, Any], Callable[[str], LoweringError]], Operation | None]

LOWERINGS: dict[str, Lowering] = {
    "shared_encoding": apply_shared_encoding,
    "convert_path": apply_convert_path,
    "load_layout": apply_load_layout,
    "gather_strategy": apply_gather_strategy,
    "staging": apply_staging,
    "transport": lambda op, params, fail: (_ for _ in ()).throw(fail(
        "a transport choice is a recompile of the kernel's TTIR (eqsat.lowering.transport_variants): the "
        "plan folder's optimized.ttgir is its result")),
    "specialize": apply_specialize,
}
# within one op: re-issue the op first, then how its value moves on
KIND_ORDER = ("load_layout", "specialize", "gather_strategy", "staging", "shared_encoding", "convert_path")


@dataclass
class Subsumed:
    choice: Choice
    reason: str  # which earlier choice removed the op

    def to_json(self) -> dict[str, Any]:
        return {"op": self.choice.op, "kind": self.choice.kind, "params": self.choice.params,
                "reason": self.reason}


@dataclass
class LoweringReport:
    """What `lower` did with each choice: applied (in this order) or subsumed by an earlier one."""

    applied: list[Choice] = field(default_factory=list)
    subsumed: list[Subsumed] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"applied": len(self.applied), "subsumed": [s.to_json() for s in self.subsumed]}


def canonical_order(choices: list[Choice]) -> list[Choice]:
    """The order choices are applied in: program order of their ops, then `KIND_ORDER`."""
    return sorted(choices, key=lambda c: (c.op, KIND_ORDER.index(c.kind) if c.kind in KIND_ORDER else 99))


def _function(module: TTModule, kernel: str) -> Operation:
    funcs = functions(module)
    if not funcs:
        raise LoweringError("no tt.func in module", kernel)
    named = [f for f in funcs if isinstance(f, FuncOp) and f.sym_name == kernel]
    return named[0] if named else funcs[0]


def lower(module: TTModule, plan: Plan, kernel: str | None = None,
          report: LoweringReport | None = None) -> TTModule:
    """A copy of `module` with every choice of `plan` applied. `kernel` names the kernel in errors (and
    picks its `tt.func` when the module has several; by default the plan's kernel, else the first).
    `report`, when given, is filled with what happened to each choice."""
    return lower_with_report(module, plan, kernel, report)[0]


def lower_with_report(module: TTModule, plan: Plan, kernel: str | None = None,
                      report: LoweringReport | None = None) -> tuple[TTModule, LoweringReport]:
    name = kernel or plan.kernel
    report = report if report is not None else LoweringReport()
    out = copy_module(module)
    if plan.is_identity:
        return out, report
    seen = set()
    for c in plan.choices:
        if (c.op, c.kind) in seen:
            raise LoweringError(f"plan has two {c.kind} choices for op {c.op}", name)
        seen.add((c.op, c.kind))
    _Resolver(source_ops(out, _function(out, name)), name, report).apply_all(canonical_order(plan.choices))
    return out, report


class _Resolver:
    """dm op id -> the op that stands for it now, through every re-issue and removal so far."""

    def __init__(self, ops: list[Operation], kernel: str, report: LoweringReport) -> None:
        self.ops = ops
        self.kernel = kernel
        self.report = report
        self.current: dict[int, Operation] = dict(enumerate(ops))
        self.gone: dict[int, str] = {}  # dm op id -> the choice that removed its op

    def apply_all(self, choices: list[Choice]) -> None:
        for choice in choices:
            self.apply(choice)

    def apply(self, choice: Choice) -> None:
        if not 0 <= choice.op < len(self.ops):
            raise LoweringError(f"plan names dm op {choice.op}, the kernel has ops 0..{len(self.ops) - 1}",
                                self.kernel)
        if choice.op in self.gone:
            self.report.subsumed.append(Subsumed(choice, self.gone[choice.op]))
            return
        op = self.current[choice.op]

        def failure(reason: str) -> LoweringError:
            e = fail(self.kernel, choice.op, op, f"{choice.kind} {choice.params}: {reason}")
            e.choice = choice
            return e

        try:
            new = LOWERINGS[choice.kind](op, choice.params, failure)
        except LoweringError as e:
            if getattr(e, "choice", None) is None:
                e.choice = choice
            raise
        except EqsatError as e:  # bad encoding text in the plan
            raise failure(e.message) from None
        if new is not None and new is not op:
            self.current[choice.op] = new
        self.report.applied.append(choice)
        self._removed_by(choice)

    def _removed_by(self, choice: Choice) -> None:
        """Mark every resolved op that `choice` took out of the program."""
        why = f"op {choice.op} {choice.kind} {choice.params} removed it"
        for i, op in self.current.items():
            if i not in self.gone and op.parent_block() is None:
                self.gone[i] = f"{why} ({op_name_of(op)} no longer in the program)"
