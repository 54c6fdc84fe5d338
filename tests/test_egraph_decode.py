"""Decoding a selection into plan choices: a forced alternative becomes the right choice kind and params,
with the losing nodes of its class as rejected alternatives."""

from __future__ import annotations

from egglog import union
from eqsat.costmodels.base import model_for

from eqsat.egraph.costs import GraphPrices, NodePricer
from eqsat.egraph.decode import DecodeContext, decode
from eqsat.egraph.encode import encode_kernel
from eqsat.egraph.extract import class_of, term_selection
from eqsat.egraph.serialized import SerializedEGraph
from eqsat.egraph.terms import Layout, SharedEnc, Tile, made_by
from tests.egraph_cases import PROJECT, dm_kernel

ENC = "#ttg.swizzled_shared<{vec = 4, perPhase = 1, maxPhase = 8, order = [1, 0]}>"


def _decode_with(kernel: dict, alternative_of) -> tuple[list, DecodeContext]:
    enc = encode_kernel(kernel, "h100")
    conv = next(o for o in kernel["ops"] if o["kind"] == "convert")
    alt = alternative_of(enc, conv)
    enc.egraph.register(union(enc.tiles[conv["id"]]).with_(alt), made_by(alt, "convert.test_rule"))
    graph = SerializedEGraph.from_egraph(enc.egraph)
    prices = GraphPrices(graph, NodePricer(model_for("h100"), kernel))
    root, original = term_selection(graph, enc.root)
    cid = class_of(graph, enc.tiles[conv["id"]], {})
    _, alt_sel = term_selection(graph, alt)
    chosen = {**original, **alt_sel}  # the alternative is in the convert's class (united above)
    assert chosen[cid] != original[cid]
    ctx = DecodeContext(enc, graph, prices, root, original, chosen, {"convert.test_rule": "convert_path"})
    return decode(ctx), ctx


def test_via_shared_decodes_to_convert_path_shared() -> None:
    kernel = dm_kernel(PROJECT, "transpose_2d", "h100")

    def via(enc, conv):
        src = enc.tiles[conv["inputs"][0]]
        return src.via_shared(Layout(conv["src_layout"]), SharedEnc(ENC), Layout(conv["dst_layout"]),
                              f"64x64x{conv['dtype']}")

    choices, _ = _decode_with(kernel, via)
    assert len(choices) == 1
    c = choices[0]
    assert (c.kind, c.params) == ("convert_path", {"path": "shared", "encoding": ENC})
    assert c.rule == "convert.test_rule"
    assert [a.params["node"] for a in c.alternatives] == ["Tile.convert"]
    assert c.alternatives[0].rejected.startswith(("costlier by", "illegal:"))


def test_value_in_destination_layout_decodes_to_drop_and_load_layout() -> None:
    kernel = dm_kernel(PROJECT, "transpose_2d", "h100")

    def direct_load(enc, conv):
        load = kernel["ops"][conv["inputs"][0]]
        return Tile.load(load["id"], Layout(conv["dst_layout"]), f"64x64x{load['dtype']}")

    choices, _ = _decode_with(kernel, direct_load)
    kinds = {(c.kind, tuple(sorted(c.params.items()))) for c in choices}
    conv = next(o for o in kernel["ops"] if o["kind"] == "convert")
    assert ("convert_path", (("path", "drop"),)) in kinds
    assert ("load_layout", (("layout", conv["dst_layout"]),)) in kinds
