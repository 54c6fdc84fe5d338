"""E-graph dumps for humans and tools: egglog's JSON export and a Graphviz rendering of the classes.

    write_dumps(egraph, graph, out_dir)   -> out_dir/egraph.json (egglog's serialized e-graph, as egglog
                                             writes it) and out_dir/egraph.dot (one cluster per e-class,
                                             one box per constructor e-node, edges to child classes)
    to_dot(graph, selection=None)         -> DOT text; nodes of `selection` are drawn bold
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from eqsat.egraph.serialized import SerializedEGraph

LEAF_SORTS = ("i64", "String", "Layout", "SharedEnc")


def egraph_json(egraph: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return json.loads(egraph._serialize(split_primitive_outputs=False).to_json())


def to_dot(graph: SerializedEGraph, selection: dict[str, str] | None = None) -> str:
    """Graphviz text: Tile/Smem/Sink classes as clusters; layouts, types and op ids inlined as labels."""
    chosen = set((selection or {}).values())
    lines = ["digraph egraph {", "  compound=true; rankdir=BT; node [shape=box, fontsize=9];"]
    anchor: dict[str, str] = {}
    for i, (cid, nids) in enumerate(sorted(graph.classes.items())):
        if graph.sorts.get(cid) in LEAF_SORTS:
            continue
        lines.append(f'  subgraph "cluster_{i}" {{ style=dashed; label="{_esc(cid)}";')
        for nid in nids:
            node = graph.nodes[nid]
            args = [_short(graph.text(c)) for c in node.children if graph.sorts.get(c) in LEAF_SORTS]
            label = f"{node.head}({', '.join(args)})"
            style = ", style=bold" if nid in chosen else ""
            lines.append(f'    "{_esc(nid)}" [label="{_esc(label)}"{style}];')
            anchor.setdefault(cid, nid)
        lines.append("  }")
    for nid, node in graph.nodes.items():
        if graph.sorts.get(node.eclass) in LEAF_SORTS:
            continue
        for child in node.children:
            if child in anchor:
                lines.append(f'  "{_esc(nid)}" -> "{_esc(anchor[child])}" [lhead="cluster_'
                             f'{_cluster_index(graph, child)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dumps(egraph: Any, graph: SerializedEGraph, out_dir: str | Path,
                selection: dict[str, str] | None = None) -> None:
    out = Path(out_dir)
    (out / "egraph.json").write_text(json.dumps(egraph_json(egraph)) + "\n")
    (out / "egraph.dot").write_text(to_dot(graph, selection))


def _cluster_index(graph: SerializedEGraph, cid: str) -> int:
    return sorted(graph.classes).index(cid)


def _short(value: Any, width: int = 48) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
