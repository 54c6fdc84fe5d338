"""IR editing helpers shared by the lowerings of plan choices: copying a module, finding the op behind a dm
op id, building ops that print in Triton's own custom syntax, retyping values, and removing dead ops.

New ops get a syntax skeleton (`eqsat.ir.syntax`) written from a small template, so they print exactly as
Triton prints them and their printed types stay linked to their values:

    %N     operand N              $oN    the type of operand N          $rN   the type of result N
    @key   the attribute `key` as `{key = value}` (several: `@a,b`)     anything else: literal text
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import NoneAttr, TensorType
from xdsl.ir import Attribute, Block, Operation, OpResult, SSAValue

from eqsat.errors import EqsatError
from eqsat.ir.attributes import MemDescType
from eqsat.ir.dialects import TYPED_OPS, OpaqueOp, op_name_of, syntax_of
from eqsat.ir.parser import TTModule, parse_ttgir
from eqsat.ir.printer import format_type, print_ttgir
from eqsat.ir.syntax import AttrDict, Lit, Syntax, TypeRef, Use


class LoweringError(EqsatError):
    """A plan choice that cannot be applied to the kernel (illegal or not supported), with the reason;
    `choice` is the plan's Choice that failed (set by eqsat.lowering.apply)."""

    choice: Any = None


def fail(kernel: str, op_id: int | None, op: Operation | None, reason: str) -> LoweringError:
    where = f"op {op_id}" if op_id is not None else "op"
    if op is not None:
        where += f" ({op_name_of(op)})"
    return LoweringError(f"cannot lower {where}: {reason}", kernel)


def copy_module(module: TTModule) -> TTModule:
    """An independent copy of a parsed module (printed and parsed again: identical text)."""
    return parse_ttgir(print_ttgir(module), module.filename)


_TOKEN = re.compile(r"(\s*)(%\d+|\$[or]\d+|@[\w.,]+|[^\s%$@]+)")


def syntax_from(name: str, template: str) -> Syntax:
    """The skeleton of an op spelled by `template` (see the module doc)."""
    pieces = []
    for m in _TOKEN.finditer(template):
        ws, tok = m.group(1), m.group(2)
        if tok.startswith("%"):
            pieces.append(Use(ws, int(tok[1:])))
        elif tok.startswith("$"):
            kind = "operand" if tok[1] == "o" else "result"
            pieces.append(TypeRef(ws, kind, int(tok[2:])))
        elif tok.startswith("@"):
            pieces.append(AttrDict(ws, tok[1:].split(","), {}, {}))
        else:
            pieces.append(Lit(ws, tok))
    if pieces and not pieces[0].ws:
        pieces[0].ws = " "
    return Syntax(name, pieces)


def new_op(name: str, operands: Sequence[SSAValue], result_types: Sequence[Attribute], template: str,
           attributes: dict[str, Attribute] | None = None) -> Operation:
    """A new op `name` that prints as `name <template>`; typed if eqsat models it, opaque otherwise."""
    attrs = dict(attributes or {})
    cls = TYPED_OPS.get(name)
    if cls is None:
        op: Operation = OpaqueOp.build_opaque(name, list(operands), list(result_types), [], attrs)
    else:
        op = cls.create(operands=list(operands), result_types=list(result_types), attributes=attrs)
    op.syntax = syntax_from(name, template)
    return op


def relink_literal_types(op: Operation) -> None:
    """Link the types the parser kept as literal text (`arith.cmpi`'s operand type, a `local_load` with a
    token) to the operand or result whose current type they spell, so they follow a retype. Call it
    before changing types; it does not change what the op prints now."""
    syntax = syntax_of(op)
    if syntax is None:
        return
    for i, piece in enumerate(syntax.pieces):
        if not isinstance(piece, TypeRef) or piece.kind != "literal":
            continue
        for kind, values in (("operand", op.operands), ("result", op.results)):
            index = next((k for k, v in enumerate(values) if v.type == piece.literal), None)
            if index is not None:
                syntax.pieces[i] = TypeRef(piece.ws, kind, index, 0, piece.literal)
                break


def clone_op(op: Operation, operands: Sequence[SSAValue] | None = None,
             result_types: Sequence[Attribute] | None = None) -> Operation:
    """A copy of a region-free op (same syntax, attributes, properties) with new operands/result types."""
    if op.regions:
        raise ValueError(f"clone_op: {op_name_of(op)} has regions")
    relink_literal_types(op)
    new = op.clone()
    if operands is not None:
        new.operands = list(operands)
    if result_types is not None:
        for r, t in zip(new.results, result_types, strict=True):
            r._type = t
    syntax = syntax_of(op)
    if syntax is not None:
        new.syntax = syntax
    if isinstance(op, OpaqueOp):
        new.op_name = op.op_name
    return new


def with_encoding(t: Attribute, encoding: Attribute) -> Attribute:
    """The same tensor or memdesc type with another encoding."""
    if isinstance(t, TensorType):
        return TensorType(t.element_type, t.get_shape(), encoding)
    if isinstance(t, MemDescType):
        return MemDescType(t.shape, t.element_type, encoding, t.memory_space, t.is_mutable,
                           t.alloc_shape if t.alloc_shape_data.data else None)
    raise TypeError(f"{t} has no encoding")


def encoding_of(t: Attribute) -> Attribute | None:
    if isinstance(t, TensorType):
        return None if isinstance(t.encoding, NoneAttr) else t.encoding
    if isinstance(t, MemDescType):
        return t.encoding
    return None


def retype(value: SSAValue, t: Attribute) -> None:
    value._type = t


def insert_before(anchor: Operation, *ops: Operation) -> None:
    block = anchor.parent_block()
    assert block is not None
    for op in ops:
        block.insert_op_before(op, anchor)


def insert_after(anchor: Operation, *ops: Operation) -> None:
    block = anchor.parent_block()
    assert block is not None
    for op in reversed(ops):
        block.insert_op_after(op, anchor)


def replace_uses(old: SSAValue, new: SSAValue, keep: Operation | None = None) -> None:
    """Every use of `old` reads `new` instead (except uses by `keep`)."""
    for use in list(old.uses):
        if use.operation is not keep:
            use.operation.operands[use.index] = new


_PURE = {"tt.splat", "tt.make_range", "tt.expand_dims", "tt.broadcast", "tt.addptr", "ttg.convert_layout",
         "tt.load", "amdg.buffer_load", "arith.constant", "tt.gather", "ttg.local_alloc", "ttg.local_load",
         "tt.trans", "tt.reshape", "tt.ptr_to_int", "tt.int_to_ptr"}


def is_pure(op: Operation) -> bool:
    name = op_name_of(op)
    if name == "ttg.local_alloc" and not op.operands:
        return False  # a mutable buffer is written by others
    return name in _PURE or (name.startswith(("arith.", "math.")) and not op.regions)


def erase_dead(op: Operation) -> None:
    """Erase `op` if it is pure and unused, then its operands' producers that became dead."""
    if op.parent_block() is None or not is_pure(op) or any(r.uses for r in op.results):
        return
    producers = [v.op for v in op.operands if isinstance(v, OpResult)]
    op.detach()
    op.erase()
    for p in producers:
        erase_dead(p)


def block_of(op: Operation) -> Block:
    block = op.parent_block()
    assert block is not None
    return block


def tensor_type(t: Attribute) -> TensorType | None:
    return t if isinstance(t, TensorType) else None


def type_text(t: Attribute) -> str:
    return format_type(t)
