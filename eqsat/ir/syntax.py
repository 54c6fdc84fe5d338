"""The textual skeleton of one op: how to print it back exactly as Triton wrote it.

Triton prints each op in its own custom syntax. eqsat parses every op, known or not, into a list of
pieces: literal text, operand uses, block-argument definitions, types, attributes, attribute dicts,
regions and locations, each with the whitespace that preceded it. Types and operands are *linked* to the
op's xDSL values where the op's definition says so (for unknown ops by the MLIR printing conventions), so
when a pass changes a value's type (its layout), printing follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.ir import Attribute


@dataclass
class Piece:
    ws: str  # whitespace that preceded the piece in the source (printed back as is)


@dataclass
class Lit(Piece):
    text: str


@dataclass
class Use(Piece):
    operand: int  # index into op.operands


@dataclass
class Def(Piece):
    """Definition of an entry-block argument inside the op's syntax (`scf.for %iv = ...`, func args)."""

    region: int
    arg: int


@dataclass
class TypeRef(Piece):
    """A type. `kind` is 'result', 'operand', 'arg' (block arg of `region`, `index`) or 'literal'."""

    kind: str
    index: int = 0
    region: int = 0
    literal: Attribute | None = None


@dataclass
class AttrRef(Piece):
    attr: Attribute


@dataclass
class AttrDict(Piece):
    """`{k = v, ...}` or, with `props`, the generic form's `<{...}>`; keys into op.attributes."""

    keys: list[str]
    texts: dict[str, str]  # original text of each value, printed while the value is unchanged
    parsed: dict[str, Attribute]
    props: bool = False
    keyword: str = ""  # "attributes" for `attributes {..}`


@dataclass
class RegionRef(Piece):
    region: int


@dataclass
class Loc(Piece):
    text: str  # `loc(...)` verbatim


@dataclass
class Syntax:
    """How an op is spelled: its name as written (bare or quoted) and its pieces."""

    name_text: str
    pieces: list[Piece] = field(default_factory=list)
    result_groups: list[tuple[str, int]] = field(default_factory=list)  # (`%name`, count) groups
