"""Stage a global tile through TMA (Hopper): a `tt.load` whose tile a `ttg.local_alloc` writes to shared
memory becomes a tensor-descriptor copy, in the op forms Triton 3.6 itself lowers `tl.make_tensor_descriptor`
+ `desc.load` to (see corpora/project/tma.py ingested for h100):

    %s = ttg.global_scratch_alloc {alignment = 128 : i32, nbytes = 128 : i32} : !tt.ptr<i8>
    ttng.tensormap_create %s, %base, [box..], [dims..], [byte strides..], [1, ..] {elem_type, fill_mode = 0,
        interleave_layout = 0, swizzle_mode} : (...) -> ()          (innermost dimension first)
    ttng.tensormap_fenceproxy_acquire %s : !tt.ptr<i8>
    %d = ttng.reinterpret_tensor_descriptor %s : !tt.ptr<i8> to !tt.tensordesc<tensor<..., #nvmma>>
    %buf = ttg.local_alloc : () -> !ttg.memdesc<..., #nvmma, #smem, mutable>
    %bar = ttg.local_alloc : () -> !ttg.memdesc<1xi64, #swizzled_shared(vec 1), #smem, mutable>
    ttng.init_barrier %bar, 1 ; ttng.barrier_expect %bar, <tile bytes>, %true
    ttng.async_tma_copy_global_to_local %d[%coords] %buf, %bar, %true
    ttng.wait_barrier %bar, %c0 ; ttng.inval_barrier %bar

The descriptor comes from the address analysis (eqsat/dm/address.py): the pointer tile must be
`root + base + sum_d i_d * stride_d` with `root` a kernel argument, the last stride 1 and every term a
polynomial over kernel arguments and program ids (materialised as i64 arithmetic). TMA zero-fills the
parts of a box outside the tensor, which equals the masked load only when the mask is exactly the bounds
check `x_d + i_d < B_d` of some dimensions (`x_d` provably >= 0) and `other` is absent or +0: then dim `d`
gets coordinate `x_d` and extent `B_d` (the descriptor's base moves back by `x_d * stride_d`); an
unmasked dimension gets coordinate 0 and extent the tile's. Legality (else `TmaIllegal` with the reason):
rank 2..5, a 16-byte aligned base, 16-byte multiple strides, a buffer in a non-transposed `nvmma_shared`
(or unswizzled) encoding whose swizzle fits the tile, boxes as Triton's `getTMABlockShape` makes them
(each dim <= 256, the innermost one the swizzle width) with inner box bytes a multiple of 16. The
runtime needs each masked bound `B_d >= 1` (TMA has no empty dimension), as `tl.make_tensor_descriptor`
does; a kernel launched with global scratch memory (`triton.set_allocator`), as every TMA kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eqsat.lowering.edits import erase_dead, insert_after, insert_before, new_op, retype, syntax_from
from xdsl.dialects.builtin import (
    BFloat16Type,
    DenseArrayBase,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerAttr,
    IntegerType,
    TensorType,
)
from xdsl.ir import Attribute, Operation, OpResult, SSAValue

from eqsat.dm.address import BIG, ONE, ZERO, AddressAnalysis, IntValue, Poly, PtrValue, value_name
from eqsat.ir.attributes import (
    MemDescType,
    NvmmaSharedEncodingAttr,
    PtrType,
    SwizzledSharedEncodingAttr,
    TensorDescType,
    element_bits,
)
from eqsat.ir.dialects import op_name_of, syntax_of
from eqsat.ir.layouts import encoding_from_text
from eqsat.ir.syntax import Lit

MAX_BOX = 256
BARRIER_ENCODING = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [0]}>"
I32, I64, I1 = IntegerType(32), IntegerType(64), IntegerType(1)


class TmaIllegal(Exception):
    """Why a load cannot be staged through TMA."""


@dataclass
class TmaDescriptor:
    """What the descriptor and the copy need; polynomials over kernel arguments and program ids."""

    root: SSAValue  # the kernel's pointer argument
    base: Poly  # element offset of the descriptor's origin from `root`
    dims: list[Poly]  # global extents, outermost first
    strides: list[Poly]  # element strides, outermost first (the last is 1)
    coords: list[Poly]  # the tile's coordinates
    block: list[int]  # the TMA box (Triton's getTMABlockShape), outermost first
    swizzle_mode: int
    elem_type: int
    tile_bytes: int


# ------------------------------------------------------------------------------------------ analysis
def tma_descriptor(load: Operation, buffer_type: MemDescType) -> TmaDescriptor:
    """The descriptor of a `tt.load` whose tile is written to a buffer of `buffer_type`, or TmaIllegal."""
    if op_name_of(load) != "tt.load":
        raise TmaIllegal(f"TMA replaces a tt.load of a pointer tile, not {op_name_of(load)}")
    t = load.results[0].type
    if not isinstance(t, TensorType):
        raise TmaIllegal("the load is a scalar")
    shape = list(t.get_shape())
    rank = len(shape)
    if not 2 <= rank <= 5:
        raise TmaIllegal(f"rank {rank}: TMA tiles have rank 2..5")
    elem = t.element_type
    eb = element_bits(elem) // 8
    elem_type = _elem_type(elem)
    func = _function_of(load)
    analysis = AddressAnalysis(func)
    ptr = analysis.value(load.ptr)
    if not isinstance(ptr, PtrValue) or ptr.root is None:
        raise TmaIllegal("the pointer tile is not a kernel argument plus offsets")
    if ptr.all_sources:
        raise TmaIllegal("the address depends on loaded data (an indirect access)")
    off = ptr.offset
    if off.rdiv != BIG or any(c is None for c in off.coeffs):
        raise TmaIllegal(f"the address is not affine in the tile's indices (strides {_strides_text(off)})")
    if off.coeffs[-1] != ONE:
        raise TmaIllegal(f"the innermost dimension is not contiguous (stride {off.coeffs[-1]}): a TMA box is "
                         f"contiguous along its last dimension")
    if any(c == ZERO for c in off.coeffs[:-1]):
        raise TmaIllegal("a tile dimension has stride 0 (broadcast rows)")
    sd = analysis.sym_div
    strides = list(off.coeffs)
    for d, s in enumerate(strides[:-1]):
        if min(BIG, s.div(sd) * eb) % 16:
            raise TmaIllegal(f"stride of dim {d} ({s} elements) is not known to be a multiple of 16 bytes")
    coords, dims = [ZERO] * rank, [Poly.const(n) for n in shape]
    base = off.base
    for d, (x, bound) in _bounds(load.mask, rank, analysis).items():
        coords[d], dims[d] = x, bound
        base = base - x * strides[d]
    if load.mask is not None:
        _check_other(load.other)
    if ptr.root_div < 16 or min(BIG, base.div(sd) * eb) % 16:
        raise TmaIllegal(f"the descriptor's base ({ptr.root} + {base} elements) is not known to be 16-byte "
                         f"aligned")
    for p in (base, *dims, *strides, *coords):
        for sym in sorted(p.symbols):
            _check_symbol(func, sym)
    swizzle, block = _box(buffer_type, shape, eb)
    return TmaDescriptor(_argument(func, ptr.root), base, dims, strides, coords, block,
                         {0: 0, 32: 1, 64: 2, 128: 3}[swizzle], elem_type, math.prod(shape) * eb)


def _strides_text(off: IntValue) -> str:
    return ", ".join("?" if c is None else str(c) for c in off.coeffs)


def _elem_type(elem: Attribute) -> int:
    """Triton's TMA element type enum (TMAUtilities.cpp, checked against h100 compiles)."""
    for cls, code in ((Float16Type, 6), (BFloat16Type, 10), (Float32Type, 7), (Float64Type, 9)):
        if isinstance(elem, cls):
            return code
    bits = element_bits(elem)
    if isinstance(elem, PtrType) or bits not in (8, 16, 32, 64):
        raise TmaIllegal(f"element type {elem} has no TMA element type")
    return {8: 0, 16: 1, 32: 2, 64: 4}[bits]


