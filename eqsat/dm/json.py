"""The dm graph as JSON: the `eqsat ingest --format json` contract of the design.

    {"kernel": "matmul", "target": "h100", "num_warps": 4, "threads_per_warp": 32,
     "ops": [{"id": 0, "kind": "local_alloc", "layout": "#ttg.nvmma_shared<{...}>", ...}, ...]}

Each op has:

    id, kind         as in the dm dialect (`kind` one of `eqsat.dm.dialect.KINDS`)
    origin           the Triton op name it was lifted from
    layout           the layout of the moved data where it lands: the destination layout, or the register
                     (source) layout for ops that write global memory; null for barriers and waits
    src_layout, dst_layout   Triton encodings as text (`#ttg.blocked<{...}>`), null where not a tile
    src_space, dst_space     "global" | "shared" | "registers" | null
    shape, dtype     tile shape (list of ints) and element type text ("f16", "i32"), null if none
    inputs           ids of the dm ops whose values reach this op (forward SSA edges)
    loop_inputs      ids reaching it only around a loop back edge
    buffer           id of the local_alloc whose shared memory it touches, or null
    depth            loop nesting
    access           null, or for global accesses {"class": "contiguous"|"strided"|"indirect",
                     "strides": [int | "symbolic expr" | null per dim], "fastest_dim", "contiguity",
                     "register_contiguity", "alignment", "mask_constancy", "vector_width",
                     "vector_bytes", "indirect_via": [ids], "base": "static"|"uniform_data",
                     "base_via": [ids]}: `indirect` is per-lane indirection (a gather/scatter, its
                     reads in `indirect_via`); a tile at a base loaded once per program (cu_seqlens,
                     a block-table entry) keeps its contiguous/strided class with `base` =
                     "uniform_data" and the reads that base depends on in `base_via`
    info             kind-specific facts (axis, order, num, efficient_layout, index_layout, b_layout, box);
                     for masked global accesses `guard` (`eqsat.dm.guard`): the power-of-two
                     `padded_shape`, and over the launch grid the `valid_shape` of the most masked tile
                     and the masked elements, bytes and idle lanes, or the runtime arguments it needs;
                     for ops in loops `trips` (`eqsat.dm.trips`): {"value", "assumed": 0, "from":
                     "launch"} (iterations of the loop nest per program reaching it, from the launch's
                     scalars and argument tensors) or {"assumed": 1, "reason", "runtime_args"}; for ops
                     on a branch (after an early return, in an scf.if arm) `conditions`: [{"origin":
                     "cf.cond_br"|"scf.if", "taken", "uniform", "via": [ids], "loc"}] and, when the
                     launch decides them, `executed_fraction` (of the grid's programs)
    loc              "file:line:col" or null
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, FloatAttr, IntAttr, ModuleOp, StringAttr
from xdsl.ir import Attribute

from eqsat.dm.dialect import AccessAttr, DMOp, KernelOp, LayoutAttr, format_type_text


def _value(a: Attribute) -> Any:
    if isinstance(a, LayoutAttr):
        return a.text
    if isinstance(a, IntAttr):
        return a.data
    if isinstance(a, FloatAttr):
        return float(a.value.data)
    if isinstance(a, StringAttr):
        return a.data
    if isinstance(a, ArrayAttr):
        return [_value(x) for x in a.data]
    if isinstance(a, DictionaryAttr):
        return {k: _value(v) for k, v in a.data.items()}
    return format_type_text(a)


def access_json(a: AccessAttr) -> dict[str, Any]:
    return {
        "class": a.klass.data,
        "strides": a.stride_values,
        "fastest_dim": None if a.fastest.data < 0 else a.fastest.data,
        "contiguity": a.contiguity.data,
        "register_contiguity": a.register_contiguity.data,
        "alignment": a.alignment.data,
        "mask_constancy": a.mask_constancy.data or None,
        "vector_width": a.vector_width.data or None,
        "vector_bytes": a.vector_bytes.data or None,
        "indirect_via": a.via,
        "base": "uniform_data" if a.base else "static",
        "base_via": a.base,
    }


_WRITES_GLOBAL = {"store", "indirect_store", "tma_store"}


def op_json(op: DMOp) -> dict[str, Any]:
    props = op.properties
    src = props["src_layout"].text if "src_layout" in props else None
    dst = props["dst_layout"].text if "dst_layout" in props else None
    info = _value(props["info"]) if "info" in props else {}
    src_space = info.pop("src_space", None)
    dst_space = info.pop("dst_space", None)
    layout = src if op.KIND in _WRITES_GLOBAL else (dst if dst is not None else src)
    inputs = []
    for v in op.inputs:
        owner = v.owner
        if isinstance(owner, DMOp):
            inputs.append(owner.ident)
    return {
        "id": op.ident,
        "kind": op.KIND,
        "origin": op.origin.data,
        "layout": layout,
        "src_layout": src,
        "dst_layout": dst,
        "src_space": src_space,
        "dst_space": dst_space,
        "shape": _value(props["shape"]) if "shape" in props else None,
        "dtype": format_type_text(props["dtype"]) if "dtype" in props else None,
        "inputs": inputs,
        "loop_inputs": _value(props["loop_inputs"]) if "loop_inputs" in props else [],
        "buffer": props["buffer"].data if "buffer" in props else None,
        "depth": props["depth"].data if "depth" in props else 0,
        "access": access_json(props["access"]) if "access" in props else None,
        "info": info,
        "loc": props["loc"].data if "loc" in props else None,
    }


def kernel_json(kernel: KernelOp, target: str | None = None) -> dict[str, Any]:
    return {
        "kernel": kernel.label.data if kernel.label is not None else kernel.sym_name.data,
        "target": target or kernel.target.data,
        "num_warps": kernel.num_warps.data,
        "threads_per_warp": kernel.threads_per_warp.data,
        "ops": [op_json(op) for op in kernel.ops],
    }


def to_json(module: ModuleOp | KernelOp, target: str | None = None) -> dict[str, Any]:
    """The JSON of the first public kernel (Triton puts the kernel first; helpers are inlined)."""
    if isinstance(module, KernelOp):
        return kernel_json(module, target)
    kernels = [op for op in module.ops if isinstance(op, KernelOp)]
    if not kernels:
        raise ValueError("no dm.kernel in module")
    return kernel_json(kernels[0], target)


dm_to_json = to_json

__all__ = ["access_json", "dm_to_json", "kernel_json", "op_json", "to_json"]
