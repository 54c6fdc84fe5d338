"""Print a `TTModule` back to TTGIR text in Triton's own syntax.

Ops print from their skeleton (`eqsat.ir.syntax`): literal pieces as they were, operands by their
current value names, linked types from the current types of the values they type, attribute dicts from
the op's current attributes (a value that did not change keeps its original spelling). Encodings that
had an alias (`#blocked1`) print as that alias; new ones print inline. Ops built by passes without a
skeleton print in MLIR's generic form, which Triton parses too.
"""

from __future__ import annotations

import contextvars
import itertools
import re

from xdsl.dialects.builtin import (
    ArrayAttr,
    IntegerAttr,
    IntegerType,
    NoneAttr,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from eqsat.ir.attributes import (
    SCALAR_NAMES,
    AsyncTokenType,
    EncodingAttr,
    MemDescType,
    OpaqueAttr,
    OpaqueType,
    PtrType,
    SharedMemorySpaceAttr,
    TensorDescType,
)
from eqsat.ir.dialects.base import op_name_of, syntax_of
from eqsat.ir.parser import AliasEntry, TTModule, VerbatimEntry
from eqsat.ir.syntax import AttrDict, AttrRef, Def, Lit, Loc, RegionRef, TypeRef, Use

_alias_names: contextvars.ContextVar[dict[Attribute, str]] = contextvars.ContextVar("alias_names")


def format_type(t: Attribute) -> str:
    if isinstance(t, TensorType):
        dims = "".join(f"{d}x" for d in t.get_shape())
        enc = "" if isinstance(t.encoding, NoneAttr) else ", " + format_attribute(t.encoding)
        return f"tensor<{dims}{format_type(t.element_type)}{enc}>"
    if isinstance(t, IntegerType):
        return f"i{t.width.data}"
    if t in SCALAR_NAMES:
        return SCALAR_NAMES[t]
    if isinstance(t, PtrType):
        space = "" if t.space == 1 else f", {t.space}"
        return f"!tt.ptr<{format_type(t.pointee)}{space}>"
    if isinstance(t, MemDescType):
        dims = "".join(f"{d}x" for d in t.shape)
        text = f"!ttg.memdesc<{dims}{format_type(t.element_type)}, {format_attribute(t.encoding)}, "
        text += format_attribute(t.memory_space)
        if t.is_mutable:
            text += ", mutable"
        if t.alloc_shape_data.data:
            text += ", " + t.alloc_shape_data.data
        return text + ">"
    if isinstance(t, TensorDescType):
        return f"!tt.tensordesc<{format_type(t.block_type)}>"
    if isinstance(t, AsyncTokenType):
        return "!ttg.async.token"
    if isinstance(t, OpaqueType):
        return t.text.data
    alias = _alias_names.get({}).get(t)
    if alias:
        return alias
    raise TypeError(f"eqsat cannot print type {t}")


def format_attribute(a: Attribute) -> str:
    alias = _alias_names.get({}).get(a)
    if alias is not None:
        return alias
    if isinstance(a, EncodingAttr):
        return "#" + a.MNEMONIC + a.body_text()
    if isinstance(a, SharedMemorySpaceAttr):
        return "#ttg.shared_memory"
    if isinstance(a, OpaqueAttr):
        return a.text.data
    if isinstance(a, IntegerAttr):
        t = a.type
        if isinstance(t, IntegerType) and t.width.data == 1:
            return "true" if a.value.data else "false"
        return f"{a.value.data} : {format_type(t)}"
    if isinstance(a, StringAttr):
        return '"' + a.data.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(a, ArrayAttr):
        return "[" + ", ".join(format_attribute(x) for x in a.data) + "]"
    if isinstance(a, UnitAttr):
        return "unit"
    return format_type(a)


class _Namer:
    """Names of values: the source's names where known, fresh unique names otherwise. Names are scoped
    like MLIR's: a name is taken while a value of that name is visible (defined in this region or an
    enclosing one), so sibling regions may reuse one (two `scf.for %t0` loops in a row)."""

    def __init__(self) -> None:
        self.fresh = itertools.count()
        self.names: dict[SSAValue, str] = {}
        self.stack: list[set[str]] = [set()]
        self.region_scopes: dict[int, set[str]] = {}

    @property
    def used(self) -> set[str]:
        return set().union(*self.stack)

    def scope_of(self, region: Region) -> set[str]:
        return self.region_scopes.setdefault(id(region), set())

    def enter(self, region: Region) -> None:
        self.stack.append(self.scope_of(region))

    def leave(self) -> None:
        self.stack.pop()

    def _taken(self, base: str, extra: set[str] | None) -> bool:
        return any(base in scope for scope in self.stack) or (extra is not None and base in extra)

    def name(self, v: SSAValue, scope: set[str] | None = None) -> str:
        if v in self.names:
            return self.names[v]
        name = getattr(v, "eqsat_name", None)
        if name is None or (self._taken(name.partition("#")[0], scope) and "#" not in name):
            name = self.new(scope)
        self.names[v] = name
        (scope if scope is not None else self.stack[-1]).add(name.partition("#")[0])
        return name

    def new(self, scope: set[str] | None = None) -> str:
        while True:
            name = f"%eqsat{next(self.fresh)}"
            if not self._taken(name, scope):
                return name

    def result_groups(self, op: Operation) -> list[str]:
        syntax = syntax_of(op)
        groups = syntax.result_groups if syntax else []
        if groups and sum(c for _, c in groups) == len(op.results) and all(
                getattr(r, "eqsat_name", None) for r in op.results):
            out, k = [], 0
            for gname, count in groups:
                for j in range(count):
                    self.names[op.results[k + j]] = gname if count == 1 else f"{gname}#{j}"
                self.stack[-1].add(gname)
                out.append(gname if count == 1 else f"{gname}:{count}")
                k += count
            return out
        return [self.name(r) for r in op.results]


class TTGIRPrinter:
    """Prints a module. `canonical=True` prints every typed encoding inline, every parsed attribute from
    its typed value and no locations: text that differs from Triton's but must compile to the same code.
    (Alias definitions are still printed, since text kept verbatim may refer to them.)"""

    def __init__(self, module: TTModule, canonical: bool = False):
        self.module = module
        self.canonical = canonical
        self.namer = _Namer()
        self.lines: list[str] = []

    def print_module(self) -> str:
        names = {} if self.canonical else {attr: name for name, attr in self.module.aliases.items()}
        token = _alias_names.set(names)
        try:
            for entry in self.module.entries:
                if self.canonical and isinstance(entry, VerbatimEntry):
                    continue  # location aliases (alias definitions stay: verbatim text may use them)
                if isinstance(entry, AliasEntry):
                    # the definition itself prints inline; nested aliases (slice parents) stay aliases
                    inner = {a: n for a, n in names.items() if a != entry.attr}
                    tok = _alias_names.set(inner)
                    try:
                        value = (format_attribute(entry.attr) if entry.name.startswith("#")
                                 else format_type(entry.attr))
                    finally:
                        _alias_names.reset(tok)
                    self.lines.append(f"{entry.name} = {value}")
                elif isinstance(entry, VerbatimEntry):
                    self.lines.append(entry.text)
                else:
                    self.print_op(entry, 0)
        finally:
            _alias_names.reset(token)
        return "\n".join(self.lines) + "\n"

    def print_op(self, op: Operation, indent: int) -> None:
        syntax = syntax_of(op)
        parts: list[str] = [" " * indent]
        results = self.namer.result_groups(op)
        if results:
            parts.append(", ".join(results) + " = ")
        if syntax is None:
            self.print_generic(op, indent, parts)
            return
        parts.append(syntax.name_text)
        for piece in syntax.pieces:
            parts.append(piece.ws)
            if isinstance(piece, Lit):
                parts.append(piece.text)
            elif isinstance(piece, Use):
                parts.append(self.namer.name(op.operands[piece.operand]))
            elif isinstance(piece, Def):
                region = op.regions[piece.region]
                parts.append(self.namer.name(region.blocks[0].args[piece.arg], self.namer.scope_of(region)))
            elif isinstance(piece, TypeRef):
                parts.append(format_type(self.linked_type(op, piece)))
            elif isinstance(piece, AttrRef):
                parts.append(format_attribute(piece.attr))
            elif isinstance(piece, AttrDict):
                parts.append(self.format_attr_dict(op, piece, self.canonical))
            elif isinstance(piece, Loc):
                if self.canonical:
                    parts.pop()  # its whitespace
                else:
                    parts.append(piece.text)
            elif isinstance(piece, RegionRef):
                parts.append("{")
                self.lines.append("".join(parts))
                self.print_region(op.regions[piece.region], indent + 2)
                parts = [" " * indent + "}"]
        self.lines.append("".join(parts))

    @staticmethod
    def linked_type(op: Operation, piece: TypeRef) -> Attribute:
        if piece.kind == "result":
            return op.results[piece.index].type
        if piece.kind == "operand":
            return op.operands[piece.index].type
        if piece.kind == "arg":
            return op.regions[piece.region].blocks[0].args[piece.index].type
        assert piece.literal is not None
        return piece.literal

    @staticmethod
    def format_attr_dict(op: Operation, piece: AttrDict, canonical: bool = False) -> str:
        items = []
        for name in piece.keys:
            if name not in op.attributes:
                continue
            key = name if re.fullmatch(r"[A-Za-z_][\w$.]*", name) else f'"{name}"'
            value = op.attributes[name]
            if isinstance(value, UnitAttr):
                items.append(key)
            elif value == piece.parsed.get(name) and (not canonical or isinstance(value, OpaqueAttr)):
                items.append(f"{key} = {piece.texts[name]}")
            else:
                items.append(f"{key} = {format_attribute(value)}")
        body = ", ".join(items)
        if piece.props:
            return "<{" + body + "}>"
        return "{" + body + "}"

    def print_region(self, region: Region, indent: int) -> None:
        self.namer.enter(region)
        try:
            for bi, block in enumerate(region.blocks):
                label = getattr(block, "eqsat_label", None)
                if label is None and bi > 0:
                    label = f"^bb{bi}"
                if label is not None:
                    self.print_block_label(block, label, indent - 2)
                for op in block.ops:
                    self.print_op(op, indent)
        finally:
            self.namer.leave()

    def print_block_label(self, block: Block, label: str, indent: int) -> None:
        locs = getattr(block, "eqsat_arg_locs", None)
        if locs is None or self.canonical:
            locs = [""] * len(block.args)
        args = [f"{self.namer.name(a)}: {format_type(a.type)}{loc}"
                for a, loc in zip(block.args, locs, strict=False)]
        comment = getattr(block, "eqsat_label_comment", None)
        tail = f"  {comment}" if comment and not self.canonical else ""
        self.lines.append(" " * indent + label + (f"({', '.join(args)})" if args else "") + ":" + tail)

    def print_generic(self, op: Operation, indent: int, parts: list[str]) -> None:
        """MLIR's generic form, for ops created by passes without a skeleton."""
        parts.append(f'"{op_name_of(op)}"(' + ", ".join(self.namer.name(o) for o in op.operands) + ")")
        attrs = {k: v for k, v in op.attributes.items()}
        if op.regions:
            parts.append(" (")
            for ri, region in enumerate(op.regions):
                parts.append("{")
                self.lines.append("".join(parts))
                self.print_region(region, indent + 2)
                parts = [" " * indent + "}" + (", " if ri + 1 < len(op.regions) else "")]
            parts.append(")")
        if attrs:
            parts.append(" {" + ", ".join(
                k if isinstance(v, UnitAttr) else f"{k} = {format_attribute(v)}" for k, v in attrs.items()
            ) + "}")
        parts.append(" : (" + ", ".join(format_type(o.type) for o in op.operands) + ") -> ")
        res = [format_type(r.type) for r in op.results]
        parts.append(res[0] if len(res) == 1 else "(" + ", ".join(res) + ")")
        self.lines.append("".join(parts))


def print_ttgir(module: TTModule, canonical: bool = False) -> str:
    """The module as TTGIR text that Triton parses and compiles (see `TTGIRPrinter` for `canonical`)."""
    return TTGIRPrinter(module, canonical).print_module()


__all__ = ["format_attribute", "format_type", "print_ttgir"]
