"""The `dm` dialect: a kernel's data-movement graph, one op per movement, in xDSL's IRDL.

A lifted kernel is a `dm.kernel` op whose single block holds the kernel's movement ops in program order.
There is one op per movement kind of the design's `ingest --format json` contract:

    dm.load  dm.store  dm.indirect_load  dm.indirect_store  dm.gather  dm.convert  dm.trans
    dm.local_alloc  dm.local_store  dm.local_load  dm.async_copy  dm.async_wait  dm.tma_load
    dm.tma_store  dm.barrier  dm.reduce  dm.dot  dm.other

Every op has the same shape (`DMOp`): variadic `inputs` (the results of the dm ops whose values reach
this one through compute ops that are not graph nodes: the SSA edges of the graph) and at most one result
(typed with the Triton type of the moved value: a register tensor, a shared-memory `!ttg.memdesc`, an
`!ttg.async.token`). Properties say what moves and how:

    id            position in program order (unique within the kernel, also the JSON id)
    origin        the Triton op it was lifted from ("tt.load", "ttng.warp_group_dot", ...)
    src_layout    `#dm.layout<...>` of the data before the move (absent: global memory / not a tile)
    dst_layout    `#dm.layout<...>` after the move (absent: global memory / not a tile)
    dtype, shape  element type and tile shape of the moved data
    access        `#dm.access<...>` for global accesses: class (contiguous | strided | indirect),
                  strides per dimension, contiguity, vector width in elements and bytes, the loads the
                  address depends on (`indirect_via`)
    buffer        id of the `dm.local_alloc` whose shared memory the op reads or writes
    depth         number of enclosing loops
    loop_inputs   ids of dm ops whose values reach this op only around a loop back edge
    info          kind-specific facts (`axis`, `order`, `num`, `efficient_layout`, `b_layout`, ...)
    loc           source location `file:line:col`, when the TTGIR has locations

Ops print in a custom form (FileCheck-friendly: every layout is printed inline in Triton's syntax):

    %d3 = dm.indirect_load 3 (%d1) origin "tt.load" {shape = [64, 64], dtype = f32,
          dst = #dm.layout<#ttg.blocked<{...}>>, access = #dm.access<class = indirect, ...>} : tensor<...>
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FloatAttr,
    IntAttr,
    NoneAttr,
    StringAttr,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, Region
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    opt_result_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
)
from xdsl.printer import Printer
from xdsl.traits import NoTerminator

KINDS: tuple[str, ...] = (
    "load", "store", "indirect_load", "indirect_store", "gather", "convert", "trans", "local_alloc",
    "local_store", "local_load", "async_copy", "async_wait", "tma_load", "tma_store", "barrier", "reduce",
    "dot", "other",
)

ACCESS_CLASSES: tuple[str, ...] = ("contiguous", "strided", "indirect")


def _text_of_attr(a: Attribute) -> str:
    from eqsat.ir.printer import format_attribute, format_type

    try:
        return format_attribute(a)
    except (TypeError, ValueError, KeyError):
        pass
    try:
        return format_type(a)
    except (TypeError, ValueError, KeyError):
        return str(a)


def format_type_text(t: Attribute) -> str:
    """A Triton type in Triton's syntax (encodings inline)."""
    from eqsat.ir.printer import format_type

    try:
        return format_type(t)
    except (TypeError, ValueError, KeyError):
        return str(t)


# ---------------------------------------------------------------------------------- attributes
@irdl_attr_definition
class LayoutAttr(ParametrizedAttribute):
    """`#dm.layout<#ttg.blocked<{...}>>`: a Triton encoding (distributed or shared) of a moved tile."""

    name = "dm.layout"
    encoding: Attribute

    def __init__(self, encoding: Attribute):
        super().__init__(encoding)

    @property
    def text(self) -> str:
        return _text_of_attr(self.encoding)

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<" + self.text + ">")


def _stride_text(s: Attribute) -> str:
    if isinstance(s, IntAttr):
        return str(s.data)
    if isinstance(s, StringAttr):
        return s.data
    return "?"


