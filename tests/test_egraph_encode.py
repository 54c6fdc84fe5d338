"""Encoding dm kernels into egglog terms: every value and effect is in the e-graph, reachable from the root."""

from __future__ import annotations

import pytest
from egglog import EGraph

from eqsat.egraph.encode import VALUE_KINDS, encode_kernel, parse_ty, ty_text
from eqsat.egraph.serialized import SerializedEGraph
from tests.egraph_cases import PROJECT, SMALL, dm_kernel, kernels


@pytest.mark.parametrize("target", ["h100", "mi300x"])
def test_every_project_kernel_encodes(target: str) -> None:
    for name in kernels(PROJECT, target):
        kernel = dm_kernel(PROJECT, name, target)
        enc = encode_kernel(kernel, target)
        assert enc.root is not None, name
        graph = SerializedEGraph.from_egraph(enc.egraph)
        reachable = set(graph.reachable(_root_class(graph, enc)))
        with_layout = {row.children[0] for row in graph.rows_named("layout_of")}
        for op in kernel["ops"]:
            oid = op["id"]
            if op["kind"] in VALUE_KINDS and op.get("shape") is not None and op.get("dst_space") != "shared":
                assert oid in enc.tiles, (name, op["kind"], oid)
            if oid in enc.tiles:
                cid = _class_of(graph, enc.egraph, enc.tiles[oid])
                assert cid in reachable, (name, oid)
                assert cid in with_layout, (name, oid)


def test_opaque_and_loop_ops_encode_as_values() -> None:
    kernel = dm_kernel(PROJECT, "pipelined_row_sum", "h100")
    enc = encode_kernel(kernel, "h100")
    looped = [o for o in kernel["ops"] if o["loop_inputs"]]
    assert looped, "the pipelined kernel has loop-carried ops"
    other = [o["id"] for o in kernel["ops"] if o["kind"] == "other"]
    assert all(oid in enc.tiles for oid in other)
    assert "async_wait" in " ".join(enc.skipped.values())


@pytest.mark.parametrize("name", SMALL)
def test_encoding_is_deterministic(name: str) -> None:
    kernel = dm_kernel(PROJECT, name, "h100")
    a = SerializedEGraph.from_egraph(encode_kernel(kernel).egraph)
    b = SerializedEGraph.from_egraph(encode_kernel(kernel).egraph)
    assert sorted(n.head for n in a.nodes.values()) == sorted(n.head for n in b.nodes.values())


@pytest.mark.parametrize("shape,dtype", [([64, 32], "f32"), ([], "i32"), ([3, 5, 7], "!tt.ptr<i32>"),
                                         ([1], "bf16"), ([12, 1, 6], "i1")])
def test_ty_text_round_trip(shape: list[int], dtype: str) -> None:
    assert parse_ty(ty_text(shape, dtype)) == (shape, dtype)


def _class_of(graph: SerializedEGraph, egraph: EGraph, term: object) -> str:
    from eqsat.egraph.extract import term_selection

    return term_selection(graph, term)[0]


def _root_class(graph: SerializedEGraph, enc) -> str:
    return _class_of(graph, enc.egraph, enc.root)
