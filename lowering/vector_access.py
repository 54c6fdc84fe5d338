"""Lowering of the `specialize` choice: a global load or store re-issued in a layout of 16-byte vectors.

    tt.load / amdg.buffer_load      re-issued in the layout (address, mask, other rematerialised), as the
                                    `load_layout` choice does (eqsat.lowering.load_layout.reissue_load)
    tt.store / amdg.buffer_store    address and mask rematerialised in the layout, the stored value
                                    converted to it once (`ttg.convert_layout`), the store cloned on them

The vector width itself comes from the arguments' `tt.divisibility` in the version's signature
(eqsat.lowering.specialize.specialize_signature), which Triton's LLVM lowering reads back into AxisInfo.
"""

from __future__ import annotations

from typing import Any

from eqsat.lowering.edits import clone_op, encoding_of, insert_before, new_op, with_encoding
from eqsat.lowering.load_layout import LOADS, reissue_load
from eqsat.lowering.rematerialize import Rematerializer
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation

from eqsat.ir.attributes import DistributedEncoding
from eqsat.ir.dialects import op_name_of
from eqsat.ir.layouts import encoding_from_text

STORES = ("tt.store", "amdg.buffer_store")


def reissue_access(op: Operation, params: dict[str, Any], fail: Any) -> Operation:
    name = op_name_of(op)
    if name not in LOADS + STORES:
        raise fail(f"specialize applies to {', '.join(LOADS + STORES)}, not {name}")
    layout = encoding_from_text(params["layout"])
    if not isinstance(layout, DistributedEncoding):
        raise fail(f"'{params['layout']}' is not a register layout")
    if name in LOADS:
        return reissue_load(op, layout)
    return reissue_store(op, layout)


def reissue_store(store: Operation, layout: Any) -> Operation:
    """Replace `store` by the same store of the same values with every tensor operand in `layout`."""
    value = store.value
    if isinstance(value.type, TensorType) and encoding_of(value.type) == layout:
        return store
    remat = Rematerializer(store)
    operands = []
    for v in store.operands:
        if v is value and isinstance(v.type, TensorType):
            cvt = new_op("ttg.convert_layout", [v], [with_encoding(v.type, layout)], "%0 : $o0 -> $r0")
            insert_before(store, cvt)
            operands.append(cvt.results[0])
        else:
            operands.append(remat.value(v, layout))
    new_store = clone_op(store, operands, [])
    insert_before(store, new_store)
    producers = list(store.operands)
    store.detach()
    store.erase()
    from eqsat.lowering.edits import erase_dead

    for v in producers:
        if hasattr(v, "op"):
            erase_dead(v.op)
    return new_store