def _box(buffer_type: MemDescType, shape: list[int], eb: int) -> tuple[int, list[int]]:
    """(swizzle bytes, TMA block shape) for the buffer's encoding, as Triton's getTMABlockShape."""
    enc = buffer_type.encoding
    if isinstance(enc, NvmmaSharedEncodingAttr):
        if enc.transposed:
            raise TmaIllegal("the buffer is a transposed nvmma_shared: TMA writes boxes in global order")
        if enc.get("fp4Padded"):
            raise TmaIllegal("fp4-padded buffers are not supported")
        if enc.element_bit_width != eb * 8:
            raise TmaIllegal(f"nvmma_shared for {enc.element_bit_width}-bit elements holds {eb * 8}-bit ones")
        swizzle = enc.swizzling_byte_width
    elif isinstance(enc, SwizzledSharedEncodingAttr) and (enc.get("vec"), enc.get("perPhase"),
                                                          enc.get("maxPhase")) == (1, 1, 1):
        order = list(enc.get("order") or [])
        if order != list(reversed(range(len(shape)))):
            raise TmaIllegal(f"unswizzled buffer of order {order}: TMA writes row-major boxes")
        swizzle = 0
    else:
        raise TmaIllegal("the buffer's encoding is not nvmma_shared (nor unswizzled): TMA writes only those")
    block = [min(n, MAX_BOX) for n in shape]
    if swizzle:
        inner = 8 * swizzle // (eb * 8)
        if block[-1] < inner:
            raise TmaIllegal(f"the tile's rows ({block[-1] * eb} bytes) are narrower than the buffer's "
                             f"{swizzle}-byte swizzle")
        block[-1] = inner
    if (block[-1] * eb) % 16:
        raise TmaIllegal(f"inner box of {block[-1] * eb} bytes is not a multiple of 16")
    if any(n % b for n, b in zip(shape, block, strict=True)):
        raise TmaIllegal(f"tile {shape} is not a whole number of TMA boxes {block}")
    return swizzle, block


