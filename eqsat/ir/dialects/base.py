"""Common machinery of the Triton mirror dialects: how a parsed op's operands map to named roles.

Every op eqsat parses, known or not, arrives as a list of operand uses in textual order plus a syntax
skeleton (`eqsat.ir.syntax`). A typed op (`tt.load`, `ttg.local_alloc`, ...) declares its operands with
IRDL (`operand_def`, `opt_operand_def`, `var_operand_def`) in Triton's ODS order; `assign_roles` decides
which use is which from the syntax: operands preceded by a keyword (`mask %m`), operands inside square
brackets (`%desc[%i, %j]`), and the rest by position. Ops eqsat does not model become `OpaqueOp`, with all
operands in one variadic list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import DenseArrayBase, i32
from xdsl.ir import Attribute, Operation, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    OptOperandDef,
    VarOperandDef,
    irdl_op_definition,
    var_operand_def,
    var_region_def,
    var_result_def,
)

from eqsat.ir.syntax import Syntax


class OperandUse:
    """An operand as it appeared in the text: the value, the keyword before it, and bracket nesting."""

    __slots__ = ("value", "keyword", "bracketed")

    def __init__(self, value: SSAValue, keyword: str | None, bracketed: bool):
        self.value = value
        self.keyword = keyword
        self.bracketed = bracketed


class TritonOp(IRDLOperation):
    """Base of eqsat's typed Triton ops.

    Class data a subclass may set:
      KEYWORDS: operand role -> the keyword that introduces it in the custom syntax (`mask`, `other`).
      BRACKETED: the variadic role whose operands stand inside `[...]` (`coords`, `offsets`).
      TEXT_ORDER: the order in which positional roles appear in the text, where it is not ODS order.
      COLON_TYPES: roles whose types follow the `:` in order ("result" for the result), where Triton's
        format is not one type per operand.
      EXPECT: role -> kind of type it must have ("ptr": pointer or tensor of pointers, "memdesc",
        "tensor", "desc"); checked by `verify_`, so a wrong role assignment cannot pass silently.
      RESULT: how to derive result types when Triton does not print them: "pointee" (tt.load),
        "token" (async ops), "same:<role>" (the type of that operand, tt.addptr), or None (printed).
    """

    KEYWORDS: ClassVar[dict[str, str]] = {}
    BRACKETED: ClassVar[str | None] = None
    COLON_TYPES: ClassVar[tuple[str, ...] | None] = None
    TEXT_ORDER: ClassVar[tuple[str, ...] | None] = None
    EXPECT: ClassVar[dict[str, str]] = {}
    RESULT: ClassVar[str | None] = None

    def verify_(self) -> None:
        from xdsl.utils.exceptions import VerifyException

        for role, kind in self.EXPECT.items():
            value = getattr(self, role)
            if value is None:
                continue
            if not _has_kind(value.type, kind):
                raise VerifyException(f"{self.name}: operand '{role}' must be {kind}, got {value.type}")

    @classmethod
    def operand_roles(cls) -> list[tuple[str, str]]:
        """(role, 'one'|'opt'|'var') in ODS order."""
        roles = []
        for name, d in cls.get_irdl_definition().operands:
            kind = "var" if isinstance(d, VarOperandDef) and not isinstance(d, OptOperandDef) else (
                "opt" if isinstance(d, OptOperandDef) else "one")
            roles.append((name, kind))
        return roles

    @classmethod
    def assign_roles(cls, uses: Sequence[OperandUse]) -> dict[str, list[int]]:
        """Map each role to the indices (into `uses`) of its operands; raise ValueError if impossible."""
        roles = cls.operand_roles()
        taken: dict[str, list[int]] = {name: [] for name, _ in roles}
        positional: list[int] = []
        keyword_roles = {kw: role for role, kw in cls.KEYWORDS.items()}
        for i, use in enumerate(uses):
            if use.bracketed and cls.BRACKETED is not None:
                taken[cls.BRACKETED].append(i)
            elif use.keyword is not None and use.keyword in keyword_roles:
                taken[keyword_roles[use.keyword]].append(i)
            else:
                positional.append(i)
        free = [(n, k) for n, k in roles if n not in cls.KEYWORDS and n != cls.BRACKETED]
        if cls.TEXT_ORDER is not None:
            free.sort(key=lambda nk: cls.TEXT_ORDER.index(nk[0]))
        need_after = [sum(1 for _, k in free[j + 1:] if k == "one") for j in range(len(free))]
        pos = 0
        for j, (name, kind) in enumerate(free):
            left = len(positional) - pos
            if kind == "one":
                if left < 1:
                    raise ValueError(f"missing operand '{name}'")
                taken[name].append(positional[pos])
                pos += 1
            elif kind == "opt":
                if left > need_after[j]:
                    taken[name].append(positional[pos])
                    pos += 1
            else:
                n = left - need_after[j]
                taken[name].extend(positional[pos:pos + n])
                pos += n
        if pos != len(positional):
            raise ValueError(f"{len(positional) - pos} operand(s) more than {cls.name} takes")
        for name, kind in roles:
            if kind == "one" and len(taken[name]) != 1:
                raise ValueError(f"operand '{name}' expected once, found {len(taken[name])} times")
            if kind == "opt" and len(taken[name]) > 1:
                raise ValueError(f"optional operand '{name}' given {len(taken[name])} times")
        return taken

    @classmethod
    def build(cls, uses: Sequence[OperandUse], result_types: Sequence[Attribute],
              regions: Sequence[Region], attributes: dict[str, Attribute]) -> tuple[Operation, list[int]]:
        """Create the op; also return the permutation: new operand index -> index in `uses`."""
        taken = cls.assign_roles(uses)
        order: list[int] = []
        sizes: list[int] = []
        for name, _ in cls.operand_roles():
            order.extend(taken[name])
            sizes.append(len(taken[name]))
        properties: dict[str, Attribute] = {}
        if any(isinstance(o, AttrSizedOperandSegments) for o in cls.get_irdl_definition().options):
            properties[AttrSizedOperandSegments.attribute_name] = DenseArrayBase.from_list(i32, sizes)
        op = cls.create(operands=[uses[i].value for i in order], result_types=list(result_types),
                        regions=list(regions), attributes=dict(attributes), properties=properties)
        return op, order


def _has_kind(t: Attribute, kind: str) -> bool:
    from xdsl.dialects.builtin import TensorType

    from eqsat.ir.attributes import MemDescType, OpaqueType, PtrType, TensorDescType

    if isinstance(t, OpaqueType):
        return True  # a type eqsat keeps verbatim cannot be checked
    if kind == "ptr":
        return isinstance(t, PtrType) or (isinstance(t, TensorType) and isinstance(t.element_type, PtrType))
    if kind == "memdesc":
        return isinstance(t, MemDescType)
    if kind == "tensor":
        return isinstance(t, TensorType)
    if kind == "desc":
        return isinstance(t, TensorDescType) or isinstance(t, PtrType)
    raise ValueError(kind)


@irdl_op_definition
class OpaqueOp(IRDLOperation):
    """Any op eqsat does not model (arith, scf, math, ...): kept whole, printed back verbatim."""

    name = "eqsat.opaque"
    args = var_operand_def()
    outs = var_result_def()
    bodies = var_region_def()

    @classmethod
    def build_opaque(cls, op_name: str, operands: Sequence[SSAValue], result_types: Sequence[Attribute],
                     regions: Sequence[Region], attributes: dict[str, Attribute]) -> OpaqueOp:
        op = cls.create(operands=list(operands), result_types=list(result_types), regions=list(regions),
                        attributes=dict(attributes))
        op.op_name = op_name
        return op


def op_name_of(op: Operation) -> str:
    """The Triton/MLIR name of an op, also for opaque ones (their name lives beside the op)."""
    return getattr(op, "op_name", op.name)


def syntax_of(op: Operation) -> Syntax | None:
    """The parsed skeleton of an op (set by the parser on each op as `op.syntax`), or None if built."""
    return getattr(op, "syntax", None)
