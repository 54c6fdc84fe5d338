"""Typed xDSL attributes and types of the Triton GPU dialects, plus verbatim fallbacks.

Encodings (`#ttg.blocked<...>`, `#ttg.nvmma_shared<...>`, ...) keep their fields in the order Triton
printed them, so that printing gives back Triton's own text; typed accessors (`size_per_thread`,
`warps_per_cta`, `vec`, ...) read them. Types cover what carries data: `!tt.ptr`, `!ttg.memdesc`,
`!tt.tensordesc`, `!ttg.async.token`, and builtin tensors/scalars from xDSL. Anything else is kept as an
`OpaqueAttr`/`OpaqueType` holding its exact text: never dropped, never rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    BFloat16Type,
    Float8E4M3FNType,
    Float8E4M3FNUZType,
    Float8E5M2FNUZType,
    Float8E5M2Type,
    Float16Type,
    Float32Type,
    Float64Type,
    FloatTF32Type,
    IndexType,
    IntegerType,
    NoneAttr,
    TensorType,
)
from xdsl.ir import Attribute, Data, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition

# A field value inside an encoding: int, bool, nested int lists, or another attribute (a parent layout).
FieldValue = Any


@irdl_attr_definition
class FieldsData(Data[tuple[tuple[str, FieldValue], ...]]):
    """Ordered `key = value` fields of an encoding, exactly as Triton printed them."""

    name = "eqsat.fields"

    @classmethod
    def parse_parameter(cls, parser):  # pragma: no cover - we never parse through xDSL's parser
        raise NotImplementedError("eqsat parses Triton IR with eqsat.ir.parser")

    def print_parameter(self, printer) -> None:  # pragma: no cover
        printer.print_string(format_fields(self.data))


@irdl_attr_definition
class TextData(Data[str]):
    """Verbatim text of an attribute or type eqsat does not model."""

    name = "eqsat.text"

    @classmethod
    def parse_parameter(cls, parser):  # pragma: no cover
        raise NotImplementedError("eqsat parses Triton IR with eqsat.ir.parser")

    def print_parameter(self, printer) -> None:  # pragma: no cover
        printer.print_string(self.data)


def _format_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if isinstance(value, Attribute):
        from eqsat.ir.printer import format_attribute

        return format_attribute(value)
    raise TypeError(f"cannot print encoding field value {value!r}")


def format_fields(fields: Sequence[tuple[str, FieldValue]]) -> str:
    return ", ".join(f"{k} = {_format_value(v)}" for k, v in fields)


class EncodingAttr(ParametrizedAttribute):
    """Base of all `#ttg.*` / `#ttng.*` encodings: fields by name, printed as `<{...}>`."""

    MNEMONIC: ClassVar[str]
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    fields: FieldsData

    def __init__(self, fields: Sequence[tuple[str, FieldValue]] | dict[str, FieldValue]):
        items = tuple(fields.items()) if isinstance(fields, dict) else tuple(fields)
        super().__init__(FieldsData(items))

    def get(self, key: str, default: FieldValue = None) -> FieldValue:
        for k, v in self.fields.data:
            if k == key:
                return v
        return default

    def __getitem__(self, key: str) -> FieldValue:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(f"{self.MNEMONIC} has no field {key}")
        return value

    def replace(self, **changes: FieldValue) -> EncodingAttr:
        """A copy with some fields changed (keys in Triton's camelCase)."""
        items = [(k, changes.pop(k, v)) for k, v in self.fields.data]
        items.extend(changes.items())
        return type(self)(items)

    def body_text(self) -> str:
        return "<{" + format_fields(self.fields.data) + "}>"

    def verify(self) -> None:
        missing = [k for k in self.REQUIRED if self.get(k, _MISSING) is _MISSING]
        if missing:
            raise ValueError(f"#{self.MNEMONIC} is missing {', '.join(missing)}")

    # CTA (multi-CTA) fields, shared by most encodings; absent means a single CTA.
    @property
    def ctas_per_cga(self) -> tuple[int, ...] | None:
        return self.get("CTAsPerCGA")

    @property
    def cta_split_num(self) -> tuple[int, ...] | None:
        return self.get("CTASplitNum")

    @property
    def cta_order(self) -> tuple[int, ...] | None:
        return self.get("CTAOrder")


_MISSING = object()


class DistributedEncoding(EncodingAttr):
    """An encoding of a register tensor: which thread holds which element."""


class SharedEncoding(EncodingAttr):
    """An encoding of a shared-memory buffer: at which offset each element lives."""


@irdl_attr_definition
class BlockedEncodingAttr(DistributedEncoding):
    name = "ttg.blocked"
    MNEMONIC = "ttg.blocked"
    fields: FieldsData
    REQUIRED = ("sizePerThread", "threadsPerWarp", "warpsPerCTA", "order")

    @property
    def size_per_thread(self) -> tuple[int, ...]:
        return self["sizePerThread"]

    @property
    def threads_per_warp(self) -> tuple[int, ...]:
        return self["threadsPerWarp"]

    @property
    def warps_per_cta(self) -> tuple[int, ...]:
        return self["warpsPerCTA"]

    @property
    def order(self) -> tuple[int, ...]:
        return self["order"]


@irdl_attr_definition
class SliceEncodingAttr(DistributedEncoding):
    name = "ttg.slice"
    MNEMONIC = "ttg.slice"
    fields: FieldsData
    REQUIRED = ("dim", "parent")

    @property
    def dim(self) -> int:
        return self["dim"]

    @property
    def parent(self) -> DistributedEncoding:
        return self["parent"]


@irdl_attr_definition
class LinearEncodingAttr(DistributedEncoding):
    name = "ttg.linear"
    MNEMONIC = "ttg.linear"
    fields: FieldsData
    REQUIRED = ("register", "lane", "warp", "block")

    def bases(self, in_dim: str) -> tuple[tuple[int, ...], ...]:
        return self[in_dim]


@irdl_attr_definition
class NvidiaMmaEncodingAttr(DistributedEncoding):
    name = "ttg.nvidia_mma"
    MNEMONIC = "ttg.nvidia_mma"
    fields: FieldsData
    REQUIRED = ("versionMajor", "versionMinor", "warpsPerCTA", "instrShape")

    @property
    def version_major(self) -> int:
        return self["versionMajor"]

    @property
    def version_minor(self) -> int:
        return self["versionMinor"]

    @property
    def warps_per_cta(self) -> tuple[int, ...]:
        return self["warpsPerCTA"]

    @property
    def instr_shape(self) -> tuple[int, ...]:
        return self["instrShape"]


@irdl_attr_definition
class AmdMfmaEncodingAttr(DistributedEncoding):
    name = "ttg.amd_mfma"
    MNEMONIC = "ttg.amd_mfma"
    fields: FieldsData
    REQUIRED = ("version", "warpsPerCTA", "instrShape", "isTransposed")

    @property
    def version(self) -> int:
        return self["version"]

    @property
    def warps_per_cta(self) -> tuple[int, ...]:
        return self["warpsPerCTA"]

    @property
    def instr_shape(self) -> tuple[int, ...]:
        return self["instrShape"]

    @property
    def is_transposed(self) -> bool:
        return self["isTransposed"]


@irdl_attr_definition
class DotOperandEncodingAttr(DistributedEncoding):
    name = "ttg.dot_op"
    MNEMONIC = "ttg.dot_op"
    fields: FieldsData
    REQUIRED = ("opIdx", "parent")

    @property
    def op_idx(self) -> int:
        return self["opIdx"]

    @property
    def parent(self) -> DistributedEncoding:
        return self["parent"]

    @property
    def k_width(self) -> int:
        return self.get("kWidth", 0)


class SwizzledFields(SharedEncoding):
    """Fields shared by the XOR-swizzled encodings (`swizzled_shared`, `amd_rotating_shared`)."""

    REQUIRED = ("vec", "perPhase", "maxPhase", "order")

    @property
    def vec(self) -> int:
        return self["vec"]

    @property
    def per_phase(self) -> int:
        return self["perPhase"]

    @property
    def max_phase(self) -> int:
        return self["maxPhase"]

    @property
    def order(self) -> tuple[int, ...]:
        return self["order"]


@irdl_attr_definition
class SwizzledSharedEncodingAttr(SwizzledFields):
    name = "ttg.swizzled_shared"
    MNEMONIC = "ttg.swizzled_shared"
    fields: FieldsData


@irdl_attr_definition
class AmdRotatingSharedEncodingAttr(SwizzledFields):
    """gfx942's rotating swizzle (B operand): the XOR phase also rotates with the row block."""

    name = "ttg.amd_rotating_shared"
    MNEMONIC = "ttg.amd_rotating_shared"
    fields: FieldsData


@irdl_attr_definition
class NvmmaSharedEncodingAttr(SharedEncoding):
    name = "ttg.nvmma_shared"
    MNEMONIC = "ttg.nvmma_shared"
    fields: FieldsData
    REQUIRED = ("swizzlingByteWidth", "transposed", "elementBitWidth")

    @property
    def swizzling_byte_width(self) -> int:
        return self["swizzlingByteWidth"]

    @property
    def transposed(self) -> bool:
        return self["transposed"]

    @property
    def element_bit_width(self) -> int:
        return self["elementBitWidth"]

    @property
    def fp4_padded(self) -> bool:
        return bool(self.get("fp4Padded", False))


@irdl_attr_definition
class SharedLinearEncodingAttr(SharedEncoding):
    """`#ttg.shared_linear<{offset = [...], block = [...]}, alignment = 16>`."""

    name = "ttg.shared_linear"
    MNEMONIC = "ttg.shared_linear"
    fields: FieldsData
    REQUIRED = ("offset",)

    trailing: FieldsData

    def __init__(self, fields, trailing: Sequence[tuple[str, FieldValue]] = ()):
        items = tuple(fields.items()) if isinstance(fields, dict) else tuple(fields)
        ParametrizedAttribute.__init__(self, FieldsData(items), FieldsData(tuple(trailing)))

    def replace(self, **changes):
        items = [(k, changes.pop(k, v)) for k, v in self.fields.data]
        trailing = [(k, changes.pop(k, v)) for k, v in self.trailing.data]
        items.extend(changes.items())
        return SharedLinearEncodingAttr(items, trailing)

    @property
    def offset_bases(self) -> tuple[tuple[int, ...], ...]:
        return self["offset"]

    @property
    def block_bases(self) -> tuple[tuple[int, ...], ...]:
        return self.get("block", ())

    @property
    def alignment(self) -> int | None:
        for k, v in self.trailing.data:
            if k == "alignment":
                return v
        return None

    def body_text(self) -> str:
        text = "<{" + format_fields(self.fields.data) + "}"
        if self.trailing.data:
            text += ", " + format_fields(self.trailing.data)
        return text + ">"


@irdl_attr_definition
class PaddedSharedEncodingAttr(SharedEncoding):
    """`#ttg.padded_shared<[32:+4, 64:+8] {order = [1, 0], shape = [64, 64]}>`.

    `intervals_pads`: after every `interval` elements, `pad` elements of padding (pairs add up). The
    braces hold the linear component (3.6 prints either `order`/`shape` or `offset`/`block` bases).
    """

    name = "ttg.padded_shared"
    MNEMONIC = "ttg.padded_shared"
    fields: FieldsData

    pads: FieldsData

    def __init__(self, intervals_pads: Sequence[tuple[int, int]],
                 fields: Sequence[tuple[str, FieldValue]] | dict[str, FieldValue]):
        items = tuple(fields.items()) if isinstance(fields, dict) else tuple(fields)
        ParametrizedAttribute.__init__(
            self, FieldsData(items), FieldsData(tuple((str(i), p) for i, p in intervals_pads))
        )

    def replace(self, **changes):
        items = [(k, changes.pop(k, v)) for k, v in self.fields.data]
        items.extend(changes.items())
        return PaddedSharedEncodingAttr(self.intervals_pads, items)

    @property
    def intervals_pads(self) -> tuple[tuple[int, int], ...]:
        return tuple((int(i), p) for i, p in self.pads.data)

    def body_text(self) -> str:
        pads = ", ".join(f"{i}:+{p}" for i, p in self.intervals_pads)
        return "<[" + pads + "] {" + format_fields(self.fields.data) + "}>"


@irdl_attr_definition
class SharedMemorySpaceAttr(ParametrizedAttribute):
    """`#ttg.shared_memory`: the memory space of a memdesc."""

    name = "ttg.shared_memory"
    MNEMONIC: ClassVar[str] = "ttg.shared_memory"


ENCODING_CLASSES: dict[str, type[EncodingAttr]] = {
    cls.MNEMONIC: cls
    for cls in (
        BlockedEncodingAttr,
        SliceEncodingAttr,
        LinearEncodingAttr,
        NvidiaMmaEncodingAttr,
        AmdMfmaEncodingAttr,
        DotOperandEncodingAttr,
        SwizzledSharedEncodingAttr,
        AmdRotatingSharedEncodingAttr,
        NvmmaSharedEncodingAttr,
        SharedLinearEncodingAttr,
        PaddedSharedEncodingAttr,
    )
}


@irdl_attr_definition
class OpaqueAttr(ParametrizedAttribute):
    """An attribute eqsat does not model, kept as its exact text (e.g. `#tt.cache_modifier<none>`)."""

    name = "eqsat.opaque_attr"
    text: TextData

    def __init__(self, text: str):
        super().__init__(TextData(text))


@irdl_attr_definition
class OpaqueType(ParametrizedAttribute, TypeAttribute):
    """A type eqsat does not model, kept as its exact text."""

    name = "eqsat.opaque_type"
    text: TextData

    def __init__(self, text: str):
        super().__init__(TextData(text))


@irdl_attr_definition
class PtrType(ParametrizedAttribute, TypeAttribute):
    """`!tt.ptr<pointee[, address_space]>`."""

    name = "tt.ptr"
    pointee: Attribute
    address_space: TextData

    def __init__(self, pointee: Attribute, address_space: int = 1):
        super().__init__(pointee, TextData(str(address_space)))

    @property
    def space(self) -> int:
        return int(self.address_space.data)


@irdl_attr_definition
class MemDescType(ParametrizedAttribute, TypeAttribute):
    """`!ttg.memdesc<3x128x64xf16, #shared, #smem, mutable[, 3x128x64]>`: a shared-memory buffer."""

    name = "ttg.memdesc"
    shape_data: TextData  # "3x128x64"
    element_type: Attribute
    encoding: Attribute
    memory_space: Attribute
    mutable: TextData  # "mutable" or ""
    alloc_shape_data: TextData  # "" when the printer elided it

    def __init__(self, shape: Sequence[int], element_type: Attribute, encoding: Attribute,
                 memory_space: Attribute, mutable: bool = False,
                 alloc_shape: Sequence[int] | None = None):
        super().__init__(
            TextData("x".join(str(d) for d in shape)),
            element_type,
            encoding,
            memory_space,
            TextData("mutable" if mutable else ""),
            TextData("x".join(str(d) for d in alloc_shape) if alloc_shape else ""),
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.shape_data.data.split("x")) if self.shape_data.data else ()

    @property
    def alloc_shape(self) -> tuple[int, ...]:
        text = self.alloc_shape_data.data
        return tuple(int(d) for d in text.split("x")) if text else self.shape

    @property
    def is_mutable(self) -> bool:
        return self.mutable.data == "mutable"


@irdl_attr_definition
class TensorDescType(ParametrizedAttribute, TypeAttribute):
    """`!tt.tensordesc<tensor<64x64xf16, #shared>>`: a TMA tensor descriptor of a block."""

    name = "tt.tensordesc"
    block_type: Attribute

    def __init__(self, block_type: Attribute):
        super().__init__(block_type)


@irdl_attr_definition
class AsyncTokenType(ParametrizedAttribute, TypeAttribute):
    """`!ttg.async.token`."""

    name = "ttg.async.token"


SCALAR_TYPES: dict[str, Attribute] = {
    "f16": Float16Type(),
    "bf16": BFloat16Type(),
    "f32": Float32Type(),
    "f64": Float64Type(),
    "tf32": FloatTF32Type(),
    "f8E4M3FN": Float8E4M3FNType(),
    "f8E5M2": Float8E5M2Type(),
    "f8E4M3FNUZ": Float8E4M3FNUZType(),
    "f8E5M2FNUZ": Float8E5M2FNUZType(),
    "index": IndexType(),
}
SCALAR_NAMES: dict[Attribute, str] = {v: k for k, v in SCALAR_TYPES.items()}


def element_bits(element_type: Attribute) -> int:
    """Width in bits of a scalar element type (pointers count 64)."""
    if isinstance(element_type, IntegerType):
        return element_type.width.data
    if isinstance(element_type, PtrType):
        return 64
    name = SCALAR_NAMES.get(element_type)
    if name is not None:
        return {"f16": 16, "bf16": 16, "f32": 32, "f64": 64, "tf32": 32, "index": 64}.get(name, 8)
    raise ValueError(f"no bit width for element type {element_type}")


def tensor_encoding(t: Attribute) -> Attribute | None:
    """Encoding of a ranked tensor type, or None."""
    if isinstance(t, TensorType) and not isinstance(t.encoding, NoneAttr):
        return t.encoding
    return None


__all__ = [
    "ENCODING_CLASSES",
    "AmdMfmaEncodingAttr",
    "AmdRotatingSharedEncodingAttr",
    "AsyncTokenType",
    "BlockedEncodingAttr",
    "DistributedEncoding",
    "DotOperandEncodingAttr",
    "EncodingAttr",
    "LinearEncodingAttr",
    "MemDescType",
    "NvidiaMmaEncodingAttr",
    "NvmmaSharedEncodingAttr",
    "OpaqueAttr",
    "OpaqueType",
    "PaddedSharedEncodingAttr",
    "PtrType",
    "SharedEncoding",
    "SharedLinearEncodingAttr",
    "SharedMemorySpaceAttr",
    "SliceEncodingAttr",
    "SwizzledSharedEncodingAttr",
    "TensorDescType",
    "element_bits",
    "tensor_encoding",
]
