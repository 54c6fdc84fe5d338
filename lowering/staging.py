"""Lowering of the `staging` choice: how a global tile reaches its shared-memory buffer.

The choice names the global load (`tt.load` or `amdg.buffer_load`) whose tile is written to shared memory
by a `ttg.local_alloc` (immutable, from the tile) or a `ttg.local_store` (into a mutable buffer).

    sync        what the kernel already does (load into registers, then write): nothing to change
    async_copy  one-stage asynchronous copy, in the op forms Triton's pipeliner emits:
                    %buf = ttg.local_alloc : () -> !ttg.memdesc<..., mutable>   (for a local_alloc)
                    %t = ttg.async_copy_global_to_local %ptrs, %buf [mask %m] [other %o] : ... -> <...>
                    %g = ttg.async_commit_group tokens %t
                    %w = ttg.async_wait %g {num = 0 : i32}
                at the place of the shared-memory write, so every later read sees the data (Triton's
                membar pass adds the CTA barrier after the wait). An AMD buffer load's pointers are
                rebuilt as `tt.addptr (tt.splat base), offsets`.

    tma         Hopper tensor-descriptor copy (eqsat/lowering/tma.py): only where TMA's bounds and alignment
                rules make it equal to the load; otherwise LoweringError with the rule that fails.
    direct_to_lds  CDNA3: `amdg.buffer_load_to_local` (buffer_load ... lds), the form Triton 3.6's own AMD
                pipeline emits with TRITON_HIP_USE_ASYNC_COPY=1: gfx942 moves exactly 4 bytes per lane
                straight into LDS, so the offsets (and mask) are rematerialised in a blocked layout of
                4-byte vectors along the fastest dimension (`{contiguity = vec}`), then commit + wait. The
                16-byte-per-lane layout a register load uses is what gfx942's LLVM lowering rejects
                ("failed to legalize ttg.async_copy_global_to_local": only 32-bit lanes on gfx942).

Multi-stage pipelines of loop loads are not this choice but the plan's `transport` choice
(lowering/transport.py, lowering/transport_variants.py): the TTIR's loop loads, rewritten to tensor-descriptor
loads where TMA is legal, recompiled with num_stages N, so Triton's own pipeliner builds the ring.

Not implemented (raise LoweringError): `stages` > 1 (software pipelining of a loop), `async_copy` on
CDNA3 (that is direct_to_lds), direct_to_lds of a `tt.load` (Triton's AMD pipeline converts those to
buffer loads first) or of elements wider than 4 bytes, TMA into a `local_store` destination, and
re-staging a tile that is already copied asynchronously or transformed in registers before its write.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import erase_dead, insert_after, insert_before, new_op, retype, syntax_from
from eqsat.lowering.rematerialize import Rematerializer
from eqsat.lowering.tma import apply_tma
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, IntegerType, StringAttr, TensorType
from xdsl.ir import Operation, SSAValue

from eqsat.ir.attributes import AsyncTokenType, BlockedEncodingAttr, MemDescType, element_bits
from eqsat.ir.dialects import op_name_of
from eqsat.ir.printer import format_type
from eqsat.ir.syntax import Lit, TypeRef

MODES = ("sync", "async_copy", "tma", "direct_to_lds")


def apply_staging(op: Operation, params: dict[str, Any], fail) -> None:
    mode, stages = params["mode"], int(params.get("stages", 1))
    if mode not in MODES:
        raise fail(f"unknown staging mode '{mode}'")
    name = op_name_of(op)
    if name not in ("tt.load", "amdg.buffer_load"):
        raise fail(f"staging applies to a global load whose tile is written to shared memory, not {name}")
    writes = [u.operation for u in op.results[0].uses
              if op_name_of(u.operation) in ("ttg.local_alloc", "ttg.local_store")]
    if not writes:
        users = sorted({op_name_of(u.operation) for u in op.results[0].uses})
        raise fail(f"the loaded tile is not written to shared memory (used by {', '.join(users)})")
    if stages != 1:
        raise fail(f"{stages} stages: software pipelining of a loop is not implemented")
    if mode == "sync":
        return
    on_amd = _triton_target(op).startswith("hip")
    if mode == "tma":
        if on_amd:
            raise fail("TMA is a Hopper (cuda:90) unit; this kernel targets CDNA")
        apply_tma(op, writes, fail)
        return
    if mode == "direct_to_lds":
        if not on_amd:
            raise fail("direct_to_lds is CDNA3's buffer_load ... lds; on NVIDIA use async_copy or tma")
        _direct_to_lds(op, writes, fail)
        return
    if on_amd:
        raise fail("on CDNA3 an asynchronous copy into shared memory is direct_to_lds (4 bytes per lane, "
                   "buffer_load ... lds): use that mode")
    pointers, mask, other = _addresses(op)
    for write in writes:
        _async_copy(write, pointers, mask, other)
    erase_dead(op)


def _triton_target(op: Operation) -> str:
    top = op
    while top.parent_op() is not None:
        top = top.parent_op()
    target = top.attributes.get("ttg.target")
    return target.data if isinstance(target, StringAttr) else ""


def _addresses(load: Operation) -> tuple[SSAValue, SSAValue | None, SSAValue | None]:
    """(pointer tile, mask, other) of a global load; for an AMD buffer load the pointers are built."""
    if op_name_of(load) == "tt.load":
        return load.ptr, load.mask, load.other
    offsets = load.offsets
    t = offsets.type
    ptr_t = TensorType(load.ptr.type, t.get_shape(), t.encoding)
    splat = new_op("tt.splat", [load.ptr], [ptr_t], "%0 : $o0 -> $r0")
    addptr = new_op("tt.addptr", [splat.results[0], offsets], [ptr_t], "%0, %1 : $o0, $o1")
    insert_before(load, splat, addptr)
    if load.stride is not None:
        raise ValueError("strided buffer load")
    return addptr.results[0], load.mask, load.other


def _direct_to_lds(load: Operation, writes: list[Operation], fail) -> None:
    """Each write of the buffer-loaded tile becomes an `amdg.buffer_load_to_local` of 4-byte lanes."""
    if op_name_of(load) != "amdg.buffer_load":
        raise fail("direct_to_lds of a tt.load is not implemented (Triton's AMD pipeline turns it into "
                   "amdg.buffer_load first)")
    if load.stride is not None or load.other is not None:
        raise fail("direct_to_lds of a strided buffer load or one with `other` is not implemented")
    t = load.results[0].type
    eb = element_bits(t.element_type) // 8
    if eb > LDS_LANE_BYTES:
        raise fail(f"{eb}-byte elements: gfx942 moves exactly {LDS_LANE_BYTES} bytes per lane into LDS")
    vec = LDS_LANE_BYTES // eb
    shape = list(t.get_shape())
    order = list(t.encoding.order) if isinstance(t.encoding, BlockedEncodingAttr) else [
        *reversed(range(len(shape)))]
    if shape[order[0]] % vec:
        raise fail(f"rows of {shape[order[0]]} elements are not whole {LDS_LANE_BYTES}-byte lanes")
    module = _module_of(load)
    layout = lds_layout(shape, order, vec, _int_attr(module, "ttg.threads-per-warp"),
                        _int_attr(module, "ttg.num-warps"))
    remat = Rematerializer(load)
    offsets = remat.value(load.offsets, layout)
    mask = remat.value(load.mask, layout) if load.mask is not None else None
    for write in writes:
        dst = _destination(write)
        operands = [load.ptr, offsets, dst] + ([mask] if mask is not None else [])
        template = "%0[%1]" + (" mask = %3" if mask is not None else "") + " into %2 @contiguity :"
        copy = new_op("amdg.buffer_load_to_local", operands, [AsyncTokenType()], template,
                      {"contiguity": IntegerAttr(vec, IntegerType(32))})
        # Triton prints `: <f16>[tensor<...>]  -> <128x64xf16, #shared, #smem, mutable>`
        copy.syntax.pieces.append(Lit(" ", format_type(load.ptr.type).removeprefix("!tt.ptr") + "["))
        copy.syntax.pieces.append(TypeRef("", "operand", 1))
        copy.syntax.pieces.append(Lit("", "]"))
        copy.syntax.pieces.append(Lit("  ", "-> " + format_type(dst.type).removeprefix("!ttg.memdesc")))
        copy.properties["operandSegmentSizes"] = DenseArrayBase.from_list(
            IntegerType(32), [1, 1, 1, int(mask is not None), 0, 0])
        _commit_and_wait(write, copy)
    erase_dead(load)


LDS_LANE_BYTES = 4  # gfx942's buffer_load ... lds moves one dword per lane


def lds_layout(shape: list[int], order: list[int], vec: int, warp: int,
               num_warps: int) -> BlockedEncodingAttr:
    """Blocked layout of `vec`-element (4-byte) lanes, lanes then warps along `order` (fastest first), as
    Triton's CoalesceAsyncCopy pass makes it (e.g. 128x64 f16: [1, 2], [2, 32], [4, 1])."""
    rank = len(shape)
    size = [1] * rank
    size[order[0]] = vec
    threads, left = [1] * rank, warp
    for d in order:
        n = min(left, max(1, shape[d] // size[d]))
        threads[d], left = n, left // n
    threads[order[-1]] *= left
    warps, left = [1] * rank, num_warps
    for d in reversed(order):
        n = min(left, max(1, shape[d] // (size[d] * threads[d])))
        warps[d], left = n, left // n
    warps[order[0]] *= left
    return BlockedEncodingAttr([("sizePerThread", tuple(size)), ("threadsPerWarp", tuple(threads)),
                                ("warpsPerCTA", tuple(warps)), ("order", tuple(order))])


def _module_of(op: Operation) -> Operation:
    top = op
    while top.parent_op() is not None:
        top = top.parent_op()
    return top


def _int_attr(module: Operation, key: str) -> int:
    attr = module.attributes.get(key)
    return int(attr.value.data) if isinstance(attr, IntegerAttr) else int(str(attr).split(":")[0])


def _destination(write: Operation) -> SSAValue:
    """The buffer a write fills: a local_alloc becomes an empty mutable alloc; a local_store's operand."""
    if op_name_of(write) != "ttg.local_alloc":
        return write.operands[1]
    t = write.results[0].type
    assert isinstance(t, MemDescType)
    write.operands = []
    retype(write.results[0], MemDescType(t.shape, t.element_type, t.encoding, t.memory_space, True))
    write.syntax = syntax_from("ttg.local_alloc", ": () -> $r0")
    return write.results[0]


def _commit_and_wait(write: Operation, copy: Operation) -> None:
    """`copy`, commit, wait {num = 0} at the place of `write` (after an alloc, instead of a store)."""
    token = AsyncTokenType()
    commit = new_op("ttg.async_commit_group", [copy.results[0]], [token], "tokens %0")
    wait = new_op("ttg.async_wait", [commit.results[0]], [token], "%0 @num",
                  {"num": IntegerAttr(0, IntegerType(32))})
    if op_name_of(write) == "ttg.local_alloc":
        insert_after(write, copy, commit, wait)
    else:
        insert_before(write, copy, commit, wait)
        write.detach()
        write.erase()


def _async_copy(write: Operation, pointers: SSAValue, mask: SSAValue | None, other: SSAValue | None) -> None:
    """Replace the shared-memory write `write` of a loaded tile by an async copy of the same addresses."""
    dst = _destination(write)  # an alloc stays (later choices may name it), empty and mutable
    operands = [pointers, dst]
    template = "%0, %1"
    if mask is not None:
        operands.append(mask)
        template += f" mask %{len(operands) - 1}"
    if other is not None:
        operands.append(other)
        template += f" other %{len(operands) - 1}"
    template += " : $o0 ->"
    copy = new_op("ttg.async_copy_global_to_local", operands, [AsyncTokenType()], template)
    # Triton prints the destination as `<64x64xf16, #shared, #smem, mutable>`: one literal piece, which
    # a later shared_encoding choice reprints
    copy.syntax.pieces.append(Lit(" ", format_type(dst.type).removeprefix("!ttg.memdesc")))
    copy.properties["operandSegmentSizes"] = DenseArrayBase.from_list(
        IntegerType(32), [1, 1, int(mask is not None), int(other is not None)])
    _commit_and_wait(write, copy)