def _bounds(mask: SSAValue | None, rank: int, analysis: AddressAnalysis) -> dict[int, tuple[Poly, Poly]]:
    """dim -> (x_d, B_d) when `mask` is exactly `and_d (x_d + i_d < B_d)`; TmaIllegal otherwise."""
    out: dict[int, tuple[Poly, Poly]] = {}
    if mask is None:
        return out

    def walk(v: SSAValue, dims: list[int]) -> None:
        if not isinstance(v, OpResult):
            raise TmaIllegal("the mask is a block argument, not a bounds check")
        op, name = v.op, op_name_of(v.op)
        if name in ("tt.broadcast", "ttg.convert_layout"):
            walk(op.operands[0], dims)
        elif name == "tt.expand_dims":
            axis = op.attributes["axis"].value.data
            walk(op.operands[0], [d for k, d in enumerate(dims) if k != axis])
        elif name == "arith.andi":
            walk(op.operands[0], dims)
            walk(op.operands[1], dims)
        elif name == "arith.cmpi":
            _compare(op, dims)
        else:
            raise TmaIllegal(f"the mask is not a bounds check of the tile (it uses {name})")

    def _compare(op: Operation, dims: list[int]) -> None:
        syntax = syntax_of(op)
        pred = next((p.text.strip(",") for p in syntax.pieces if isinstance(p, Lit)), "") if syntax else ""
        lhs, rhs = op.operands
        if pred == "sgt":
            lhs, rhs, pred = rhs, lhs, "slt"
        if pred != "slt":
            raise TmaIllegal(f"the mask compares with '{pred}': only index < bound is TMA's bounds check")
        x, bound = analysis.int_value(lhs), analysis.int_value(rhs)
        coeffs = zip(bound.coeffs, bound.shape, strict=True)
        if bound.rdiv != BIG or any(c != ZERO for c, s in coeffs if s > 1):
            raise TmaIllegal("the mask's bound varies over the tile")
        varying = [k for k, s in enumerate(x.shape) if s > 1]
        if x.rdiv != BIG or len(varying) != 1 or x.coeffs[varying[0]] != ONE:
            raise TmaIllegal("the mask is not a bounds check of one index per dimension (x + i < bound)")
        d = dims[varying[0]]
        if d in out:
            raise TmaIllegal(f"the mask bounds dimension {d} twice")
        nonnegative = all(s.startswith(("pid.", "nprog.")) for s in x.base.symbols)
        if any(c < 0 for _, c in x.base.terms) or not nonnegative:
            raise TmaIllegal(f"the tile's offset {x.base} along dim {d} is not known to be >= 0 (TMA "
                             f"zero-fills negative coordinates, the masked load reads them)")
        out[d] = (x.base, bound.base)

    walk(mask, list(range(rank)))
    return out


def _check_other(other: SSAValue | None) -> None:
    if other is None:
        return
    if isinstance(other, OpResult) and op_name_of(other.op) == "arith.constant":
        syntax = syntax_of(other.op)
        text = next((p.text for p in syntax.pieces if isinstance(p, Lit)), "") if syntax else ""
        body = text.removeprefix("dense<").removesuffix(">")
        try:
            if float(body) == 0.0 and not body.startswith("-"):
                return
        except ValueError:
            pass
        raise TmaIllegal(f"masked-off elements read {text}, TMA fills them with +0")
    raise TmaIllegal("masked-off elements read a computed `other`, TMA fills them with +0")


