"""A read-only view of a saturated egglog e-graph: e-classes, their constructor e-nodes, and literals.

egglog exports an e-graph as JSON (`EGraph._serialize().to_json()`): nodes keyed by id, each with its
`op`, its `eclass` and child node ids. This module turns that into what extraction and decoding need:

    SerializedEGraph.from_egraph(egraph)
        .classes[cid]        node ids of the *constructor* e-nodes of class `cid` (and the literal of a
                             primitive class); analysis rows (`layout_of`) and relations (`warp_local`,
                             `legal`, `made_by`) are kept apart in `.rows`, never extracted
        .nodes[nid]          ENode(sort, name, eclass, children: child class ids, literal)
        .lookup(sort, name, children)   the node id with that head and child classes (hash-consing)
        .literal_class(sort, value)     the class of a primitive literal (i64, String)
        .text(cid)           the text of a Layout/SharedEnc class or the value of a primitive class

Sorts are short names (`Tile`, `Smem`, `Sink`, `Layout`, `SharedEnc`, `String`, `i64`); names are the
constructor's Python name (`load`, `convert`, `via_shared`, `seq`, `Layout` for `Layout(text)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PRIMITIVE_SORTS = ("i64", "String", "f64", "Bool", "Unit")


@dataclass(frozen=True)
class ENode:
    id: str
    sort: str
    name: str
    eclass: str
    children: tuple[str, ...]  # child e-class ids
    literal: Any = None  # value of a primitive node

    @property
    def head(self) -> str:
        return f"{self.sort}.{self.name}"


@dataclass
class SerializedEGraph:
    nodes: dict[str, ENode] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)
    sorts: dict[str, str] = field(default_factory=dict)  # class id -> sort
    rows: list[ENode] = field(default_factory=list)  # function/relation rows (not extractable)
    _index: dict[tuple[str, str, tuple[str, ...]], str] = field(default_factory=dict, repr=False)
    _literals: dict[tuple[str, Any], str] = field(default_factory=dict, repr=False)

    @staticmethod
    def from_egraph(egraph: Any) -> SerializedEGraph:
        """Serialize a live `egglog.EGraph` (all functions, no truncation) into this view."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            serialized = egraph._serialize(split_primitive_outputs=False)
        data = json.loads(serialized.to_json())
        return SerializedEGraph.from_json(data, constructor_egg_names(egraph))

    @staticmethod
    def from_json(data: dict[str, Any], constructors: set[str]) -> SerializedEGraph:
        g = SerializedEGraph()
        raw = data["nodes"]
        class_types = {cid: info.get("type", "") for cid, info in data.get("class_data", {}).items()}
        for nid, n in raw.items():
            cid = n["eclass"]
            sort = _short(class_types.get(cid) or cid.rsplit("-", 1)[0])
            g.sorts[cid] = sort
            children = tuple(raw[c]["eclass"] for c in n["children"])
            if nid.startswith("primitive-"):
                node = ENode(nid, sort, n["op"], cid, (), _parse_literal(sort, n["op"]))
                g.add(node)
                continue
            egg_name = nid.split("-", 2)[2]
            node = ENode(nid, sort, n["op"].split(".")[-1], cid, children)
            if egg_name in constructors:
                g.add(node)
            else:
                g.rows.append(node)
        return g

    def add(self, node: ENode) -> None:
        """Add a constructor e-node (or a primitive, when `node.literal` is set)."""
        self.nodes[node.id] = node
        self.sorts[node.eclass] = node.sort
        self.classes.setdefault(node.eclass, []).append(node.id)
        self._index[(node.sort, node.name, node.children)] = node.id
        if node.literal is not None:
            self._literals[(node.sort, node.literal)] = node.eclass

    def lookup(self, sort: str, name: str, children: tuple[str, ...]) -> str | None:
        return self._index.get((sort, name, children))

    def literal_class(self, sort: str, value: Any) -> str | None:
        return self._literals.get((sort, value))

    def text(self, cid: str) -> Any:
        """The literal of a primitive class, or the text of a Layout/SharedEnc class."""
        node = self.nodes[self.classes[cid][0]]
        if node.literal is not None or not node.children:
            return node.literal
        return self.text(node.children[0])

    def size(self) -> int:
        return len(self.nodes)

    def reachable(self, root: str) -> list[str]:
        """Class ids reachable from `root` through any node (root first)."""
        seen = {root}
        order = [root]
        stack = [root]
        while stack:
            cid = stack.pop()
            for nid in self.classes.get(cid, ()):
                for child in self.nodes[nid].children:
                    if child not in seen:
                        seen.add(child)
                        order.append(child)
                        stack.append(child)
        return order

    def rows_named(self, name: str) -> list[ENode]:
        return [r for r in self.rows if r.name == name]


def constructor_egg_names(egraph: Any) -> set[str]:
    """egglog names of the functions of `egraph` that are constructors (extractable e-nodes)."""
    from egglog.declarations import ConstructorDecl

    state = egraph._state
    decls = state.__egg_decls__
    names: set[str] = set()
    for egg_name, refs in state.egg_fn_to_callable_refs.items():
        for ref in refs:
            try:
                decl = decls.get_callable_decl(ref)
            except KeyError:
                continue
            if isinstance(decl, ConstructorDecl):
                names.add(egg_name)
    return names


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _parse_literal(sort: str, op: str) -> Any:
    if sort == "i64":
        return int(op)
    if sort == "f64":
        return float(op)
    if sort == "String":
        return json.loads(op) if op.startswith('"') else op
    if sort == "Bool":
        return op == "true"
    return op
