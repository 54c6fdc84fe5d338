"""The control flow of a `tt.func` as the lift needs it: blocks in program order, branch edges with the
values they pass, and the condition under which each op runs.

Triton keeps structured control flow (`scf.for`, `scf.if`, `scf.while`) as regions, except an early
`return` inside an `if`, which becomes unstructured: `cf.cond_br %c, ^bb1, ^bb2` with `^bb1` returning.
The body of a function is then several blocks. This module reads the edges off the ops' text (the parser
keeps `cf.br`/`cf.cond_br` as opaque ops whose successors are `^label` pieces):

    successors(op)        [(block, [values passed to its arguments])] of a `cf.br` / `cf.cond_br`
    incoming(block)       [(branch op, [values passed])] of the branches into a block
    conditions(op)        the branch conditions on every path to `op`, outermost first:
                          [Condition(value, taken, origin)] -- `cf.cond_br` true/false edges (of the
                          blocks that dominate the op's block; a block reached from several edges keeps
                          what all of them agree on) and the `scf.if` regions around the op (then: the
                          condition true, else: false)

Program order is the textual order: blocks in region order, ops of a block in order, the regions of a
control-flow op entered where the op stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Block, Operation, SSAValue

from eqsat.ir.dialects.base import op_name_of, syntax_of
from eqsat.ir.syntax import Lit, Use

BRANCHES = {"cf.br", "cf.cond_br"}


@dataclass(frozen=True)
class Condition:
    """`value` (an i1) was `taken` (true or false) on the way to the op; `origin` is the branching op."""

    value: SSAValue
    taken: bool
    origin: Operation


def _labels(region_blocks: list[Block]) -> dict[str, Block]:
    out = {}
    for b in region_blocks:
        label = getattr(b, "eqsat_label", None)
        if label:
            out[label] = b
    return out


def successors(op: Operation) -> list[tuple[Block, list[SSAValue]]]:
    """The successor blocks of a `cf.br` / `cf.cond_br` in the order written, each with the operands it
    passes to the block's arguments. Empty for any other op (or a label the region does not define)."""
    if op_name_of(op) not in BRANCHES or op.parent_block() is None:
        return []
    region = op.parent_block().parent
    if region is None:
        return []
    labels = _labels(list(region.blocks))
    syntax = syntax_of(op)
    out: list[tuple[Block, list[SSAValue]]] = []
    current: list[SSAValue] | None = None
    depth = 0
    for p in syntax.pieces if syntax else ():
        if isinstance(p, Lit) and p.text.startswith("^") and depth == 0:
            block = labels.get(p.text)
            if block is None:
                return []
            current = []
            out.append((block, current))
        elif isinstance(p, Lit) and p.text == "(":
            depth += 1
        elif isinstance(p, Lit) and p.text == ")":
            depth -= 1
        elif isinstance(p, Use) and depth > 0 and current is not None:
            current.append(op.operands[p.operand])
    return out


def incoming(block: Block) -> list[tuple[Operation, list[SSAValue]]]:
    """The branches into `block` from the other blocks of its region, with the values they pass."""
    region = block.parent
    if region is None:
        return []
    out = []
    for b in region.blocks:
        last = b.last_op
        if last is None:
            continue
        for succ, values in successors(last):
            if succ is block:
                out.append((last, values))
    return out


def _edge_condition(branch: Operation, target: Block) -> list[Condition]:
    if op_name_of(branch) != "cf.cond_br":
        return []
    succ = [b for b, _ in successors(branch)]
    if len(succ) != 2 or succ[0] is succ[1] or not branch.operands:
        return []
    return [Condition(branch.operands[0], succ[0] is target, branch)]


class ControlFlow:
    """Path conditions of the blocks of one function body (computed once, in block order)."""

    def __init__(self, func: Operation):
        self.func = func
        self.block_conditions: dict[Block, list[Condition]] = {}
        if not func.regions or not func.regions[0].blocks:
            return
        blocks = list(func.regions[0].blocks)
        self.block_conditions[blocks[0]] = []
        for b in blocks[1:]:
            paths = []
            for branch, _ in incoming(b):
                src = branch.parent_block()
                if src is None or src not in self.block_conditions:
                    continue  # a back edge (never emitted by Triton) adds nothing
                paths.append(self.block_conditions[src] + _edge_condition(branch, b))
            self.block_conditions[b] = _common(paths)

    def conditions(self, op: Operation) -> list[Condition]:
        """Every condition known to hold when `op` runs, outermost first."""
        inner: list[Condition] = []
        child: Operation = op
        parent = op.parent_op()
        while parent is not None and parent is not self.func:
            if op_name_of(parent) == "scf.if" and parent.operands:
                region = child.parent_region()
                taken = region is parent.regions[0]
                inner.append(Condition(parent.operands[0], taken, parent))
            child = parent
            parent = parent.parent_op()
        block = child.parent_block()
        outer = self.block_conditions.get(block, []) if block is not None else []
        return outer + inner[::-1]


def _common(paths: list[list[Condition]]) -> list[Condition]:
    """The conditions every path agrees on (a common prefix of the dominating branches)."""
    if not paths:
        return []
    out = []
    for conds in zip(*paths, strict=False):
        if all(c == conds[0] for c in conds):
            out.append(conds[0])
        else:
            break
    return out


__all__ = ["BRANCHES", "Condition", "ControlFlow", "incoming", "successors"]
