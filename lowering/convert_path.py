"""Lowering of the `convert_path` choice: how one `ttg.convert_layout` is done.

    drop     the convert is an identity (source and destination types equal): its uses read its operand
    via      two converts, source -> `layout` -> destination
    shared   an explicit round trip through shared memory: `ttg.local_alloc` of the register value with
             `encoding`, then `ttg.local_load` into the destination layout (Triton's membar pass inserts
             the barrier between the write and the read)
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import erase_dead, insert_before, new_op, replace_uses, with_encoding
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation

from eqsat.ir.attributes import (
    DistributedEncoding,
    MemDescType,
    PtrType,
    SharedEncoding,
    SharedMemorySpaceAttr,
)
from eqsat.ir.dialects import op_name_of
from eqsat.ir.layouts import encoding_from_text

_SMEM = SharedMemorySpaceAttr()


def convert(value, to_type, anchor: Operation) -> Operation:
    """A `ttg.convert_layout` of `value` to `to_type`, inserted before `anchor`."""
    op = new_op("ttg.convert_layout", [value], [to_type], "%0 : $o0 -> $r0")
    insert_before(anchor, op)
    return op


def apply_convert_path(op: Operation, params: dict[str, Any], fail) -> None:
    if op_name_of(op) != "ttg.convert_layout":
        raise fail(f"convert_path applies to ttg.convert_layout, not {op_name_of(op)}")
    src, result = op.operands[0], op.results[0]
    path = params["path"]
    if path == "drop":
        if src.type != result.type:
            raise fail("path 'drop' needs equal source and destination layouts "
                       f"({_enc(src.type)} vs {_enc(result.type)})")
        replace_uses(result, src)
        erase_dead(op)
        return
    if path == "via":
        layout = _encoding(params, "layout", DistributedEncoding, fail)
        first = convert(src, with_encoding(src.type, layout), op)
        op.operands[0] = first.results[0]
        return
    if path == "shared":
        encoding = _encoding(params, "encoding", SharedEncoding, fail)
        t = src.type
        assert isinstance(t, TensorType)
        if isinstance(t.element_type, PtrType):
            raise fail("a tensor of pointers cannot be stored in shared memory")
        memdesc = MemDescType(t.get_shape(), t.element_type, encoding, _SMEM)
        alloc = new_op("ttg.local_alloc", [src], [memdesc], "%0 : ($o0) -> $r0")
        load = new_op("ttg.local_load", [alloc.results[0]], [result.type], "%0 : $o0 -> $r0")
        insert_before(op, alloc, load)
        replace_uses(result, load.results[0])
        erase_dead(op)
        return
    raise fail(f"unknown convert path '{path}'")


def _encoding(params: dict[str, Any], key: str, kind: type, fail):
    if key not in params:
        raise fail(f"the choice lacks '{key}'")
    enc = encoding_from_text(params[key])
    if not isinstance(enc, kind):
        what = "register layout" if kind is DistributedEncoding else "shared encoding"
        raise fail(f"'{params[key]}' is not a {what}")
    return enc


def _enc(t) -> str:
    from eqsat.ir.printer import format_type

    return format_type(t)
