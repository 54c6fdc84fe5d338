"""Bridge from typed encodings to F2 linear layouts: the layout of a tensor or memdesc type.

`linear_layout_of(tensor_type)` gives `register, lane, warp, block -> dim0..` for a register tensor and
`offset, block -> dim0..` for a shared buffer, built by `eqsat.layout` from the encoding's fields. A
shape with a non-power-of-two extent gives a `GuardedLayout` (the power-of-two layout plus its valid
region).
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute

from eqsat.ir.attributes import (
    AmdMfmaEncodingAttr,
    AmdRotatingSharedEncodingAttr,
    BlockedEncodingAttr,
    DotOperandEncodingAttr,
    EncodingAttr,
    LinearEncodingAttr,
    MemDescType,
    NvidiaMmaEncodingAttr,
    NvmmaSharedEncodingAttr,
    PaddedSharedEncodingAttr,
    SharedLinearEncodingAttr,
    SliceEncodingAttr,
    SwizzledSharedEncodingAttr,
)
from eqsat.layout import CTALayout, GuardedLayout, LinearLayout, build


class UnsupportedLayout(ValueError):
    """The encoding has no linear layout in eqsat (an opaque attribute, or a kind not modelled)."""


def _cta(enc: EncodingAttr) -> CTALayout | None:
    if enc.ctas_per_cga is None:
        return None
    return CTALayout(tuple(enc.ctas_per_cga), tuple(enc.cta_split_num or enc.ctas_per_cga),
                     tuple(enc.cta_order or range(len(enc.ctas_per_cga))[::-1]))


def encoding_params(enc: Attribute) -> tuple[str, dict[str, Any]]:
    """(kind, snake_case parameters) of an encoding, as `eqsat.layout.build` takes them."""
    if isinstance(enc, BlockedEncodingAttr):
        return "blocked", {"size_per_thread": enc.size_per_thread, "threads_per_warp": enc.threads_per_warp,
                           "warps_per_cta": enc.warps_per_cta, "order": enc.order, "cta_layout": _cta(enc)}
    if isinstance(enc, SliceEncodingAttr):
        kind, params = encoding_params(enc.parent)
        return "slice", {"dim": enc.dim, "parent_kind": kind, "parent": params}
    if isinstance(enc, LinearEncodingAttr):
        return "linear", {"register": enc["register"], "lane": enc["lane"], "warp": enc["warp"],
                          "block": enc.get("block", ())}
    if isinstance(enc, NvidiaMmaEncodingAttr):
        return "nvidia_mma", {"version_major": enc.version_major, "version_minor": enc.version_minor,
                              "warps_per_cta": enc.warps_per_cta, "instr_shape": enc.instr_shape,
                              "cta_layout": _cta(enc)}
    if isinstance(enc, AmdMfmaEncodingAttr):
        return "amd_mfma", {"version": enc.version, "warps_per_cta": enc.warps_per_cta,
                            "instr_shape": enc.instr_shape, "is_transposed": enc.is_transposed,
                            "tiles_per_warp": enc.get("tilesPerWarp"),
                            "element_bitwidth": enc.get("elementBitWidth"), "cta_layout": _cta(enc)}
    if isinstance(enc, DotOperandEncodingAttr):
        kind, params = encoding_params(enc.parent)
        return "dot_operand", {"op_idx": enc.op_idx, "k_width": enc.k_width, "parent_kind": kind,
                               "parent": params}
    if isinstance(enc, AmdRotatingSharedEncodingAttr | SwizzledSharedEncodingAttr):
        kind = "amd_rotating_shared" if isinstance(enc, AmdRotatingSharedEncodingAttr) else "swizzled_shared"
        return kind, {"vec": enc.vec, "per_phase": enc.per_phase, "max_phase": enc.max_phase,
                      "order": enc.order, "cta_layout": _cta(enc)}
    if isinstance(enc, NvmmaSharedEncodingAttr):
        return "nvmma_shared", {"swizzling_byte_width": enc.swizzling_byte_width,
                                "transposed": enc.transposed, "element_bit_width": enc.element_bit_width,
                                "fp4_padded": enc.fp4_padded, "cta_layout": _cta(enc)}
    if isinstance(enc, SharedLinearEncodingAttr):
        return "shared_linear", {"offset": enc.offset_bases, "block": enc.block_bases}
    if isinstance(enc, PaddedSharedEncodingAttr):
        return "padded_shared", {"intervals_pads": enc.intervals_pads, "order": enc.get("order"),
                                 "offset": enc.get("offset")}
    raise UnsupportedLayout(f"no linear layout for encoding {enc}")


def linear_layout_of(t: Attribute) -> LinearLayout | GuardedLayout:
    """The linear layout of a ranked tensor type with an encoding, or of a memdesc type (for a
    multi-buffered memdesc, of one buffer)."""
    if isinstance(t, TensorType):
        shape, enc = tuple(t.get_shape()), t.encoding
    elif isinstance(t, MemDescType):
        shape, enc = t.shape, t.encoding
        rank = len(enc.get("order") or ()) if isinstance(enc, EncodingAttr) else 0
        if isinstance(enc, NvmmaSharedEncodingAttr):
            rank = 2
        if rank and len(shape) > rank:
            # a multi-buffered allocation (`3x128x64`): the encoding lays out each buffer; buffers
            # follow one another in memory, so the layout of one buffer is what the accesses see
            shape = shape[-rank:]
    else:
        raise UnsupportedLayout(f"{t} has no layout")
    kind, params = encoding_params(enc)
    return build(kind, params, shape)


def encoding_from_text(text: str, filename: str = "<encoding>") -> Attribute:
    """Parse one encoding written in Triton's syntax (`#ttg.blocked<{...}>`, `#ttg.swizzled_shared<...>`),
    as the dm JSON and the bank-conflict batch files carry them. Raises `EqsatError` on bad text."""
    from eqsat.ir.parser import TTGIRParser

    parser = TTGIRParser(text.strip(), filename)
    attr = parser.parse_attribute()
    parser.skip_blank()
    if parser.i != len(parser.s):
        raise parser.error("unexpected text after the encoding")
    return attr


def layout_from_text(text: str, shape: tuple[int, ...] | list[int]) -> LinearLayout | GuardedLayout:
    """The linear layout of an encoding given as text, for a tile of `shape` (one buffer for shared)."""
    enc = encoding_from_text(text)
    kind, params = encoding_params(enc)
    return build(kind, params, tuple(shape))