@irdl_attr_definition
class AccessAttr(ParametrizedAttribute):
    """`#dm.access<class = ..., strides = [...], ...>`: how a global access walks memory.

    `strides` has one entry per tile dimension: an `IntAttr` (elements), a `StringAttr` (a symbolic
    stride such as `sam` or `2*sbk`, over kernel arguments) or `NoneAttr` (unknown). `fastest` is the
    dimension along which registers are contiguous (-1 for a scalar access), `contiguity` the run of
    consecutive addresses along it, `register_contiguity` the elements one thread holds contiguously
    along it, `alignment` the guaranteed alignment in elements, `mask_constancy` the run of equal mask
    values along it (0: unmasked), `vector_width`/`vector_bytes` the widest vector access (0: not a
    per-thread access, as for TMA), `indirect_via` the ids of the dm ops that read the values the
    per-lane addresses depend on (class `indirect`: a real gather or scatter), and `base_via` the ids of
    the dm ops that read a value moving the whole tile: a uniform data-dependent base (`cu_seqlens`, a
    block-table entry, a request-pool index loaded once per program). An access whose only dependence
    on data is its base keeps its class (`contiguous`/`strided`): it is a strided box at a runtime base,
    coalesced, vectorized and TMA-legal as a plain access; its vector width follows the base's alignment.
    """

    name = "dm.access"
    klass: StringAttr
    strides: ArrayAttr
    fastest: IntAttr
    contiguity: IntAttr
    register_contiguity: IntAttr
    alignment: IntAttr
    mask_constancy: IntAttr
    vector_width: IntAttr
    vector_bytes: IntAttr
    indirect_via: ArrayAttr
    base_via: ArrayAttr

    def __init__(self, klass: str, strides: Sequence[int | str | None], fastest: int, contiguity: int,
                 register_contiguity: int, alignment: int, mask_constancy: int, vector_width: int,
                 vector_bytes: int, indirect_via: Sequence[int], base_via: Sequence[int] = ()):
        if klass not in ACCESS_CLASSES:
            raise ValueError(f"unknown access class {klass}")
        stride_attrs: list[Attribute] = [
            IntAttr(s) if isinstance(s, int) else StringAttr(s) if isinstance(s, str) else NoneAttr()
            for s in strides]
        super().__init__(StringAttr(klass), ArrayAttr(stride_attrs), IntAttr(fastest), IntAttr(contiguity),
                         IntAttr(register_contiguity), IntAttr(alignment), IntAttr(mask_constancy),
                         IntAttr(vector_width), IntAttr(vector_bytes),
                         ArrayAttr([IntAttr(i) for i in indirect_via]),
                         ArrayAttr([IntAttr(i) for i in base_via]))

    @property
    def stride_values(self) -> list[int | str | None]:
        out: list[int | str | None] = []
        for s in self.strides.data:
            out.append(s.data if isinstance(s, IntAttr | StringAttr) else None)
        return out

    @property
    def via(self) -> list[int]:
        return [i.data for i in self.indirect_via.data]

    @property
    def base(self) -> list[int]:
        return [i.data for i in self.base_via.data]

    def print_parameters(self, printer: Printer) -> None:
        strides = ", ".join(_stride_text(s) for s in self.strides.data)
        via = ", ".join(str(i) for i in self.via)
        printer.print_string(
            f"<class = {self.klass.data}, strides = [{strides}], fastest = {self.fastest.data}, "
            f"contiguity = {self.contiguity.data}, register_contiguity = {self.register_contiguity.data}, "
            f"alignment = {self.alignment.data}, mask_constancy = {self.mask_constancy.data}, "
            f"vector_width = {self.vector_width.data}, vector_bytes = {self.vector_bytes.data}, "
            f"indirect_via = [{via}]" + (f", base_via = [{', '.join(map(str, self.base))}]" if self.base
                                          else "") + ">")


# ------------------------------------------------------------------------------------------ ops
def _print_prop(printer: Printer, value: Attribute) -> None:
    if isinstance(value, LayoutAttr | AccessAttr):
        printer.print_attribute(value)
    elif isinstance(value, IntAttr):
        printer.print_string(str(value.data))
    elif isinstance(value, FloatAttr):
        printer.print_string(repr(float(value.value.data)))
    elif isinstance(value, StringAttr):
        printer.print_string_literal(value.data)
    elif isinstance(value, ArrayAttr):
        printer.print_string("[")
        for i, x in enumerate(value.data):
            if i:
                printer.print_string(", ")
            _print_prop(printer, x)
        printer.print_string("]")
    elif isinstance(value, DictionaryAttr):
        printer.print_string("{")
        for i, (k, x) in enumerate(value.data.items()):
            if i:
                printer.print_string(", ")
            printer.print_string(f"{k} = ")
            _print_prop(printer, x)
        printer.print_string("}")
    else:
        printer.print_string(_text_of_attr(value))