def _function_of(op: Operation) -> Operation:
    cur = op.parent_op()
    while cur is not None and op_name_of(cur) != "tt.func":
        cur = cur.parent_op()
    if cur is None:
        raise TmaIllegal("the load is not inside a tt.func")
    return cur


def _check_symbol(func: Operation, name: str) -> None:
    """A symbol the descriptor can be built from: a program id or an integer kernel argument."""
    if name.startswith("pid."):
        return
    try:
        arg = _argument(func, name)
    except TmaIllegal:
        raise TmaIllegal(f"the address uses {name}, which is neither a kernel argument nor a program id "
                         f"(a loop-carried value?)") from None
    if not isinstance(arg.type, IntegerType):
        raise TmaIllegal(f"the address uses {name}, which is not an integer")


def _argument(func: Operation, name: str) -> SSAValue:
    found = [a for a in func.regions[0].blocks[0].args if value_name(a) == name]
    if len(found) != 1:
        raise TmaIllegal(f"no single kernel argument named {name}")
    return found[0]


# ------------------------------------------------------------------------------------------ emission
class _Builder:
    """Scalar arithmetic inserted before `anchor`; polynomials become i64 values."""

    def __init__(self, anchor: Operation, func: Operation):
        self.anchor, self.func = anchor, func
        self.memo: dict[tuple, SSAValue] = {}

    def emit(self, op: Operation) -> SSAValue | None:
        insert_before(self.anchor, op)
        return op.results[0] if op.results else None

    def const(self, value: int | bool, t: Attribute) -> SSAValue:
        key = ("const", value, t)
        if key not in self.memo:
            text = ("true" if value else "false") if t == I1 else f"{value} : $r0"
            self.memo[key] = self.emit(new_op("arith.constant", [], [t], text))
        return self.memo[key]

    def symbol(self, name: str) -> SSAValue:
        key = ("sym", name)
        if key not in self.memo:
            _check_symbol(self.func, name)
            if name.startswith("pid."):
                v = self.emit(new_op("tt.get_program_id", [], [I32], f"{name[4:]} : $r0"))
            else:
                v = _argument(self.func, name)
            if v.type != I64:
                v = self.emit(new_op("arith.extsi", [v], [I64], "%0 : $o0 to $r0"))
            self.memo[key] = v
        return self.memo[key]

    def binary(self, name: str, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.emit(new_op(name, [a, b], [a.type], "%0, %1 : $r0"))

    def poly(self, p: Poly) -> SSAValue:
        """`p` as an i64 value."""
        total: SSAValue | None = None
        for monomial, coeff in p.terms:
            term: SSAValue | None = None
            for s in monomial:
                v = self.symbol(s)
                term = v if term is None else self.binary("arith.muli", term, v)
            if term is None:
                term = self.const(coeff, I64)
            elif coeff != 1:
                term = self.binary("arith.muli", term, self.const(coeff, I64))
            total = term if total is None else self.binary("arith.addi", total, term)
        return total if total is not None else self.const(0, I64)

    def poly32(self, p: Poly) -> SSAValue:
        v = p.const_value
        if v is not None:
            return self.const(v, I32)
        return self.emit(new_op("arith.trunci", [self.poly(p)], [I32], "%0 : $o0 to $r0"))


@dataclass
class EmittedDescriptor:
    """The `!tt.tensordesc` value and the scalars every copy through it uses."""

    value: SSAValue
    coords: list[SSAValue]
    true: SSAValue
    zero: SSAValue


def emit_descriptor(load: Operation, desc: TmaDescriptor, buffer_type: MemDescType) -> EmittedDescriptor:
    """The descriptor ops, before `load`."""
    b = _Builder(load, _function_of(load))
    rank = len(desc.block)
    base = desc.root
    if desc.base != ZERO:
        offset = b.poly(desc.base)
        base = b.emit(new_op("tt.addptr", [desc.root, offset], [desc.root.type], "%0, %1 : $o0, $o1"))
    eb = desc.tile_bytes // math.prod(buffer_type.shape[-rank:])
    box = [b.const(n, I32) for n in reversed(desc.block)]
    dims = [b.poly32(p) for p in reversed(desc.dims)]
    strides = [b.poly(s * Poly.const(eb)) for s in reversed(desc.strides[:-1])]
    ones = [b.const(1, I32)] * rank
    scratch = b.emit(new_op("ttg.global_scratch_alloc", [], [PtrType(IntegerType(8))],
                            "@alignment,nbytes : $r0",
                            {"alignment": IntegerAttr(128, I32), "nbytes": IntegerAttr(128, I32)}))
    operands = [scratch, base, *box, *dims, *strides, *ones]
    groups, k = [], 2
    for n in (rank, rank, rank - 1, rank):
        groups.append("[" + ", ".join(f"%{k + i}" for i in range(n)) + "]")
        k += n
    types = ", ".join(f"$o{i}" for i in range(len(operands)))
    b.emit(new_op("ttng.tensormap_create", operands, [],
                  f"%0, %1, {', '.join(groups)} @elem_type,fill_mode,interleave_layout,swizzle_mode : "
                  f"({types}) -> ()",
                  {"elem_type": IntegerAttr(desc.elem_type, I32), "fill_mode": IntegerAttr(0, I32),
                   "interleave_layout": IntegerAttr(0, I32),
                   "swizzle_mode": IntegerAttr(desc.swizzle_mode, I32)}))
    b.emit(new_op("ttng.tensormap_fenceproxy_acquire", [scratch], [], "%0 : $o0"))
    block_t = TensorType(buffer_type.element_type, list(buffer_type.shape), buffer_type.encoding)
    tdesc = b.emit(new_op("ttng.reinterpret_tensor_descriptor", [scratch], [TensorDescType(block_t)],
                          "%0 : $o0 to $r0"))
    coords = [b.poly32(c) for c in desc.coords]
    return EmittedDescriptor(tdesc, coords, b.const(True, I1), b.const(0, I32))


def tma_copy_into_alloc(alloc: Operation, tdesc: EmittedDescriptor, desc: TmaDescriptor) -> None:
    """`alloc` (a local_alloc of the loaded tile) becomes an empty mutable buffer the TMA copy fills."""
    t = alloc.results[0].type
    assert isinstance(t, MemDescType)
    alloc.operands = []
    retype(alloc.results[0], MemDescType(t.shape, t.element_type, t.encoding, t.memory_space, True))
    alloc.syntax = syntax_from("ttg.local_alloc", ": () -> $r0")
    buf = alloc.results[0]
    bar_t = MemDescType((1,), I64, encoding_from_text(BARRIER_ENCODING), t.memory_space, True)
    bar_alloc = new_op("ttg.local_alloc", [], [bar_t], ": () -> $r0")
    bar = bar_alloc.results[0]
    init = new_op("ttng.init_barrier", [bar], [], "%0, 1 : $o0")
    expect = new_op("ttng.barrier_expect", [bar, tdesc.true], [], f"%0, {desc.tile_bytes}, %1 : $o0")
    coords = tdesc.coords
    n = len(coords)
    copy = new_op("ttng.async_tma_copy_global_to_local", [tdesc.value, *coords, bar, buf, tdesc.true], [],
                  f"%0[{', '.join(f'%{1 + i}' for i in range(n))}] %{n + 2}, %{n + 1}, %{n + 3} : "
                  f"$o0, $o{n + 1} -> $o{n + 2}")
    copy.properties["operandSegmentSizes"] = DenseArrayBase.from_list(I32, [1, n, 1, 1, 1])
    wait = new_op("ttng.wait_barrier", [bar, tdesc.zero], [], "%0, %1 : $o0")
    wait.properties["operandSegmentSizes"] = DenseArrayBase.from_list(I32, [1, 1, 0, 0])
    inval = new_op("ttng.inval_barrier", [bar], [], "%0 : $o0")
    insert_after(alloc, bar_alloc, init, expect, copy, wait, inval)


def apply_tma(load: Operation, writes: list[Operation], fail) -> None:
    """Stage `load` through TMA into each of its `writes` (local_allocs of the tile)."""
    if any(op_name_of(w) != "ttg.local_alloc" for w in writes):
        raise fail("tma into a buffer written by ttg.local_store is not implemented (only local_alloc)")
    types = {w.results[0].type.encoding for w in writes}
    try:
        descs = [tma_descriptor(load, w.results[0].type) for w in writes]
    except TmaIllegal as e:
        raise fail(f"TMA is illegal here: {e}") from None
    if len(types) != 1:
        raise fail("the tile is written to buffers of different encodings")
    tdesc = emit_descriptor(load, descs[0], writes[0].results[0].type)
    for w in writes:
        tma_copy_into_alloc(w, tdesc, descs[0])
    erase_dead(load)
