"""Lowering of the `shared_encoding` choice: a `ttg.local_alloc` and every view of it get a new encoding.

The new encoding follows the buffer through `ttg.memdesc_index`/`memdesc_subslice` (same encoding),
`ttg.memdesc_trans` (the transposed encoding), loop-carried values (`scf.for` iteration arguments and
results) and `ttng.warp_group_dot_wait` pass-throughs, so every printed type stays consistent. Readers and
writers (`local_load`, `local_store`, `async_copy_global_to_local`, `local_dealloc`) keep their ops; the
async copy's destination type, which Triton prints as plain text, is reprinted. Users that need one
particular encoding make the choice illegal and raise: a wgmma operand must be `nvmma_shared`, a TMA
buffer must keep the encoding of its tensor descriptor, a barrier is not data.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import relink_literal_types, retype, with_encoding
from xdsl.ir import BlockArgument, Operation, SSAValue

from eqsat.ir.attributes import (
    AmdRotatingSharedEncodingAttr,
    MemDescType,
    NvmmaSharedEncodingAttr,
    PaddedSharedEncodingAttr,
    SharedEncoding,
    SwizzledSharedEncodingAttr,
)
from eqsat.ir.dialects import op_name_of, syntax_of
from eqsat.ir.layouts import encoding_from_text
from eqsat.ir.printer import format_type
from eqsat.ir.syntax import Lit

_SAME_VIEWS = {"ttg.memdesc_index", "ttg.memdesc_subslice"}
_READERS = {"ttg.local_load", "ttg.local_store", "ttg.local_dealloc", "ttg.async_copy_global_to_local",
            "amdg.buffer_load_to_local", "scf.yield"}
_TMA = {"ttng.async_tma_copy_global_to_local", "ttng.async_tma_copy_local_to_global",
        "ttng.async_tma_gather", "ttng.async_tma_scatter"}
_BARRIER_USERS = {"ttng.init_barrier", "ttng.inval_barrier", "ttng.barrier_expect", "ttng.wait_barrier",
                  "ttng.arrive_barrier"}


def apply_shared_encoding(op: Operation, params: dict[str, Any], fail) -> None:
    if op_name_of(op) != "ttg.local_alloc":
        raise fail(f"shared_encoding applies to ttg.local_alloc, not {op_name_of(op)}")
    enc = encoding_from_text(params["encoding"])
    if not isinstance(enc, SharedEncoding):
        raise fail(f"'{params['encoding']}' is not a shared encoding")
    result = op.results[0]
    t = result.type
    assert isinstance(t, MemDescType)
    if t.encoding == enc:
        return
    _check_rank(enc, t, fail)
    _propagate(result, enc, fail, set())


def _check_rank(enc: SharedEncoding, t: MemDescType, fail) -> None:
    order = enc.get("order")
    if order is not None and len(order) not in (len(t.shape), len(t.shape) - 1):
        raise fail(f"encoding of rank {len(order)} for a buffer of shape {list(t.shape)}")


def _propagate(value: SSAValue, enc: Any, fail, seen: set[SSAValue]) -> None:
    """Retype `value` (a memdesc) to `enc`, then follow it to every view and loop-carried copy."""
    if value in seen:
        return
    seen.add(value)
    for use in value.uses:
        relink_literal_types(use.operation)
    retype(value, with_encoding(value.type, enc))
    for use in list(value.uses):
        user = use.operation
        name = op_name_of(user)
        if name in _SAME_VIEWS:
            _propagate(user.results[0], enc, fail, seen)
        elif name == "ttg.memdesc_trans":
            _propagate(user.results[0], _transposed(enc, user, fail), fail, seen)
        elif name == "scf.for":
            k = use.index - 3
            if k < 0:
                raise fail("a buffer used as a loop bound")
            body = user.regions[0].blocks[0]
            _propagate(body.args[k + 1], enc, fail, seen)
            _propagate(user.results[k], enc, fail, seen)
        elif name == "scf.yield":
            _follow_yield(user, use.index, enc, fail, seen)
        elif name == "ttng.warp_group_dot":
            if not isinstance(enc, NvmmaSharedEncodingAttr):
                raise fail(f"operand {use.index} of ttng.warp_group_dot (wgmma) must be in an nvmma_shared "
                           "encoding")
        elif name == "ttng.warp_group_dot_wait":
            _propagate(user.results[use.index], enc, fail, seen)
        elif name in _TMA:
            raise fail(f"{name} writes the buffer in the encoding of its tensor descriptor")
        elif name in _BARRIER_USERS:
            raise fail("the buffer is an mbarrier, not data")
        elif name in _READERS:
            if name == "ttg.async_copy_global_to_local":
                _reprint_async_copy_destination(user)
        else:
            raise fail(f"the buffer is used by {name}, which eqsat cannot retype")


def _follow_yield(yield_op: Operation, index: int, enc: Any, fail, seen: set[SSAValue]) -> None:
    parent = yield_op.parent_op()
    if parent is None or op_name_of(parent) != "scf.for":
        raise fail(f"a buffer yielded by {op_name_of(parent) if parent else '?'}")
    body = parent.regions[0].blocks[0]
    _propagate(body.args[index + 1], enc, fail, seen)
    _propagate(parent.results[index], enc, fail, seen)
    init = parent.operands[3 + index]
    if init not in seen:
        _check_reaches(init, fail)
        _propagate(init, enc, fail, seen)


def _check_reaches(value: SSAValue, fail) -> None:
    if isinstance(value, BlockArgument):
        return
    if op_name_of(value.op) not in (*_SAME_VIEWS, "ttg.local_alloc", "ttg.memdesc_trans", "scf.for"):
        raise fail(f"a loop carries the buffer together with a value from {op_name_of(value.op)}")


def _transposed(enc: Any, trans: Operation, fail) -> Any:
    if isinstance(enc, NvmmaSharedEncodingAttr):
        return enc.replace(transposed=not enc.transposed)
    if isinstance(enc, SwizzledSharedEncodingAttr | AmdRotatingSharedEncodingAttr | PaddedSharedEncodingAttr):
        order = tuple(enc.get("order"))
        if len(order) != 2:
            raise fail("memdesc_trans of a buffer of rank other than 2")
        return enc.replace(order=tuple(reversed(order)))
    raise fail(f"memdesc_trans of a {enc.MNEMONIC} buffer")


def _reprint_async_copy_destination(copy: Operation) -> None:
    """Triton prints the destination of an async copy as `<shape, #enc, #smem, mutable>`; eqsat keeps it
    as literal text, which must follow the new type."""
    syntax = syntax_of(copy)
    if syntax is None:
        return
    text = format_type(copy.operands[1].type).removeprefix("!ttg.memdesc")
    for i, piece in enumerate(syntax.pieces):
        if isinstance(piece, Lit) and piece.text.startswith("<") and i > 0 and \
                isinstance(syntax.pieces[i - 1], Lit) and syntax.pieces[i - 1].text == "->":
            syntax.pieces[i] = Lit(piece.ws, text)
