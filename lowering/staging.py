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

Not implemented (raise LoweringError): `stages` > 1 (software pipelining of a loop), `tma` (needs a
tensor descriptor of the global tensor: base, shape and strides the plan does not carry, and a mask that
equals the descriptor's bounds), `direct_to_lds`, and re-staging a tile that is already copied
asynchronously or transformed in registers before its write.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import erase_dead, insert_after, insert_before, new_op, retype, syntax_from
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, IntegerType, StringAttr, TensorType
from xdsl.ir import Operation, SSAValue

from eqsat.ir.attributes import AsyncTokenType, MemDescType
from eqsat.ir.dialects import op_name_of
from eqsat.ir.printer import format_type
from eqsat.ir.syntax import Lit

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
    if mode != "async_copy":
        raise fail(f"staging mode '{mode}' is not implemented")
    if _triton_target(op).startswith("hip"):
        raise fail("on CDNA3 an asynchronous copy moves at most 4 bytes per lane straight into LDS "
                   "(buffer_load ... lds): that is direct_to_lds, which is not implemented")
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


def _async_copy(write: Operation, pointers: SSAValue, mask: SSAValue | None, other: SSAValue | None) -> None:
    """Replace the shared-memory write `write` of a loaded tile by an async copy of the same addresses."""
    is_alloc = op_name_of(write) == "ttg.local_alloc"
    if is_alloc:
        # the alloc stays (later choices may name it): it loses its source and becomes mutable
        t = write.results[0].type
        assert isinstance(t, MemDescType)
        write.operands = []
        retype(write.results[0], MemDescType(t.shape, t.element_type, t.encoding, t.memory_space, True))
        write.syntax = syntax_from("ttg.local_alloc", ": () -> $r0")
        dst = write.results[0]
    else:
        dst = write.operands[1]
    operands = [pointers, dst]
    template = "%0, %1"
    if mask is not None:
        operands.append(mask)
        template += f" mask %{len(operands) - 1}"
    if other is not None:
        operands.append(other)
        template += f" other %{len(operands) - 1}"
    template += " : $o0 ->"
    token = AsyncTokenType()
    copy = new_op("ttg.async_copy_global_to_local", operands, [token], template)
    # Triton prints the destination as `<64x64xf16, #shared, #smem, mutable>`: one literal piece, which
    # a later shared_encoding choice reprints
    copy.syntax.pieces.append(Lit(" ", format_type(dst.type).removeprefix("!ttg.memdesc")))
    copy.properties["operandSegmentSizes"] = DenseArrayBase.from_list(
        IntegerType(32), [1, 1, int(mask is not None), int(other is not None)])
    commit = new_op("ttg.async_commit_group", [copy.results[0]], [token], "tokens %0")
    wait = new_op("ttg.async_wait", [commit.results[0]], [token], "%0 @num",
                  {"num": IntegerAttr(0, IntegerType(32))})
    if is_alloc:
        insert_after(write, copy, commit, wait)
    else:
        insert_before(write, copy, commit, wait)
        write.detach()
        write.erase()