class DMOp(IRDLOperation):
    """Base of the dm movement ops (see the module docstring for the properties)."""

    KIND: ClassVar[str]

    inputs = var_operand_def()
    out = opt_result_def()

    dm_id = prop_def(IntAttr, prop_name="id")
    origin = prop_def(StringAttr)
    src_layout = opt_prop_def(LayoutAttr)
    dst_layout = opt_prop_def(LayoutAttr)
    dtype = opt_prop_def(Attribute)
    shape = opt_prop_def(ArrayAttr)
    access = opt_prop_def(AccessAttr)
    buffer = opt_prop_def(IntAttr)
    depth = opt_prop_def(IntAttr)
    loop_inputs = opt_prop_def(ArrayAttr)
    info = opt_prop_def(DictionaryAttr)
    loc = opt_prop_def(StringAttr)

    _PRINT_ORDER: ClassVar[tuple[str, ...]] = (
        "shape", "dtype", "src_layout", "dst_layout", "access", "buffer", "depth", "loop_inputs", "info",
        "loc")
    _PRINT_NAMES: ClassVar[dict[str, str]] = {"src_layout": "src", "dst_layout": "dst"}

    @property
    def ident(self) -> int:
        return self.dm_id.data

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.ident} (")
        for i, v in enumerate(self.inputs):
            if i:
                printer.print_string(", ")
            printer.print_operand(v)
        printer.print_string(") origin ")
        printer.print_string_literal(self.origin.data)
        shown = [k for k in self._PRINT_ORDER if k in self.properties]
        if shown:
            printer.print_string(" {")
            for i, k in enumerate(shown):
                if i:
                    printer.print_string(", ")
                printer.print_string(f"{self._PRINT_NAMES.get(k, k)} = ")
                _print_prop(printer, self.properties[k])
            printer.print_string("}")
        if self.out is not None:
            printer.print_string(" : " + format_type_text(self.out.type))


@irdl_op_definition
class LoadOp(DMOp):
    """A global load whose address is affine in the tile (contiguous or strided)."""

    name = "dm.load"
    KIND: ClassVar[str] = "load"


@irdl_op_definition
class StoreOp(DMOp):
    """A global store (or atomic) whose address is affine in the tile."""

    name = "dm.store"
    KIND: ClassVar[str] = "store"


@irdl_op_definition
class IndirectLoadOp(DMOp):
    """A global load whose address depends on loaded values."""

    name = "dm.indirect_load"
    KIND: ClassVar[str] = "indirect_load"


@irdl_op_definition
class IndirectStoreOp(DMOp):
    """A global store or atomic whose address depends on loaded values."""

    name = "dm.indirect_store"
    KIND: ClassVar[str] = "indirect_store"


@irdl_op_definition
class GatherOp(DMOp):
    """`tt.gather`: a gather along one axis inside a register tile."""

    name = "dm.gather"
    KIND: ClassVar[str] = "gather"


@irdl_op_definition
class ConvertOp(DMOp):
    """A register layout change (`ttg.convert_layout`, AMD in-thread transpose)."""

    name = "dm.convert"
    KIND: ClassVar[str] = "convert"


@irdl_op_definition
class TransOp(DMOp):
    """`tt.trans`: a register-tile transpose."""

    name = "dm.trans"
    KIND: ClassVar[str] = "trans"


@irdl_op_definition
class LocalAllocOp(DMOp):
    """A shared-memory allocation, with its initial store when it has a source."""

    name = "dm.local_alloc"
    KIND: ClassVar[str] = "local_alloc"


@irdl_op_definition
class LocalStoreOp(DMOp):
    """Registers to shared memory."""

    name = "dm.local_store"
    KIND: ClassVar[str] = "local_store"


@irdl_op_definition
class LocalLoadOp(DMOp):
    """Shared memory to registers."""

    name = "dm.local_load"
    KIND: ClassVar[str] = "local_load"


@irdl_op_definition
class AsyncCopyOp(DMOp):
    """Global to shared memory without registers (cp.async, buffer_load_to_local)."""

    name = "dm.async_copy"
    KIND: ClassVar[str] = "async_copy"


@irdl_op_definition
class AsyncWaitOp(DMOp):
    """Wait for asynchronous copies (or TMA stores) in flight."""

    name = "dm.async_wait"
    KIND: ClassVar[str] = "async_wait"


@irdl_op_definition
class TmaLoadOp(DMOp):
    """A tensor-descriptor (TMA) load of a box."""

    name = "dm.tma_load"
    KIND: ClassVar[str] = "tma_load"


@irdl_op_definition
class TmaStoreOp(DMOp):
    """A tensor-descriptor (TMA) store of a box."""

    name = "dm.tma_store"
    KIND: ClassVar[str] = "tma_store"


@irdl_op_definition
class BarrierOp(DMOp):
    """An mbarrier operation, a CTA barrier or an async-proxy fence."""

    name = "dm.barrier"
    KIND: ClassVar[str] = "barrier"


@irdl_op_definition
class ReduceOp(DMOp):
    """`tt.reduce`: a reduction along an axis (moves data across lanes and warps)."""

    name = "dm.reduce"
    KIND: ClassVar[str] = "reduce"


@irdl_op_definition
class DotOp(DMOp):
    """A matrix multiply (`tt.dot`, wgmma): consumes its operands in fixed layouts."""

    name = "dm.dot"
    KIND: ClassVar[str] = "dot"


@irdl_op_definition
class OtherOp(DMOp):
    """A compute op on moved data that is a graph node (see `eqsat.dm.lift`)."""

    name = "dm.other"
    KIND: ClassVar[str] = "other"


KIND_OPS: dict[str, type[DMOp]] = {cls.KIND: cls for cls in (
    LoadOp, StoreOp, IndirectLoadOp, IndirectStoreOp, GatherOp, ConvertOp, TransOp, LocalAllocOp,
    LocalStoreOp, LocalLoadOp, AsyncCopyOp, AsyncWaitOp, TmaLoadOp, TmaStoreOp, BarrierOp, ReduceOp, DotOp,
    OtherOp)}
assert tuple(KIND_OPS) == KINDS


@irdl_op_definition
class KernelOp(IRDLOperation):
    """`dm.kernel @name target "cuda:90" warps 4 threads 32 { dm ops }`: one lifted `tt.func`."""

    name = "dm.kernel"
    sym_name = prop_def(StringAttr)
    target = prop_def(StringAttr)
    num_warps = prop_def(IntAttr)
    threads_per_warp = prop_def(IntAttr)
    label = opt_prop_def(StringAttr)  # the kernel's name in a corpus, when it differs from sym_name
    body = region_def("single_block")
    traits = traits_def(NoTerminator())

    def __init__(self, sym_name: str, target: str, num_warps: int, threads_per_warp: int, body: Region,
                 label: str | None = None):
        props: dict[str, Attribute] = {"sym_name": StringAttr(sym_name), "target": StringAttr(target),
                                       "num_warps": IntAttr(num_warps),
                                       "threads_per_warp": IntAttr(threads_per_warp)}
        if label is not None and label != sym_name:
            props["label"] = StringAttr(label)
        super().__init__(properties=props, regions=[body])

    @property
    def ops(self) -> list[DMOp]:
        return [op for op in self.body.block.ops if isinstance(op, DMOp)]

    def print(self, printer: Printer) -> None:
        printer.print_string(f" @{self.sym_name.data} target ")
        printer.print_string_literal(self.target.data)
        printer.print_string(f" warps {self.num_warps.data} threads {self.threads_per_warp.data} ")
        if self.label is not None:
            printer.print_string("label ")
            printer.print_string_literal(self.label.data)
            printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False, print_empty_block=False)


DM = Dialect("dm", [KernelOp, *KIND_OPS.values()], [LayoutAttr, AccessAttr])

__all__ = [
    "ACCESS_CLASSES",
    "DM",
    "KINDS",
    "KIND_OPS",
    "AccessAttr",
    "DMOp",
    "KernelOp",
    "LayoutAttr",
]
