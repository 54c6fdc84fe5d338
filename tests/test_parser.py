"""Parser/printer properties: random encodings and types print and parse back to equal typed values;
printing follows a changed type; malformed text fails with file:line:col."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import TensorType

from eqsat.errors import EqsatError
from eqsat.ir.attributes import (
    BlockedEncodingAttr,
    NvmmaSharedEncodingAttr,
    PaddedSharedEncodingAttr,
    SliceEncodingAttr,
    SwizzledSharedEncodingAttr,
)
from eqsat.ir.dialects import OpaqueOp, op_name_of
from eqsat.ir.dialects.ttg import ConvertLayoutOp
from eqsat.ir.parser import TTGIRParser, parse_ttgir
from eqsat.ir.printer import format_attribute, format_type, print_ttgir

pow2 = st.sampled_from([1, 2, 4, 8, 16])


@st.composite
def blocked(draw, rank=None):
    rank = rank or draw(st.integers(1, 3))
    order = tuple(draw(st.permutations(range(rank))))
    return BlockedEncodingAttr([
        ("sizePerThread", tuple(draw(pow2) for _ in range(rank))),
        ("threadsPerWarp", tuple(draw(pow2) for _ in range(rank))),
        ("warpsPerCTA", tuple(draw(pow2) for _ in range(rank))),
        ("order", order),
    ])


@st.composite
def encodings(draw):
    kind = draw(st.sampled_from(["blocked", "slice", "swizzled", "nvmma", "padded"]))
    if kind == "blocked":
        return draw(blocked())
    if kind == "slice":
        parent = draw(blocked(rank=draw(st.integers(2, 3))))
        return SliceEncodingAttr([("dim", draw(st.integers(0, len(parent.order) - 1))), ("parent", parent)])
    if kind == "swizzled":
        rank = draw(st.integers(1, 3))
        return SwizzledSharedEncodingAttr([("vec", draw(pow2)), ("perPhase", draw(pow2)),
                                           ("maxPhase", draw(pow2)),
                                           ("order", tuple(draw(st.permutations(range(rank)))))])
    if kind == "nvmma":
        return NvmmaSharedEncodingAttr([("swizzlingByteWidth", draw(st.sampled_from([0, 32, 64, 128]))),
                                        ("transposed", draw(st.booleans())),
                                        ("elementBitWidth", draw(st.sampled_from([8, 16, 32])))])
    pads = draw(st.lists(st.tuples(st.sampled_from([16, 32, 64]), st.sampled_from([1, 2, 4, 8])),
                         min_size=1, max_size=3, unique_by=lambda p: p[0]))
    return PaddedSharedEncodingAttr(sorted(pads), [("order", (1, 0)), ("shape", (64, 64))])


@settings(max_examples=300, deadline=None)
@given(encodings())
def test_encoding_print_parse_roundtrip(enc):
    text = format_attribute(enc)
    parser = TTGIRParser(text)
    assert parser.parse_attribute() == enc
    assert parser.i == len(text)


@settings(max_examples=200, deadline=None)
@given(blocked(), st.lists(st.sampled_from([1, 3, 16, 64, 100]), min_size=1, max_size=3),
       st.sampled_from(["f16", "bf16", "f32", "i32", "i1", "!tt.ptr<f16>"]))
def test_tensor_type_roundtrip(enc, shape, element):
    text = f"tensor<{'x'.join(map(str, shape))}x{element}, {format_attribute(enc)}>"
    t = TTGIRParser(text).parse_type()
    assert isinstance(t, TensorType) and t.get_shape() == tuple(shape) and t.encoding == enc
    assert format_type(t) == text


KERNEL = """#blocked = #ttg.blocked<{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
#blocked1 = #ttg.blocked<{sizePerThread = [4, 1], threadsPerWarp = [8, 4], warpsPerCTA = [1, 4], order = [0, 1]}>
module attributes {"ttg.num-warps" = 4 : i32, ttg.target = "cuda:90", "ttg.threads-per-warp" = 32 : i32} {
  tt.func public @k(%p: tensor<64x64x!tt.ptr<f32>, #blocked>) {
    %v = tt.load %p : tensor<64x64x!tt.ptr<f32>, #blocked>
    %c = ttg.convert_layout %v : tensor<64x64xf32, #blocked> -> tensor<64x64xf32, #blocked1>
    %e = math.exp %c : tensor<64x64xf32, #blocked1>
    tt.return
  }
}
"""


def test_printing_follows_a_changed_type():
    module = parse_ttgir(KERNEL)
    assert print_ttgir(module) == KERNEL
    convert = next(op for op in module.walk() if isinstance(op, ConvertLayoutOp))
    blocked = module.aliases["#blocked"]
    convert.results[0]._type = TensorType(convert.results[0].type.element_type, (64, 64), blocked)
    text = print_ttgir(module)
    assert "ttg.convert_layout %v : tensor<64x64xf32, #blocked> -> tensor<64x64xf32, #blocked>" in text
    # the opaque consumer's printed type is linked to its result, not to the convert: unchanged
    exp = next(op for op in module.walk() if isinstance(op, OpaqueOp) and op_name_of(op) == "math.exp")
    assert exp.operands[0] is convert.results[0]


def test_load_result_is_the_pointee():
    module = parse_ttgir(KERNEL)
    load = next(op for op in module.walk() if op_name_of(op) == "tt.load")
    assert format_type(load.results[0].type) == "tensor<64x64xf32, #ttg.blocked<{sizePerThread = [1, 4], " \
        "threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>>"


@pytest.mark.parametrize(("text", "where", "message"), [
    (KERNEL.replace("%v = tt.load %p", "%v = tt.load %q"), ":5:", "use of undefined value %q"),
    (KERNEL.replace("order = [1, 0]}>\n#blocked1", "order = [1, 0]\n#blocked1"), ":1:", ""),
    (KERNEL.replace("#blocked1>\n    %e", "#nope>\n    %e"), ":6:", "undefined attribute alias '#nope'"),
    (KERNEL.replace("    tt.return\n  }\n}\n", "    tt.return\n"), "", "region not closed"),
    ("", "", "no module"),
])
def test_malformed_input_names_file_line_and_problem(text, where, message):
    with pytest.raises(EqsatError) as err:
        parse_ttgir(text, "k.ttgir")
    line = str(err.value)
    assert line.startswith("k.ttgir") and where in line and message in line and "\n" not in line


def test_op_built_by_a_pass_prints_in_generic_form_that_triton_compiles():
    """An op with no source text (as a lowering pass creates) prints in MLIR's generic form; the
    module still parses (ours) and compiles (Triton's)."""
    from pathlib import Path

    from eqsat.ir.compile import compile_ttgir
    from eqsat.ir.dialects import TYPED_OPS
    from eqsat.ir.dialects.base import OperandUse

    path = Path(__file__).resolve().parent.parent / "corpora" / "ir" / "softmax_rows.h100.ttgir"
    module = parse_ttgir(path.read_text(), str(path))
    load = next(op for op in module.walk() if op_name_of(op) == "tt.load")
    t = load.results[0].type
    other = BlockedEncodingAttr([("sizePerThread", (1,)), ("threadsPerWarp", (32,)),
                                 ("warpsPerCTA", (module.num_warps,)), ("order", (0,))])
    assert t.encoding != other
    new, _ = TYPED_OPS["ttg.convert_layout"].build(
        [OperandUse(load.results[0], None, False)], [TensorType(t.element_type, t.get_shape(), other)], [], {})
    load.parent_block().insert_op_after(new, load)
    text = print_ttgir(module)
    assert '"ttg.convert_layout"(' in text
    again = parse_ttgir(text, "again.ttgir")
    assert sum(op_name_of(op) == "ttg.convert_layout" for op in again.walk()) == 1 + sum(
        op_name_of(op) == "ttg.convert_layout" for op in parse_ttgir(path.read_text()).walk())
    compile_ttgir(text, "h100", "generic")
