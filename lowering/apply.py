"""Apply a plan (eqsat/plan.py) to a parsed TTGIR module: `lower(module, plan, kernel) -> TTModule`.

The module is copied, the dm op ids of the plan are resolved to the Triton ops they were lifted from
(`eqsat.dm.lift.source_ops`, on the unedited copy, so ids keep meaning what `eqsat ingest --format json`
said), and each choice is applied in plan order by the lowering of its kind (one module each in
eqsat.lowering). A choice that cannot be applied raises `LoweringError` naming the kernel, the op and the
reason; nothing is skipped silently. An identity plan gives back text identical to the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eqsat.lowering.convert_path import apply_convert_path
from eqsat.lowering.edits import LoweringError, copy_module, fail
from eqsat.lowering.gather import apply_gather_strategy
from eqsat.lowering.load_layout import apply_load_layout
from eqsat.lowering.shared_encoding import apply_shared_encoding
from eqsat.lowering.staging import apply_staging
from xdsl.ir import Operation

from eqsat.dm.lift import functions, source_ops
from eqsat.errors import EqsatError
from eqsat.ir.dialects.tt import FuncOp
from eqsat.ir.parser import TTModule
from eqsat.plan import Choice, Plan

Lowering = Callable[[Operation, dict[str, Any], Callable[[str], LoweringError]], None]

LOWERINGS: dict[str, Lowering] = {
    "shared_encoding": apply_shared_encoding,
    "convert_path": apply_convert_path,
    "load_layout": apply_load_layout,
    "gather_strategy": apply_gather_strategy,
    "staging": apply_staging,
}


def _function(module: TTModule, kernel: str) -> Operation:
    funcs = functions(module)
    if not funcs:
        raise LoweringError("no tt.func in module", kernel)
    named = [f for f in funcs if isinstance(f, FuncOp) and f.sym_name == kernel]
    return named[0] if named else funcs[0]


def lower(module: TTModule, plan: Plan, kernel: str | None = None) -> TTModule:
    """A copy of `module` with every choice of `plan` applied. `kernel` names the kernel in errors (and
    picks its `tt.func` when the module has several; by default the plan's kernel, else the first)."""
    name = kernel or plan.kernel
    out = copy_module(module)
    if plan.is_identity:
        return out
    ops = source_ops(out, _function(out, name))
    for choice in plan.choices:
        _apply(choice, ops, name)
    return out


def _apply(choice: Choice, ops: list[Operation], kernel: str) -> None:
    if not 0 <= choice.op < len(ops):
        raise LoweringError(f"plan names dm op {choice.op}, the kernel has ops 0..{len(ops) - 1}", kernel)
    op = ops[choice.op]
    if op.parent_block() is None:
        if choice.kind == "convert_path" and choice.params.get("path") == "drop":
            # a load re-issued in the consumer's layout already removed this identity conversion
            return
        raise fail(kernel, choice.op, op, "an earlier choice of the plan removed this op")

    def failure(reason: str) -> LoweringError:
        return fail(kernel, choice.op, op, f"{choice.kind} {choice.params}: {reason}")

    try:
        LOWERINGS[choice.kind](op, choice.params, failure)
    except LoweringError:
        raise
    except EqsatError as e:  # bad encoding text in the plan
        raise failure(e.message) from None
