"""Footprints of global accesses: which argument a pointer starts at, how many bytes that argument has at
the launch, how many distinct bytes one CTA's tile touches, and (for a gather) the L1 work of its warps.

    base_arg             the kernel parameter the pointer is rooted at (`address.PtrValue.root`, the SSA
                         name mapped back to the parameter's name through the argument's location)
    footprint_bytes      that argument's bytes at the launch: numel x element size (a view: its extent)
    cta_footprint_bytes  32 x the distinct 32-byte sectors one program's tile touches (masked-off elements
                         excluded), the median over up to FOOTPRINT_PROGRAMS programs spread over the grid;
                         evaluated by `eqsat.dm.guard.MaskEvaluator` from program ids, launch scalars and,
                         for an indirect access, the index values of the launch's tensors
    launch_strides       per dim, the element stride of the evaluated offsets when constant along the dim
                         (a runtime stride's launch value; None where indices make it vary), first program
    l1                   an indirect access only: per CTA, issued in its own layout, `lines` = the sum over
                         warp instructions of the distinct 128-byte lines they touch, `wavefronts` = the sum
                         of the L1 data wavefronts (per instruction the most distinct 4-byte words one of
                         the 32 banks serves, at least the distinct bytes / 128), and `instructions`

Only accesses outside loops (depth 0) are evaluated: a loop's tiles stream, so a per-program footprint of
one iteration says nothing of reuse. Index tensors drawn `randint(lo, hi)` are not built: a counter-based
hash of the element index gives values of the same distribution (the bench's exact values do not change
how many rows a tile touches), so a 64M-element index costs nothing; other inits are built through the
launch (`LaunchValues.tensors`) up to MAX_BUILT_ELEMENTS elements. Anything not evaluable (a runtime
argument, a loop-carried pointer, an unknown init) leaves the key out; the cost model then prices the
access by its strides alone (costmodels/global_memory.py).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from xdsl.ir import OpResult, SSAValue

from eqsat.dm.guard import MaskEvaluator, Unknown, _programs
from eqsat.ir.dialects.base import op_name_of

FOOTPRINT_PROGRAMS = 4
MAX_BUILT_ELEMENTS = 1 << 22
SECTOR_BYTES = 32
LINE_BYTES = 128
BANKS = 32
_ITEM_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "int16": 2, "int32": 4,
               "int64": 8, "uint8": 1, "bool": 1, "float8_e4m3fn": 1, "float8_e5m2": 1}


def argument_bytes(name: str | None, table: Mapping[str, Any] | None) -> int | None:
    """Bytes of tensor argument `name` in a launch table (a view: the elements it spans), or None."""
    spec = ((table or {}).get("args") or {}).get(name) if name else None
    if not isinstance(spec, Mapping) or "shape" not in spec:
        return None
    item = _ITEM_BYTES.get(str(spec.get("dtype", "")))
    if item is None:
        return None
    if "view" in spec:
        from eqsat.ingest.launch import view_extent

        lo, hi = view_extent(spec)
        return (hi - lo + 1) * item
    return math.prod(int(s) for s in spec["shape"]) * item


class HashedRandint:
    """`randint(lo, hi)` values of a flattened tensor of `size` elements, element i a hash of (name, i):
    what `MaskEvaluator` reads from it (`data.size`, `data[offsets]`) without building the tensor."""

    def __init__(self, name: str, lo: int, hi: int, size: int):
        self.lo, self.span, self.size = int(lo), int(hi) - int(lo), int(size)
        self.seed = np.uint64(zlib.crc32(name.encode()) | 1)

    def __getitem__(self, index: Any) -> np.ndarray:
        with np.errstate(over="ignore"):  # splitmix64: wrapping multiplies are the point
            x = np.atleast_1d(np.asarray(index, dtype=np.int64)).astype(np.uint64)
            x = x * np.uint64(0x9E3779B97F4A7C15) + self.seed
            x ^= x >> np.uint64(30)
            x *= np.uint64(0xBF58476D1CE4E5B9)
            x ^= x >> np.uint64(27)
            x *= np.uint64(0x94D049BB133111EB)
            x ^= x >> np.uint64(31)
        out = (x % np.uint64(self.span)).astype(np.int64) + self.lo
        return out.reshape(np.shape(index))


class _Evaluator(MaskEvaluator):
    """MaskEvaluator that also sees through a register tile stored to shared memory and loaded back
    (`ttg.local_load` of a `ttg.local_alloc` of it: a layout conversion the lowering made explicit)."""

    def _compute(self, v: SSAValue) -> np.ndarray:
        if isinstance(v, OpResult) and op_name_of(v.op) == "ttg.local_load" and v.op.operands:
            src = v.op.operands[0]
            if isinstance(src, OpResult) and op_name_of(src.op) == "ttg.local_alloc" and src.op.operands:
                return self.value(src.op.operands[0])
        return super()._compute(v)


def _tensor(name: str, table: Mapping[str, Any] | None, values: Any) -> Any | None:
    """Launch values of argument `name` for the evaluator: hashed for randint, else built when small."""
    from eqsat.ingest.launch import numel, parse_init

    spec = ((table or {}).get("args") or {}).get(name)
    if not isinstance(spec, Mapping) or "shape" not in spec:
        return None
    n = numel(list(spec["shape"]))
    if "view" not in spec:
        try:
            kind, params = parse_init(spec.get("init", ""))
        except ValueError:
            return None
        if kind == "randint" and not spec.get("pad"):
            return HashedRandint(name, params[0], params[1], n + int(spec.get("offset", 0) or 0))
    if values is None or n > MAX_BUILT_ELEMENTS:
        return None
    return values.tensors({name}).get(name)


def _l1_work(offsets: np.ndarray, valid: np.ndarray, hw: np.ndarray, regs: int, lanes: int, vec: int,
             eb: int) -> tuple[float, float, float]:
    """(lines, wavefronts, instructions) of one CTA's tile: `hw` maps each (register, lane, warp) slot to
    its element (register least significant), `vec` registers per lane move in one instruction."""
    idx = tuple(hw[:, d] for d in range(hw.shape[1]))
    addr = offsets[idx].reshape(-1, lanes, regs)  # (warp, lane, register)
    ok = valid[idx].reshape(-1, lanes, regs)
    lines = wavefronts = instructions = 0.0
    for start in range(0, regs, vec):
        for w in range(addr.shape[0]):
            byte = addr[w, :, start:start + vec][ok[w, :, start:start + vec]] * eb
            if byte.size == 0:
                continue
            instructions += 1
            words = np.unique(byte // 4)
            lines += len(np.unique(byte // LINE_BYTES))
            bank_load = int(np.bincount(words % BANKS, minlength=BANKS).max())
            wavefronts += max(bank_load, math.ceil(len(words) * 4 / LINE_BYTES))
    return lines, wavefronts, instructions


def launch_strides(offsets: np.ndarray) -> list[int | None]:
    """Per dim, the element stride of an evaluated offset tile when it is the same everywhere along the dim
    (an affine dim: a runtime stride's value at the launch), else None (a gathered or non-affine dim)."""
    out: list[int | None] = []
    for d in range(offsets.ndim):
        if offsets.shape[d] < 2:
            out.append(0)
            continue
        diff = np.diff(offsets, axis=d)
        first = int(diff.reshape(-1)[0])
        out.append(first if np.all(diff == first) else None)
    return out


def footprint_info(ptr: SSAValue, mask: SSAValue | None, root: str | None, elem_bytes: int,
                   launch: Any | None, values: Any | None, layout: Any | None, vec: int,
                   indirect: bool, depth: int) -> dict[str, object]:
    """The footprint keys of one global access (module docstring); `launch` is the lift's `Launch`
    (grid, scalar args, table), `values` its `LaunchValues`, `layout` the pointer's linear layout."""
    out: dict[str, object] = {}
    if root is None:
        return out
    out["base_arg"] = root
    table = getattr(launch, "table", None)
    nbytes = argument_bytes(root, table)
    if nbytes is not None:
        out["footprint_bytes"] = nbytes
    if launch is None or depth > 0:
        return out
    args = dict(values.args) if values is not None else dict(launch.args)
    grid = tuple(launch.grid)
    tensors: dict[str, Any] = {}
    sectors: list[int] = []
    work: list[tuple[float, float, float]] = []
    hw = None
    regs = lanes = 1
    if indirect and layout is not None:
        hw = layout.apply_all()
        regs = layout.get_in_dim_size("register") if layout.has_in_dim("register") else 1
        lanes = layout.get_in_dim_size("lane") if layout.has_in_dim("lane") else 1
    for pid in _programs(grid, FOOTPRINT_PROGRAMS):
        for _ in range(4):  # each round may find one more argument tensor an index is read from
            try:
                ev = _Evaluator(args, pid, grid, tensors=tensors)
                offsets = np.asarray(ev.value(ptr), dtype=np.int64)
                valid = np.asarray(ev.value(mask), dtype=bool) if mask is not None else np.ones((), bool)
                break
            except Unknown as e:
                got = _tensor(e.tensor, table, values) if e.tensor and e.tensor not in tensors else None
                if got is None:
                    return out
                tensors[e.tensor] = got
            except (ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError):
                return out
        else:
            return out
        shape = np.broadcast_shapes(offsets.shape, valid.shape)
        offsets, ok = np.broadcast_to(offsets, shape), np.broadcast_to(valid, shape)
        sectors.append(len(np.unique(offsets[ok] * elem_bytes // SECTOR_BYTES)))
        if "launch_strides" not in out and shape:
            out["launch_strides"] = launch_strides(offsets)
        if hw is not None and shape and hw.shape[1] == len(shape):
            work.append(_l1_work(offsets, ok, hw, regs, lanes, max(1, vec), elem_bytes))
    if sectors:
        out["cta_footprint_bytes"] = int(np.median(sectors)) * SECTOR_BYTES
    if work:
        lines, wavefronts, instructions = (float(np.median([w[i] for w in work])) for i in range(3))
        out["l1"] = {"lines": lines, "wavefronts": wavefronts, "instructions": instructions}
    return out


__all__ = ["FOOTPRINT_PROGRAMS", "HashedRandint", "argument_bytes", "footprint_info", "launch_strides"]
