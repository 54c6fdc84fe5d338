"""Parse TTGIR/TTIR text, as Triton 3.6 prints it, into xDSL ops with typed encodings.

The parser works on MLIR's printed form: one op per line, regions opened by `{` at the end of a line and
closed by `}` at the start of one. Every op is split into pieces (`eqsat.ir.syntax`): operand uses become
xDSL operands, types and attributes are parsed into typed xDSL attributes (`eqsat.ir.attributes`), and
whatever eqsat does not model stays as its exact text. Ops named in `eqsat.ir.dialects.TYPED_OPS` become
typed ops with named operands; all others become `OpaqueOp`. Nothing is dropped or rejected except text
that is not MLIR at all, which raises `EqsatError` with file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from xdsl.dialects.builtin import (
    IntegerAttr,
    IntegerType,
    NoneAttr,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from eqsat.errors import EqsatError
from eqsat.ir.attributes import (
    ENCODING_CLASSES,
    SCALAR_TYPES,
    AsyncTokenType,
    MemDescType,
    OpaqueAttr,
    OpaqueType,
    PaddedSharedEncodingAttr,
    PtrType,
    SharedLinearEncodingAttr,
    SharedMemorySpaceAttr,
    TensorDescType,
)
from eqsat.ir.dialects import TYPED_OPS, OpaqueOp
from eqsat.ir.dialects.base import OperandUse
from eqsat.ir.syntax import AttrDict, AttrRef, Def, Lit, Loc, RegionRef, Syntax, TypeRef, Use

T = TypeVar("T")

_IDENT = re.compile(r"[A-Za-z_][\w$.\-]*")
_SSA = re.compile(r"%[\w$.\-]+(#\d+)?")
_ALIAS = re.compile(r"[#!][A-Za-z_][\w$.\-]*")
_NUMBER = re.compile(r"-?(0x[0-9A-Fa-f]+|\d+(\.\d*)?([eE][+-]?\d+)?)")
_INT_TYPE = re.compile(r"[su]?i\d+$")
_VERBATIM_KEYWORDS = {"dense", "array", "affine_map", "affine_set", "sparse", "dense_resource", "strided",
                      "distinct", "opaque"}
_TYPE_KEYWORDS_WITH_BODY = {"tensor", "vector", "memref", "complex", "tuple"}


@dataclass
class AliasEntry:
    name: str  # "#blocked"
    attr: Attribute


@dataclass
class VerbatimEntry:
    text: str  # a `#loc = loc(...)` line or a comment, printed back as is


@dataclass
class TTModule:
    """A parsed TTGIR file: top-level alias/location lines in order, and the module op."""

    entries: list[AliasEntry | VerbatimEntry | Operation]
    aliases: dict[str, Attribute]
    filename: str = "<input>"

    @property
    def module_op(self) -> Operation:
        return next(e for e in self.entries if isinstance(e, Operation))

    def walk(self):
        yield from self.module_op.walk()

    @property
    def attributes(self) -> dict[str, Attribute]:
        return self.module_op.attributes

    def int_attr(self, key: str, default: int | None = None) -> int | None:
        value = self.attributes.get(key)
        return value.value.data if isinstance(value, IntegerAttr) else default

    @property
    def num_warps(self) -> int:
        return self.int_attr("ttg.num-warps", 4)

    @property
    def threads_per_warp(self) -> int:
        return self.int_attr("ttg.threads-per-warp", 32)

    @property
    def num_ctas(self) -> int:
        return self.int_attr("ttg.num-ctas", 1)

    @property
    def triton_target(self) -> str | None:
        value = self.attributes.get("ttg.target")
        return value.data if isinstance(value, StringAttr) else None


@dataclass
class _PendingDef:
    name: str
    piece: Def
    type: Attribute | None = None
    type_piece: TypeRef | None = None
    by_equals: bool = False
    pos: int = 0


@dataclass
class _OpState:
    pieces: list = field(default_factory=list)
    uses: list[OperandUse] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    pending: list[_PendingDef] = field(default_factory=list)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    depth: int = 0
    bracket_depth: int = 0


class TTGIRParser:
    """Recursive-descent parser over the characters of one file."""

    def __init__(self, text: str, filename: str = "<input>"):
        self.s = text
        self.i = 0
        self.filename = filename
        self.aliases: dict[str, Attribute] = {}
        self.scopes: list[dict[str, SSAValue | list[SSAValue]]] = [{}]

    # ----------------------------------------------------------------- errors and low-level scanning
    def error(self, message: str, pos: int | None = None) -> EqsatError:
        pos = self.i if pos is None else pos
        line = self.s.count("\n", 0, pos) + 1
        col = pos - (self.s.rfind("\n", 0, pos) + 1) + 1
        return EqsatError(message, self.filename, line, col)

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.s[j] if j < len(self.s) else ""

    def startswith(self, prefix: str) -> bool:
        return self.s.startswith(prefix, self.i)

    def spaces(self) -> str:
        j = self.i
        while j < len(self.s) and self.s[j] in " \t":
            j += 1
        text, self.i = self.s[self.i:j], j
        return text

    def skip_blank(self) -> None:
        """Skip whitespace, newlines and `//` comments."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif self.startswith("//"):
                j = self.s.find("\n", self.i)
                self.i = len(self.s) if j < 0 else j
            else:
                break

    def expect(self, text: str) -> None:
        self.spaces()
        if not self.startswith(text):
            found = self.s[self.i:self.i + 12].split("\n")[0] or "end of file"
            raise self.error(f"expected '{text}', found '{found}'")
        self.i += len(text)

    def match(self, regex: re.Pattern) -> str | None:
        m = regex.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group(0)

    def require(self, regex: re.Pattern, what: str) -> str:
        """Match `regex` here or raise 'expected <what>'."""
        text = self.match(regex)
        if text is None:
            raise self.error(f"expected {what}")
        return text

    def delimited(self, open_ch: str, close_ch: str, item: Callable[[], T]) -> list[T]:
        """`open item, item, ... close`: the items, each parsed by `item`."""
        self.expect(open_ch)
        items: list[T] = []
        while True:
            self.spaces()
            if self.peek() == close_ch:
                self.i += 1
                return items
            if self.peek() == "":
                raise self.error(f"expected '{close_ch}'")
            items.append(item())
            self.spaces()
            if self.peek() == ",":
                self.i += 1

    def balanced(self, open_ch: str, close_ch: str) -> str:
        """Consume a balanced `open ... close` span (string-aware) and return it verbatim."""
        start = self.i
        if self.peek() != open_ch:
            raise self.error(f"expected '{open_ch}'")
        depth = 0
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == '"':
                self.string_literal()
                continue
            if c == open_ch:
                depth += 1
            elif c == close_ch and not (close_ch == ">" and self.s[self.i - 1] == "-"):
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return self.s[start:self.i]
            self.i += 1
        raise self.error(f"unbalanced '{open_ch}'", start)

    def string_literal(self) -> str:
        start = self.i
        self.i += 1
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == '"':
                self.i += 1
                return self.s[start:self.i]
            if c == "\n":
                break
            self.i += 1
        raise self.error("unterminated string", start)

    # ------------------------------------------------------------------------------------ types
    def parse_type(self) -> Attribute:
        start = self.i
        if self.peek() == "!":
            name = self.match(_ALIAS)
            if name is None:
                raise self.error("expected a type after '!'")
            if name in self.aliases:
                return self.aliases[name]
            if name == "!tt.ptr":
                self.expect("<")
                pointee = self.parse_type()
                space = 1
                self.spaces()
                if self.peek() == ",":
                    self.i += 1
                    self.spaces()
                    space = int(self.match(_NUMBER) or "1")
                self.expect(">")
                return PtrType(pointee, space)
            if name == "!ttg.memdesc":
                return self.parse_memdesc_body()
            if name == "!tt.tensordesc":
                self.expect("<")
                block = self.parse_type()
                self.expect(">")
                return TensorDescType(block)
            if name == "!ttg.async.token":
                return AsyncTokenType()
            if self.peek() == "<":
                self.balanced("<", ">")
            return OpaqueType(self.s[start:self.i])
        word = self.match(_IDENT)
        if word is None:
            raise self.error("expected a type")
        if word == "tensor" and self.peek() == "<":
            return self.parse_tensor_body(start)
        if word in _TYPE_KEYWORDS_WITH_BODY and self.peek() == "<":
            self.balanced("<", ">")
            return OpaqueType(self.s[start:self.i])
        if _INT_TYPE.match(word) and word[0] == "i":
            return IntegerType(int(word[1:]))
        if word in SCALAR_TYPES:
            return SCALAR_TYPES[word]
        return OpaqueType(word)

    def parse_dims_and_element(self) -> tuple[list[int], Attribute]:
        dims: list[int] = []
        while True:
            m = re.compile(r"(\d+)x").match(self.s, self.i)
            if not m:
                break
            dims.append(int(m.group(1)))
            self.i = m.end()
        return dims, self.parse_type()

    def parse_tensor_body(self, start: int) -> Attribute:
        self.i += 1  # '<'
        if self.peek() in "*?":
            self.i = start
            self.match(_IDENT)
            self.balanced("<", ">")
            return OpaqueType(self.s[start:self.i])
        dims, element = self.parse_dims_and_element()
        encoding: Attribute = NoneAttr()
        self.spaces()
        if self.peek() == ",":
            self.i += 1
            self.spaces()
            encoding = self.parse_attribute()
        self.expect(">")
        return TensorType(element, dims, encoding)

    def parse_memdesc_body(self) -> Attribute:
        self.expect("<")
        dims, element = self.parse_dims_and_element()
        self.expect(",")
        self.spaces()
        encoding = self.parse_attribute()
        self.expect(",")
        self.spaces()
        space = self.parse_attribute()
        mutable = False
        alloc_shape = None
        while True:
            self.spaces()
            if self.peek() != ",":
                break
            self.i += 1
            self.spaces()
            if self.startswith("mutable"):
                self.i += len("mutable")
                mutable = True
            else:
                m = re.compile(r"\d+(x\d+)*").match(self.s, self.i)
                if not m:
                    raise self.error("expected 'mutable' or an allocation shape in !ttg.memdesc")
                alloc_shape = [int(d) for d in m.group(0).split("x")]
                self.i = m.end()
        self.expect(">")
        return MemDescType(dims, element, encoding, space, mutable, alloc_shape)

    # ------------------------------------------------------------------------------- attributes
    def parse_attribute(self) -> Attribute:
        """An attribute starting with `#` (alias or dialect attribute), or a type used as attribute."""
        start = self.i
        if self.peek() != "#":
            return self.parse_type()
        name = self.match(_ALIAS)
        if name is None:
            raise self.error("expected an attribute after '#'")
        if name in self.aliases and self.peek() != "<":
            return self.aliases[name]
        mnemonic = name[1:]
        if mnemonic == "ttg.shared_memory":
            return SharedMemorySpaceAttr()
        cls = ENCODING_CLASSES.get(mnemonic)
        if cls is None:
            if "." not in mnemonic:
                raise self.error(f"undefined attribute alias '{name}'", start)
            if self.peek() == "<":
                self.balanced("<", ">")
            return OpaqueAttr(self.s[start:self.i])
        return self.parse_encoding_body(cls, start)

    def parse_encoding_body(self, cls, start: int) -> Attribute:
        self.expect("<")
        pads: list[tuple[int, int]] = []
        fields: list[tuple[str, object]] = []
        trailing: list[tuple[str, object]] = []
        self.spaces()
        if self.peek() == "[":
            pads = self.delimited("[", "]", self.parse_padding)
            self.spaces()
        if self.peek() == "{":
            self.i += 1
            fields = self.parse_fields("}")
        while True:
            self.spaces()
            if self.peek() == ">":
                self.i += 1
                break
            if self.peek() == ",":
                self.i += 1
                trailing.extend(self.parse_fields(">", stop_at_close=True))
                continue
            raise self.error(f"unexpected text in #{cls.MNEMONIC}")
        try:
            if cls is PaddedSharedEncodingAttr:
                attr = cls(pads, fields)
            elif cls is SharedLinearEncodingAttr:
                attr = cls(fields, trailing)
            else:
                attr = cls(fields + trailing)
            attr.verify()
        except ValueError as e:
            raise self.error(str(e), start) from None
        return attr

    def parse_padding(self) -> tuple[int, int]:
        """`interval:+pad` of a padded_shared encoding."""
        interval = int(self.require(_NUMBER, "a padding interval"))
        self.expect(":")
        self.expect("+")
        return interval, int(self.require(_NUMBER, "a padding amount"))

    def parse_fields(self, close: str, stop_at_close: bool = False) -> list[tuple[str, object]]:
        fields: list[tuple[str, object]] = []
        while True:
            self.spaces()
            if self.peek() == close:
                if not stop_at_close:
                    self.i += 1
                return fields
            key = self.match(_IDENT)
            if key is None:
                raise self.error("expected a field name")
            self.expect("=")
            self.spaces()
            fields.append((key, self.parse_field_value()))
            self.spaces()
            if self.peek() == ",":
                if stop_at_close:
                    # a trailing `, key = value` list continues until the closing `>`
                    self.i += 1
                    continue
                self.i += 1

    def parse_field_value(self) -> object:
        c = self.peek()
        if c == "[":
            return tuple(self.delimited("[", "]", self.parse_field_value))
        if c == "#":
            return self.parse_attribute()
        if self.startswith("true"):
            self.i += 4
            return True
        if self.startswith("false"):
            self.i += 5
            return False
        num = self.match(_NUMBER)
        if num is not None:
            return int(num, 0) if re.fullmatch(r"-?\d+|0x[0-9A-Fa-f]+", num) else num
        word = self.match(_IDENT)
        if word is not None:
            return word
        raise self.error("expected a field value")

    # ------------------------------------------------------------------------- attribute dicts
    def parse_attr_value(self) -> tuple[Attribute, str]:
        """One value in an op's attribute dict; returns the attribute and its exact text."""
        start = self.i
        c = self.peek()
        attr: Attribute
        if c == "#" and not self.startswith("#loc"):
            attr = self.parse_attribute()
        elif c == '"':
            attr = StringAttr(self.string_literal()[1:-1])
        elif self.startswith("true") or self.startswith("false"):
            value = self.startswith("true")
            self.i += 4 if value else 5
            attr = IntegerAttr(1 if value else 0, IntegerType(1))
        else:
            num = self.match(_NUMBER)
            if num is not None and re.fullmatch(r"-?\d+", num):
                save = self.i
                self.spaces()
                if self.peek() == ":":
                    self.i += 1
                    self.spaces()
                    t = self.parse_type()
                    attr = IntegerAttr(int(num), t) if isinstance(t, IntegerType) else OpaqueAttr(
                        self.s[start:self.i])
                else:
                    self.i = save
                    attr = IntegerAttr(int(num), IntegerType(64))
            else:
                self.i = start
                self.skip_attr_text()
                attr = OpaqueAttr(self.s[start:self.i])
        return attr, self.s[start:self.i]

    def skip_attr_text(self) -> None:
        """Skip an attribute value we do not model, up to the next top-level ',' or '}'."""
        depth = 0
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == '"':
                self.string_literal()
                continue
            if c in "([{<":
                depth += 1
            elif c in ")]}>" and not (c == ">" and self.s[self.i - 1] == "-"):
                if depth == 0:
                    return
                depth -= 1
            elif c == "," and depth == 0:
                return
            elif c == "\n":
                raise self.error("unterminated attribute value")
            self.i += 1

    def parse_attr_dict(self, props: bool, keyword: str, ws: str) -> AttrDict:
        self.expect("<{" if props else "{")
        piece = AttrDict(ws, [], {}, {}, props, keyword)
        while True:
            self.spaces()
            if self.peek() == "}":
                self.i += 1
                break
            key = self.string_literal()[1:-1] if self.peek() == '"' else self.match(_IDENT)
            if key is None:
                raise self.error("expected an attribute name")
            self.spaces()
            if self.peek() == "=":
                self.i += 1
                self.spaces()
                attr, text = self.parse_attr_value()
            else:
                attr, text = UnitAttr(), ""
            piece.keys.append(key)
            piece.texts[key] = text
            piece.parsed[key] = attr
            self.spaces()
            if self.peek() == ",":
                self.i += 1
        if props:
            self.expect(">")
        return piece

    # ------------------------------------------------------------------------------------ values
    def lookup(self, name: str, pos: int) -> SSAValue:
        base, _, index = name.partition("#")
        for scope in reversed(self.scopes):
            if base in scope:
                value = scope[base]
                if isinstance(value, list):
                    k = int(index or 0)
                    if k >= len(value):
                        raise self.error(f"{base} has {len(value)} results, #{k} used", pos)
                    return value[k]
                if index and index != "0":
                    raise self.error(f"{base} has one result, {name} used", pos)
                return value
        raise self.error(f"use of undefined value {name}", pos)

    def visible(self, name: str) -> bool:
        base = name.partition("#")[0]
        return any(base in scope for scope in self.scopes)

    def define(self, name: str, value: SSAValue | list[SSAValue], pos: int) -> None:
        if name in self.scopes[-1]:
            raise self.error(f"redefinition of {name}", pos)
        self.scopes[-1][name] = value

    # ---------------------------------------------------------------------------------- ops
    def parse_module(self) -> TTModule:
        entries: list[AliasEntry | VerbatimEntry | Operation] = []
        while True:
            self.skip_blank()
            if self.i >= len(self.s):
                break
            start = self.i
            if self.peek() in "#!" and re.compile(r"[#!][\w$.\-]+\s*=").match(self.s, self.i):
                name = self.match(_ALIAS)
                self.expect("=")
                self.spaces()
                if self.startswith("loc("):
                    end = self.s.find("\n", self.i)
                    end = len(self.s) if end < 0 else end
                    self.i = end
                    entries.append(VerbatimEntry(self.s[start:end]))
                    continue
                attr = self.parse_attribute() if name.startswith("#") else self.parse_type()
                if name in self.aliases:
                    raise self.error(f"redefinition of alias {name}", start)
                self.aliases[name] = attr
                entries.append(AliasEntry(name, attr))
                continue
            op = self.parse_operation(depth=0)
            entries.append(op)
        if not any(isinstance(e, Operation) for e in entries):
            raise EqsatError("no module in file", self.filename, 1, 1)
        return TTModule(entries, self.aliases, self.filename)

    def parse_operation(self, depth: int) -> Operation:
        op_start = self.i
        groups: list[tuple[str, int]] = []
        if self.peek() == "%":
            while True:
                name = self.match(re.compile(r"%[\w$.\-]+"))
                if name is None:
                    raise self.error("expected a result name")
                count = 1
                if self.peek() == ":":
                    self.i += 1
                    count = int(self.require(re.compile(r"\d+"), "a result count"))
                groups.append((name, count))
                self.spaces()
                if self.peek() == ",":
                    self.i += 1
                    self.spaces()
                    continue
                break
            self.expect("=")
            self.spaces()
        name_pos = self.i
        if self.peek() == '"':
            name_text = self.string_literal()
            op_name = name_text[1:-1]
        else:
            name_text = self.match(_IDENT) or ""
            op_name = name_text
            if not name_text:
                found = self.s[self.i:self.i + 20].split("\n")[0]
                raise self.error(f"expected an operation, found '{found}'")
        state = _OpState()
        self.parse_pieces(state, depth)
        n_results = sum(c for _, c in groups)
        result_types = self.infer_result_types(op_name, state, n_results, name_pos)
        cls = TYPED_OPS.get(op_name)
        if op_name == "module":
            from xdsl.dialects.builtin import ModuleOp

            op = ModuleOp.create(regions=state.regions, attributes=state.attributes)
            perm = list(range(len(state.uses)))
        elif cls is not None:
            try:
                op, perm = cls.build(state.uses, result_types, state.regions, state.attributes)
            except ValueError as e:
                raise self.error(f"'{op_name}': {e}", name_pos) from None
        else:
            op = OpaqueOp.build_opaque(op_name, [u.value for u in state.uses], result_types, state.regions,
                                       state.attributes)
            perm = list(range(len(state.uses)))
        op.op_name = op_name
        op.eqsat_pos = name_pos
        if cls is not None:
            try:
                op.verify_()
            except Exception as e:  # VerifyException: a typed op whose operands do not fit its definition
                raise self.error(str(e), name_pos) from None
        # Operand uses in the text refer to the textual order; remap to the op's operand order.
        inverse = {old: new for new, old in enumerate(perm)}
        for piece in state.pieces:
            if isinstance(piece, Use):
                piece.operand = inverse[piece.operand]
            elif isinstance(piece, TypeRef) and piece.kind == "operand":
                piece.operand_text_index = piece.index  # type: ignore[attr-defined]
                piece.index = inverse[piece.index]
        op.syntax = Syntax(name_text, state.pieces, groups)
        # name and register the results
        k = 0
        for gname, count in groups:
            if count == 1:
                op.results[k].eqsat_name = gname
                self.define(gname, op.results[k], op_start)
            else:
                for j in range(count):
                    op.results[k + j].eqsat_name = f"{gname}#{j}"
                self.define(gname, list(op.results[k:k + count]), op_start)
            k += count
        return op

    def parse_pieces(self, st: _OpState, depth: int) -> None:
        """Consume the rest of an op after its name, up to the end of its line (regions included)."""
        while True:
            ws = self.spaces()
            c = self.peek()
            if c == "" or c == "\n" or c == "\r":
                if st.depth == 0:
                    if st.pending:  # `%x :` that no region defines: it was a use of an unknown value
                        raise self.error(f"use of undefined value {st.pending[0].name}", st.pending[0].pos)
                    return
                self.i += 1
                st.pieces.append(Lit(ws, "\n"))
                continue
            pos = self.i
            if c == "{":
                eol = self.s.find("\n", self.i)
                rest = self.s[self.i + 1:eol if eol >= 0 else len(self.s)]
                if rest.strip() == "" and st.bracket_depth == 0:
                    self.i += 1
                    region = self.parse_region(st, depth + 1)
                    st.pieces.append(RegionRef(ws, len(st.regions)))
                    st.regions.append(region)
                    continue
                keyword = ""
                if st.pieces and isinstance(st.pieces[-1], Lit) and st.pieces[-1].text == "attributes":
                    keyword = "attributes"
                if st.depth == 0:
                    piece = self.parse_attr_dict(False, keyword, ws)
                    self.add_attr_dict(st, piece, pos)
                    st.pieces.append(piece)
                else:  # argument attributes inside a signature: keep verbatim
                    st.pieces.append(Lit(ws, self.balanced("{", "}")))
                continue
            if self.startswith("<{"):
                piece = self.parse_attr_dict(True, "", ws)
                self.add_attr_dict(st, piece, pos)
                st.pieces.append(piece)
                continue
            if c == "%":
                name = self.match(_SSA)
                if name is None:
                    raise self.error("bad value name")
                save = self.i
                self.spaces()
                nxt = self.peek()
                self.i = save
                if nxt in ":=" and not self.visible(name) and "#" not in name:
                    piece = Def(ws, -1, -1)
                    st.pending.append(_PendingDef(name, piece, by_equals=(nxt == "="), pos=pos))
                    st.pieces.append(piece)
                    continue
                value = self.lookup(name, pos)
                keyword = None
                before = [p for p in st.pieces[-2:] if isinstance(p, Lit)]
                if before and before[-1].text == "=" and len(before) == 2:
                    before = before[:1]  # `mask = %m`
                if before and _IDENT.fullmatch(before[-1].text):
                    keyword = before[-1].text
                for pd in st.pending:
                    if pd.by_equals and pd.type is None:
                        pd.type = value.type
                        break
                st.pieces.append(Use(ws, len(st.uses)))
                st.uses.append(OperandUse(value, keyword, st.bracket_depth > 0))
                continue
            if self.startswith("loc("):
                self.i += 3
                st.pieces.append(Loc(ws, "loc" + self.balanced("(", ")")))
                continue
            if c == "!" or (c == "#" and not self.startswith("#loc")):
                attr = self.parse_type() if c == "!" else self.parse_attribute()
                if c == "!":
                    st.pieces.append(self.type_piece(st, ws, attr))
                else:
                    st.pieces.append(AttrRef(ws, attr))
                continue
            if c == '"':
                st.pieces.append(Lit(ws, self.string_literal()))
                continue
            if c == "@":
                self.i += 1
                text = self.string_literal() if self.peek() == '"' else (self.match(_IDENT) or "")
                st.pieces.append(Lit(ws, "@" + text))
                continue
            if c == "^":
                self.i += 1
                st.pieces.append(Lit(ws, "^" + (self.match(re.compile(r"[\w$.\-]+")) or "")))
                continue
            if self.startswith("->"):
                self.i += 2
                st.pieces.append(Lit(ws, "->"))
                continue
            if c.isdigit() or (c == "-" and self.peek(1).isdigit()):
                st.pieces.append(Lit(ws, self.match(_NUMBER) or ""))
                continue
            if c.isalpha() or c == "_":
                save = self.i
                word = self.match(_IDENT) or ""
                if word in _VERBATIM_KEYWORDS and self.peek() == "<":
                    st.pieces.append(Lit(ws, word + self.balanced("<", ">")))
                    continue
                if (word in _TYPE_KEYWORDS_WITH_BODY and self.peek() == "<") or (
                        _INT_TYPE.match(word) and word[0] == "i") or word in SCALAR_TYPES:
                    self.i = save
                    st.pieces.append(self.type_piece(st, ws, self.parse_type()))
                    continue
                st.pieces.append(Lit(ws, word))
                continue
            if c == "<":
                st.pieces.append(Lit(ws, self.balanced("<", ">")))
                continue
            if c in "([":
                st.depth += 1
                if c == "[":
                    st.bracket_depth += 1
            elif c in ")]":
                st.depth -= 1
                if c == "]":
                    st.bracket_depth -= 1
                if st.depth < 0:
                    raise self.error(f"unbalanced '{c}'")
            elif c == "}":
                raise self.error("unexpected '}'")
            elif c not in ",:=*+?|":
                raise self.error(f"unexpected character '{c}'")
            self.i += 1
            st.pieces.append(Lit(ws, c))

    def type_piece(self, st: _OpState, ws: str, attr: Attribute) -> TypeRef:
        """A type in the op's text; if it types a pending block-argument definition, link it."""
        prev = [p for p in st.pieces if not (isinstance(p, Lit) and p.text == "\n")]
        typed_def = len(prev) >= 2 and isinstance(prev[-1], Lit) and prev[-1].text == ":"
        if typed_def and isinstance(prev[-2], Def):
            for pd in st.pending:
                if pd.piece is prev[-2]:
                    pd.type = attr
                    piece = TypeRef(ws, "arg", literal=attr)
                    pd.type_piece = piece
                    return piece
        return TypeRef(ws, "literal", literal=attr)

    def add_attr_dict(self, st: _OpState, piece: AttrDict, pos: int) -> None:
        for key in piece.keys:
            if key in st.attributes:
                raise self.error(f"attribute '{key}' given twice", pos)
            st.attributes[key] = piece.parsed[key]

    def parse_region(self, st: _OpState, depth: int) -> Region:
        """After `{` at the end of a line: blocks until the `}` that closes the region."""
        pending, st.pending = st.pending, []
        region_index = len(st.regions)
        self.scopes.append({})
        blocks: list[Block] = []
        entry = Block(arg_types=[pd.type or OpaqueType("?") for pd in pending])
        entry.eqsat_label = None
        for a, (pd, arg) in enumerate(zip(pending, entry.args, strict=True)):
            arg.eqsat_name = pd.name
            pd.piece.region, pd.piece.arg = region_index, a
            if pd.type_piece is not None:
                pd.type_piece.region, pd.type_piece.index = region_index, a
            self.define(pd.name, arg, self.i)
        current = entry
        implicit_entry_used = bool(pending)
        block_names: dict[str, Block] = {}
        while True:
            self.skip_blank()
            if self.i >= len(self.s):
                raise self.error("region not closed with '}'")
            if self.peek() == "}":
                self.i += 1
                break
            if self.peek() == "^":
                label_pos = self.i
                label = self.match(re.compile(r"\^[\w$.\-]+"))
                block = current if (current is entry and not implicit_entry_used and not blocks
                                    and not entry.ops) else Block()
                if block is not current:
                    blocks.append(current) if current not in blocks else None
                block.eqsat_label = label
                block.eqsat_arg_locs = []
                if label in block_names:
                    raise self.error(f"redefinition of block {label}", label_pos)
                block_names[label] = block
                if self.peek() == "(":
                    self.delimited("(", ")", lambda block=block: self.parse_block_arg(block))
                self.expect(":")
                # the comment MLIR prints after a label (`// pred: ^bb0`) is kept to print it back
                m = re.compile(r"[ \t]*(//[^\n]*)").match(self.s, self.i)
                block.eqsat_label_comment = m.group(1) if m else None
                current = block
                continue
            current.add_op(self.parse_operation(depth))
            implicit_entry_used = True
        if current not in blocks:
            blocks.append(current)
        if entry not in blocks:
            blocks.insert(0, entry)
        self.scopes.pop()
        return Region(blocks)

    def parse_block_arg(self, block: Block) -> None:
        """`%name: type [loc(...)]` in a block label: add the argument to `block`."""
        apos = self.i
        aname = self.require(re.compile(r"%[\w$.\-]+"), "a block argument")
        self.expect(":")
        self.spaces()
        arg = block.insert_arg(self.parse_type(), len(block.args))
        arg.eqsat_name = aname
        self.define(aname, arg, apos)
        lws = self.spaces()
        loc = ""
        if self.startswith("loc("):
            self.i += 3
            loc = lws + "loc" + self.balanced("(", ")")
        block.eqsat_arg_locs.append(loc)

    # ----------------------------------------------------------------------------- result types
    def infer_result_types(self, op_name: str, st: _OpState, n: int, pos: int) -> list[Attribute]:
        """Result types from the op's printed types, linking each type piece to what it types."""
        if n == 0:
            self.link_operand_types(op_name, st, results_linked=False)
            return []
        colon: list[TypeRef] = []
        arrow: list[TypeRef] = []
        to: list[TypeRef] = []
        section = None
        seen_colon = False
        depth = 0
        for p in st.pieces:
            if isinstance(p, Lit):
                if p.text in "([":
                    depth += 1
                elif p.text in ")]":
                    depth -= 1
                elif p.text == ":" and not seen_colon:
                    section, seen_colon = "colon", True
                elif p.text == "->":
                    section = "arrow"
                    arrow = []
                elif p.text == "to" and seen_colon:
                    section = "to"
            elif isinstance(p, TypeRef) and p.kind == "literal":
                {"colon": colon, "arrow": arrow, "to": to}.get(section, []).append(p)
        cls = TYPED_OPS.get(op_name)
        rule = getattr(cls, "RESULT", None)
        if rule == "token":
            self.link_operand_types(op_name, st, results_linked=False)
            return [AsyncTokenType()] * n
        if rule == "pointee":
            self.link_operand_types(op_name, st, results_linked=False)
            ptr_type = st.uses[0].value.type if st.uses else None
            return [_pointee(ptr_type)] * n
        if rule and rule.startswith("same:"):
            self.link_operand_types(op_name, st, results_linked=False)
            role_index = cls.assign_roles(st.uses)[rule[5:]][0]
            return [st.uses[role_index].value.type] * n
        produced = arrow or to
        if produced and len(produced) == n:
            for i, p in enumerate(produced):
                p.kind, p.index = "result", i
            self.link_operand_types(op_name, st, results_linked=True, colon=colon)
            return [p.literal for p in produced]
        if cls is not None and cls.COLON_TYPES == ("result",) and len(colon) == n:
            for i, p in enumerate(colon):
                p.kind, p.index = "result", i
            return [p.literal for p in colon]
        if op_name in ("arith.cmpi", "arith.cmpf") and colon:
            operand_type = colon[-1].literal
            self.link_operand_types(op_name, st, results_linked=False, colon=colon)
            return [_with_element(operand_type, IntegerType(1))] * n
        if len(colon) == n and len(st.uses) != n or (len(colon) == 1 and n == 1 and not produced):
            for i, p in enumerate(colon):
                p.kind, p.index = "result", i
            return [p.literal for p in colon]
        if len(colon) == n and len(st.uses) == n:
            for i, p in enumerate(colon):
                p.kind, p.index = "operand", i
            return [p.literal for p in colon]
        if colon:
            return [colon[-1].literal] * n
        if produced:
            return [produced[-1].literal] * n
        return [OpaqueType("?")] * n

    def link_operand_types(self, op_name: str, st: _OpState, results_linked: bool,
                           colon: list[TypeRef] | None = None) -> None:
        """Link the types after `:` to the operands they type, where that is unambiguous."""
        if colon is None:
            colon = []
            section = False
            for p in st.pieces:
                if isinstance(p, Lit) and p.text == ":" and not section:
                    section = True
                elif isinstance(p, Lit) and p.text in ("->", "to") and section:
                    break
                elif section and isinstance(p, TypeRef) and p.kind == "literal":
                    colon.append(p)
        cls = TYPED_OPS.get(op_name)
        if cls is not None and cls.COLON_TYPES and cls.COLON_TYPES != ("result",):
            roles = cls.assign_roles(st.uses)
            after_colon: list[TypeRef] = []
            seen = False
            for p in st.pieces:
                if isinstance(p, Lit) and p.text == ":":
                    seen = True
                elif seen and isinstance(p, TypeRef) and p.kind == "literal":
                    after_colon.append(p)
            for p, role in zip(after_colon, cls.COLON_TYPES, strict=False):
                if roles.get(role):
                    p.kind, p.index = "operand", roles[role][0]
            return
        if colon and len(colon) == len(st.uses):
            for i, p in enumerate(colon):
                if p.literal == st.uses[i].value.type:
                    p.kind, p.index = "operand", i


