"""Lowering of the `load_layout` choice: re-issue a global load (`tt.load`, `amdg.buffer_load`) directly in
another register layout.

The load's pointer (or offsets), mask and other are rematerialised in the new layout
(`eqsat.lowering.rematerialize`), a copy of the load reads them, and the old load's consumers move over:
a `ttg.convert_layout` that consumed the old load now starts from the new one (and disappears when it
becomes an identity); every other consumer gets one convert back to the old layout. The old load and the
address chain only it used are erased.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import (
    clone_op,
    erase_dead,
    insert_after,
    insert_before,
    new_op,
    replace_uses,
    with_encoding,
)
from eqsat.lowering.rematerialize import Rematerializer
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation

from eqsat.ir.attributes import DistributedEncoding
from eqsat.ir.dialects import op_name_of
from eqsat.ir.layouts import encoding_from_text

LOADS = ("tt.load", "amdg.buffer_load")


def apply_load_layout(op: Operation, params: dict[str, Any], fail) -> Operation:
    """Re-issue load `op` in the choice's layout; returns the new load (the op itself if already there)."""
    name = op_name_of(op)
    if name not in LOADS:
        raise fail(f"load_layout applies to {' or '.join(LOADS)}, not {name}")
    layout = encoding_from_text(params["layout"])
    if not isinstance(layout, DistributedEncoding):
        raise fail(f"'{params['layout']}' is not a register layout")
    return reissue_load(op, layout)


def reissue_load(load: Operation, layout: Any) -> Operation:
    """Replace `load` by the same load issued in `layout`; returns the new load."""
    old = load.results[0]
    assert isinstance(old.type, TensorType)
    if old.type.encoding == layout:
        return load
    remat = Rematerializer(load)
    operands = [remat.value(v, layout) for v in load.operands]
    new_load = clone_op(load, operands, [with_encoding(old.type, layout)])
    insert_before(load, new_load)
    redirect_consumers(load, new_load)
    return new_load


def redirect_consumers(old_op: Operation, new_op_: Operation) -> None:
    """Consumers of `old_op`'s result read `new_op_`'s (same values, maybe another layout): converts start
    from it (identities vanish), other users get one convert back; then `old_op` and its dead chain go."""
    old, new = old_op.results[0], new_op_.results[0]
    back = None
    for use in list(old.uses):
        user = use.operation
        if op_name_of(user) == "ttg.convert_layout":
            if user.results[0].type == new.type:
                replace_uses(user.results[0], new)
                user.detach()
                user.erase()
            else:
                user.operands[0] = new
            continue
        if back is None:
            back = new_op("ttg.convert_layout", [new], [old.type], "%0 : $o0 -> $r0")
            insert_after(new_op_, back)
        user.operands[use.index] = back.results[0]
    producers = list(old_op.operands)
    old_op.detach()
    old_op.erase()
    for v in producers:
        if hasattr(v, "op"):
            erase_dead(v.op)