def _pointee(ptr_type: Attribute | None) -> Attribute:
    if isinstance(ptr_type, PtrType):
        return ptr_type.pointee
    if isinstance(ptr_type, TensorType) and isinstance(ptr_type.element_type, PtrType):
        return TensorType(ptr_type.element_type.pointee, ptr_type.get_shape(), ptr_type.encoding)
    return OpaqueType("?")


def _with_element(t: Attribute, element: Attribute) -> Attribute:
    if isinstance(t, TensorType):
        return TensorType(element, t.get_shape(), t.encoding)
    return element


def parse_ttgir(text: str, filename: str = "<input>") -> TTModule:
    """Parse TTGIR (or TTIR) text into a `TTModule`; raises `EqsatError` on malformed input."""
    parser = TTGIRParser(text, filename)
    try:
        return parser.parse_module()
    except EqsatError:
        raise
    except RecursionError:
        raise parser.error("nesting too deep") from None
    except (ValueError, IndexError, KeyError) as e:  # a malformed piece our scanner did not foresee
        raise parser.error(f"cannot parse: {e}") from None


def parse_file(path: str) -> TTModule:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise EqsatError("no such file", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise EqsatError(f"cannot read file: {e}", path) from None
    return parse_ttgir(text, path)


__all__ = ["AliasEntry", "TTModule", "VerbatimEntry", "parse_file", "parse_ttgir"]
