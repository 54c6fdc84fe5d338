"""Lift a parsed TTGIR module (`TTModule`) into the `dm` dialect: one `dm.kernel` per `tt.func`.

Program order. The whole function body is walked in program order (`walk_function`): every block of
it in textual order (an early `return` makes Triton split the body with `cf.cond_br`; the ops after it
are in later blocks), descending into the regions of control flow (`scf.for`, `scf.if`, `scf.while`,
...) but not into the regions of movement ops (the combine region of `tt.reduce`). Each movement op
becomes one dm op; ids count up from 0 in that order, and `source_ops` (the lowering's map from dm ids
back to Triton ops) walks the same way. Ops inside loops (`scf.for`, `scf.while`) record their loop
nesting in `depth`.

Conditions. An op that runs only on some path (after an early return's `cf.cond_br`, inside an arm of
an `scf.if`) lists the branches in `info["conditions"]` (`eqsat.dm.cfg`: origin, the edge taken, whether
the condition is a scalar, the dm ops whose loaded values it reads, loc) and, when the launch values
decide them, `info["executed_fraction"]`: the fraction of the grid's programs that reach it.

Trips. An op inside loops has `info["trips"]` (`eqsat.dm.trips`): the iterations of its loop nest per
program, evaluated from the launch (scalar arguments, program ids, and bounds read from argument tensors,
built by `eqsat.ingest.launch.launch_tensors` only when a bound reads one), or why it is assumed.

Uniform bases. A global access whose address reads loaded data only through a part uniform over the
tile (a base or offset loaded once per program: cu_seqlens, a block-table entry) stays `load`/`store`
with `access.base_via` naming those reads; only per-lane indirection (`eqsat.dm.address`, lane sources)
makes `indirect_load`/`indirect_store`.

Which ops are movement ops (`MOVEMENT`, Triton op name -> kind):

    load / indirect_load     tt.load, amdg.buffer_load        (by the address class, `eqsat.dm.address`)
    store / indirect_store   tt.store, amdg.buffer_store, tt.atomic_rmw, tt.atomic_cas
    async_copy               ttg.async_copy_global_to_local, amdg.buffer_load_to_local
    async_wait               ttg.async_wait, ttng.async_tma_store_wait
    tma_load                 ttng.async_tma_copy_global_to_local, tt.descriptor_load, tt.descriptor_gather
    tma_store                ttng.async_tma_copy_local_to_global, tt.descriptor_store
    convert                  ttg.convert_layout, amdg.in_thread_transpose
    trans / gather / reduce  tt.trans / tt.gather / tt.reduce
    local_alloc/store/load   ttg.local_alloc / ttg.local_store / ttg.local_load
    barrier                  ttng.init_barrier, ttng.inval_barrier, ttng.barrier_expect, ttng.wait_barrier,
                             ttng.arrive_barrier, ttng.fence_async_shared, gpu.barrier
    dot                      tt.dot, tt.dot_scaled, ttng.warp_group_dot, ttng.tc_gen5_mma

`other` nodes (a choice, documented here): a compute op becomes a `dm.other` node when it yields a
tensor of data (not of pointers) computed from moved data, i.e. one of its operands is reached by a dm op:
elementwise arithmetic, casts, `tt.expand_dims`/`tt.broadcast`/`tt.splat`/`tt.reshape` of loaded tiles,
`arith.select`, masks computed from loaded values. These are the places where a layout is chosen for
compute, which rewrites that move conversions across compute need to see. Everything else (scalars,
address and index arithmetic that does not depend on moved data, pointer tensors, views of shared memory
such as `ttg.memdesc_index`, control flow, `ttg.async_commit_group`, `ttng.warp_group_dot_wait`) is an
edge only: data flows through it.

Edges. The inputs of a dm op are the dm ops whose values reach its operands through edge-only ops,
computed as a fixpoint over loop-carried values (an `scf.for` iteration argument is reached by its initial
value and by the value yielded back). Inputs that come from earlier dm ops are SSA operands; inputs that
only arrive around a loop back edge (a later op, or the op itself) are listed in `loop_inputs`.
Shared-memory ops also name the `dm.local_alloc` they read or write (`buffer`), following memdesc views,
so a store into a buffer and the loads from it share that node.

Run as `python -m eqsat.dm.lift FILE.ttgir [--format dm|json] [--target T]` to print the lifted module.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    Float64Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    NoneAttr,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Block, BlockArgument, Operation, OpResult, Region, SSAValue
from xdsl.printer import Printer

from eqsat.dm.address import (
    AddressAnalysis,
    IntValue,
    PtrValue,
    access_of,
    add_values,
    element_of,
    order_attr,
    program_invariant,
    shape_of,
    uniform,
)
from eqsat.dm.cfg import BRANCHES, Condition, ControlFlow, successors
from eqsat.dm.dialect import KIND_OPS, AccessAttr, DMOp, KernelOp, LayoutAttr
from eqsat.dm.footprint import footprint_info
from eqsat.dm.guard import guard_report
from eqsat.dm.trips import LaunchValues, enclosing_loops, executed_fraction, trip_report
from eqsat.errors import EqsatError
from eqsat.ir.attributes import MemDescType, PtrType, TensorDescType, element_bits
from eqsat.ir.dialects import op_name_of, syntax_of
from eqsat.ir.dialects.tt import FuncOp
from eqsat.ir.layouts import UnsupportedLayout, linear_layout_of
from eqsat.ir.parser import TTModule, VerbatimEntry, parse_file
from eqsat.ir.syntax import Def, Loc
from eqsat.layout import GuardedLayout

MOVEMENT: dict[str, str] = {
    "tt.load": "load",
    "amdg.buffer_load": "load",
    "tt.store": "store",
    "amdg.buffer_store": "store",
    "tt.atomic_rmw": "store",
    "tt.atomic_cas": "store",
    "amdg.buffer_atomic_rmw": "store",
    "amdg.buffer_atomic_cas": "store",
    "ttg.async_copy_global_to_local": "async_copy",
    "amdg.buffer_load_to_local": "async_copy",
    "ttg.async_wait": "async_wait",
    "ttng.async_tma_store_wait": "async_wait",
    "ttng.async_tma_copy_global_to_local": "tma_load",
    "tt.descriptor_load": "tma_load",
    "tt.descriptor_gather": "tma_load",
    "ttng.async_tma_copy_local_to_global": "tma_store",
    "tt.descriptor_store": "tma_store",
    "ttg.convert_layout": "convert",
    "amdg.in_thread_transpose": "convert",
    "tt.trans": "trans",
    "tt.gather": "gather",
    "tt.reduce": "reduce",
    "ttg.local_alloc": "local_alloc",
    "ttg.local_store": "local_store",
    "ttg.local_load": "local_load",
    "ttng.init_barrier": "barrier",
    "ttng.inval_barrier": "barrier",
    "ttng.barrier_expect": "barrier",
    "ttng.wait_barrier": "barrier",
    "ttng.arrive_barrier": "barrier",
    "ttng.fence_async_shared": "barrier",
    "gpu.barrier": "barrier",
    "tt.dot": "dot",
    "tt.dot_scaled": "dot",
    "ttng.warp_group_dot": "dot",
    "ttng.tc_gen5_mma": "dot",
}

GLOBAL_ACCESS = {"load", "store", "async_copy"}
LOOPS = {"scf.for", "scf.while"}
GUARD_DATA_PROGRAMS = 32  # programs a guard evaluates when its mask reads argument tensors
_MEMDESC_VIEWS = {"ttg.memdesc_index", "ttg.memdesc_subslice", "ttg.memdesc_trans", "ttg.memdesc_reshape",
                  "ttg.memdesc_reinterpret"}
_STRUCTURAL = {"scf.yield", "scf.condition", "tt.return", "cf.br", "cf.cond_br", "tt.func",
               "tt.reduce.return", "ttg.local_dealloc"}


# ------------------------------------------------------------------------------------ locations
class Locations:
    """Resolve `loc(#locN)` references to `file:line:col` through the file's `#locN = loc(...)` lines.
    A callsite resolves to its caller (the user's line rather than Triton's standard library)."""

    _DEF = re.compile(r"(#loc\d*)\s*=\s*loc\((.*)\)\s*$")

    def __init__(self, module: TTModule):
        self.defs: dict[str, str] = {}
        for e in module.entries:
            if isinstance(e, VerbatimEntry):
                m = self._DEF.match(e.text.strip())
                if m:
                    self.defs[m.group(1)] = m.group(2)

    def resolve(self, body: str, depth: int = 0) -> str | None:
        body = body.strip()
        if depth > 50:
            return None
        if body.startswith("#loc"):
            ref = self.defs.get(body)
            return None if ref is None else self.resolve(ref, depth + 1)
        m = re.fullmatch(r'"([^"]*)":(\d+):(\d+)(?:\s+to\s+.*)?', body)
        if m:
            return f"{m.group(1)}:{m.group(2)}:{m.group(3)}"
        m = re.fullmatch(r"callsite\((.*)\s+at\s+(.*)\)", body)
        if m:
            return self.resolve(m.group(2), depth + 1) or self.resolve(m.group(1), depth + 1)
        m = re.fullmatch(r'"[^"]*"\((.*)\)', body)
        if m:
            return self.resolve(m.group(1), depth + 1)
        m = re.fullmatch(r"fused\[(.*?)(?:,.*)?\]", body)
        if m:
            return self.resolve(m.group(1), depth + 1)
        return None

    def names(self, body: str, depth: int = 0) -> list[str]:
        """The chain of names of a name location, outermost first: `loc("hi"(#loc26))` with
        `#loc26 = loc("n"(#loc))` gives ["hi", "n"]."""
        body = body.strip()
        if depth > 50:
            return []
        if body.startswith("#loc"):
            ref = self.defs.get(body)
            return [] if ref is None else self.names(ref, depth + 1)
        m = re.fullmatch(r'"([^"]*)"\((.*)\)', body)
        if m:
            return [m.group(1), *self.names(m.group(2), depth + 1)]
        return []

    def argument_aliases(self, func: Operation) -> dict[str, str]:
        """SSA name -> the other names in its location, for every argument of `func` (Triton names an
        argument after the last variable bound to it; the parameter's own name is the innermost)."""
        syntax = syntax_of(func)
        if syntax is None or not func.regions or not func.regions[0].blocks:
            return {}
        args = func.regions[0].blocks[0].args
        out: dict[str, str] = {}
        current: int | None = None
        for p in syntax.pieces:
            if isinstance(p, Def) and p.region == 0:
                current = p.arg
            elif isinstance(p, Loc) and current is not None and current < len(args):
                ssa = (getattr(args[current], "eqsat_name", None) or "%").lstrip("%")
                names = self.names(p.text[len("loc("):-1])
                for name in reversed(names):  # the innermost (the parameter's name) wins
                    if name != ssa:
                        out[ssa] = name
                        break
                current = None
        return out

    def of(self, op: Operation) -> str | None:
        syntax = syntax_of(op)
        if syntax is None:
            return None
        locs = [p.text for p in syntax.pieces if isinstance(p, Loc)]
        if not locs:
            return None
        text = locs[-1]
        return self.resolve(text[len("loc("):-1])


# --------------------------------------------------------------------------------- program walk
def walk_program(block: Block, depth: int = 0) -> Iterator[tuple[Operation, int]]:
    """Ops in program order with their loop depth, entering control flow but not movement ops."""
    for op in block.ops:
        yield op, depth
        name = op_name_of(op)
        if name in MOVEMENT or not op.regions:
            continue
        inner = depth + (1 if name in LOOPS else 0)
        for region in op.regions:
            for b in region.blocks:
                yield from walk_program(b, inner)


def walk_function(func: Operation) -> Iterator[tuple[Operation, int]]:
    """Every op of a function in program order: its body's blocks in order (the blocks after an early
    return's `cf.cond_br` included), each walked by `walk_program`."""
    if not func.regions:
        return
    for block in func.regions[0].blocks:
        yield from walk_program(block)


def _terminator_operands(op: Operation) -> list[list[SSAValue]]:
    out = []
    for region in op.regions:
        for b in region.blocks:
            last = b.last_op
            if last is not None and op_name_of(last) in ("scf.yield", "scf.condition"):
                out.append(list(last.operands))
    return out


Reach = dict[SSAValue, frozenset[int]]


def _propagate(program: list[tuple[Operation, int]], node_of: dict[int, int]) -> Reach:
    """Which nodes reach each SSA value (fixpoint over loop-carried values)."""
    reach: Reach = {}

    def get(v: SSAValue) -> frozenset[int]:
        return reach.get(v, frozenset())

    def put(v: SSAValue, s: frozenset[int]) -> bool:
        old = reach.get(v, frozenset())
        new = old | s
        if new != old:
            reach[v] = new
            return True
        return False

    changed = True
    rounds = 0
    while changed and rounds < 50:
        changed = False
        rounds += 1
        for op, _ in program:
            name = op_name_of(op)
            node = node_of.get(id(op))
            if node is not None:
                for r in op.results:
                    changed |= put(r, frozenset({node}))
                continue
            ins = frozenset().union(*(get(v) for v in op.operands)) if op.operands else frozenset()
            if name in BRANCHES:  # values passed to the arguments of the successor blocks
                for block, passed in successors(op):
                    for arg, v in zip(block.args, passed, strict=False):
                        changed |= put(arg, get(v))
                continue
            if name == "scf.for":
                body = op.regions[0].blocks[0]
                yields = _terminator_operands(op)
                y = yields[0] if yields else []
                for k, arg in enumerate(body.args[1:]):
                    s = get(op.operands[3 + k]) if 3 + k < len(op.operands) else frozenset()
                    if k < len(y):
                        s = s | get(y[k])
                    changed |= put(arg, s)
                    if k < len(op.results):
                        changed |= put(op.results[k], s)
                continue
            if name == "scf.if":
                for ys in _terminator_operands(op):
                    for k, v in enumerate(ys[:len(op.results)]):
                        changed |= put(op.results[k], get(v))
                continue
            if name == "ttng.warp_group_dot_wait":
                for k, r in enumerate(op.results):
                    if k < len(op.operands):
                        changed |= put(r, get(op.operands[k]))
                continue
            if op.regions:  # scf.while and anything else with regions: everything reaches everything
                s = ins.union(*(get(v) for ys in _terminator_operands(op) for v in ys))
                for region in op.regions:
                    for b in region.blocks:
                        for a in b.args:
                            changed |= put(a, s)
                for r in op.results:
                    changed |= put(r, s)
                continue
            for r in op.results:
                changed |= put(r, ins)
    return reach


def _is_mask(t: Attribute) -> bool:
    return isinstance(t, TensorType) and isinstance(t.element_type, IntegerType) and \
        t.element_type.width.data == 1


def _is_data_tensor(t: Attribute) -> bool:
    return isinstance(t, TensorType) and not isinstance(t.element_type, PtrType)


# ------------------------------------------------------------------------------------- lifting
@dataclass
class _Plan:
    op: Operation
    depth: int
    kind: str  # before load/store refinement


def _encoding(t: Attribute) -> Attribute | None:
    if isinstance(t, TensorType) and not isinstance(t.encoding, NoneAttr):
        return t.encoding
    if isinstance(t, MemDescType):
        return t.encoding
    if isinstance(t, TensorDescType):
        return _encoding(t.block_type)
    return None


def _space(t: Attribute | None) -> str | None:
    if isinstance(t, MemDescType):
        return "shared"
    if isinstance(t, TensorType):
        return "global" if isinstance(t.element_type, PtrType) else "registers"
    if isinstance(t, PtrType | TensorDescType):
        return "global"
    return None


def _int_attr(op: Operation, key: str) -> int | None:
    a = op.attributes.get(key)
    if isinstance(a, IntegerAttr):
        return a.value.data
    return None


class Lifter:
    """Lifts one `tt.func` of a module."""

    def __init__(self, module: TTModule, func: Operation, locations: Locations, target: str | None = None,
                 label: str | None = None, launch: Launch | None = None):
        self.module = module
        self.launch = launch
        self.target = target
        self.label = label
        self.func = func
        self.locations = locations
        self.analysis = AddressAnalysis(func)
        self.num_warps = module.num_warps
        self.threads_per_warp = module.threads_per_warp
        self.control = ControlFlow(func)
        aliases = locations.argument_aliases(func)
        self.aliases = aliases
        self.values = launch.values().renamed(aliases) if launch is not None else None
        self._trips: dict[tuple[int, ...], dict[str, object] | None] = {}
        self._fractions: dict[tuple[int, ...], float | None] = {}

    # ------------------------------------------------------------------------------- planning
    def plan(self) -> list[_Plan]:
        program = list(walk_function(self.func))
        movers = {id(op): i for i, (op, _) in enumerate(program) if op_name_of(op) in MOVEMENT}
        reach = _propagate(program, movers)
        plans: list[_Plan] = []
        for op, depth in program:
            name = op_name_of(op)
            if name in MOVEMENT:
                plans.append(_Plan(op, depth, MOVEMENT[name]))
            elif self._is_other(op, name, reach):
                plans.append(_Plan(op, depth, "other"))
        self.program = program
        return plans

    def _is_other(self, op: Operation, name: str, reach: Reach) -> bool:
        if name in _STRUCTURAL or name in _MEMDESC_VIEWS or op.regions or name == "ttng.warp_group_dot_wait":
            return False
        if not any(_is_data_tensor(r.type) for r in op.results):
            return False
        return any(reach.get(v) for v in op.operands)

    # -------------------------------------------------------------------------------- lifting
    def lift(self) -> KernelOp:
        plans = self.plan()
        node_of = {id(p.op): i for i, p in enumerate(plans)}
        self.node_of = node_of
        reach = _propagate(self.program, node_of)
        block = Block()
        results: dict[int, SSAValue] = {}
        for i, p in enumerate(plans):
            dm = self._build(i, p, reach, results)
            block.add_op(dm)
            if dm.out is not None:
                dm.out.name_hint = f"d{i}"
                results[i] = dm.out
        target = self.target or self.module.triton_target or "?"
        name = self.func.sym_name if isinstance(self.func, FuncOp) else "?"
        return KernelOp(name, target, self.num_warps, self.threads_per_warp, Region(block), self.label)

    def _build(self, i: int, p: _Plan, reach: Reach, results: dict[int, SSAValue]) -> DMOp:
        op, kind = p.op, p.kind
        name = op_name_of(op)
        sources = sorted(frozenset().union(*(reach.get(v, frozenset()) for v in op.operands))
                         if op.operands else frozenset())
        forward = [s for s in sources if s < i and s in results]
        back = [s for s in sources if s not in forward]
        props: dict[str, Attribute] = {"id": IntAttr(i), "origin": StringAttr(name)}
        info: dict[str, Attribute] = {}
        src_t, dst_t = self._types(op, kind)
        src_enc = _encoding(src_t) if src_t is not None else None
        dst_enc = _encoding(dst_t) if dst_t is not None else None
        if src_enc is not None:
            props["src_layout"] = LayoutAttr(src_enc)
        if dst_enc is not None:
            props["dst_layout"] = LayoutAttr(dst_enc)
        src_space = "global" if kind in ("load", "tma_load", "async_copy") else _space(src_t)
        dst_space = "global" if kind in ("store", "tma_store") else _space(dst_t)
        if src_space:
            info["src_space"] = StringAttr(src_space)
        if dst_space:
            info["dst_space"] = StringAttr(dst_space)
        moved = self._moved_type(op, kind, src_t, dst_t)
        if moved is not None:
            shape = shape_of(moved)
            props["shape"] = ArrayAttr([IntAttr(d) for d in shape])
            props["dtype"] = element_of(moved)
        access = self._access(op, kind, name)
        if access is not None:
            props["access"] = access
            guard = self._guard(op, moved)
            if guard is not None:
                info["guard"] = guard
            if access.klass.data == "indirect" and kind in ("load", "store"):
                kind = "indirect_" + kind
            elif kind == "load" and self._program_invariant(op, name):
                info["program_invariant"] = _attr_of(True)
            if kind in GLOBAL_ACCESS or kind in ("indirect_load", "indirect_store"):
                info.update({k: _attr_of(v) for k, v in self._footprint(op, name, access, p.depth).items()})
        buffer = self._buffer(op)
        if buffer is not None:
            props["buffer"] = IntAttr(buffer)
        if p.depth:
            props["depth"] = IntAttr(p.depth)
            trips = self._trip_report(op)
            if trips is not None:
                info["trips"] = _attr_of(trips)
        conditions = self.control.conditions(op)
        if conditions:
            info["conditions"] = _attr_of([self._condition_json(c) for c in conditions])
            key = tuple(id(c.value) * 2 + int(c.taken) for c in conditions)
            if key not in self._fractions:
                self._fractions[key] = executed_fraction(conditions, self.values)
            if self._fractions[key] is not None:
                info["executed_fraction"] = _attr_of(float(self._fractions[key]))
        if back:
            props["loop_inputs"] = ArrayAttr([IntAttr(b) for b in back])
        info.update(self._info(op, kind, name))
        if info:
            props["info"] = DictionaryAttr(info)
        loc = self.locations.of(op)
        if loc:
            props["loc"] = StringAttr(loc)
        result_types = [op.results[0].type] if op.results else []
        cls = KIND_OPS[kind]
        return cls.create(operands=[results[s] for s in forward], result_types=result_types,
                          properties=props)

    # ------------------------------------------------------------------------- per-kind facts
    def _types(self, op: Operation, kind: str) -> tuple[Attribute | None, Attribute | None]:
        """(type before the move, type after the move)."""
        name = op_name_of(op)
        ops = op.operands
        res = op.results[0].type if op.results else None
        get = getattr
        if kind == "load":
            return None, res  # from global memory
        if kind == "store":
            value = get(op, "value", None) if name in ("tt.store", "amdg.buffer_store") else \
                get(op, "val", None) if name.startswith("tt.") else (ops[0] if ops else None)
            return (value.type if value is not None else None), None
        if kind == "async_copy":
            src = get(op, "src", None) or get(op, "offsets", None)
            dst = get(op, "result", None) or get(op, "dest", None)
            return (src.type if isinstance(src, SSAValue) else None,
                    dst.type if isinstance(dst, SSAValue) else None)
        if kind == "tma_load":
            if name == "ttng.async_tma_copy_global_to_local":
                return None, op.result.type
            return None, res
        if kind == "tma_store":
            if name == "ttng.async_tma_copy_local_to_global":
                return op.src.type, op.desc.type
            src = get(op, "src", None)
            return (src.type if src is not None else None), (ops[0].type if ops else None)
        if kind in ("convert", "trans", "gather", "local_load"):
            return ops[0].type, res
        if kind == "local_alloc":
            src = get(op, "src", None)
            return (src.type if src is not None else None), res
        if kind == "local_store":
            return op.src.type, op.dst.type
        if kind == "reduce":
            return ops[0].type, res
        if kind == "dot":
            return ops[0].type, res
        if kind == "other":
            first = next((v.type for v in ops if isinstance(v.type, TensorType)), None)
            return first, res
        return None, None

    def _moved_type(self, op: Operation, kind: str, src_t: Attribute | None,
                    dst_t: Attribute | None) -> Attribute | None:
        name = op_name_of(op)
        if kind in ("barrier", "async_wait"):
            return None
        if kind == "load" and name == "tt.load" or kind in ("convert", "trans", "gather", "local_load",
                                                              "reduce", "dot", "other"):
            return dst_t if dst_t is not None else src_t
        if kind == "load":  # amdg.buffer_load
            return op.results[0].type
        if kind == "store":
            return src_t
        if kind == "async_copy":
            return dst_t
        if kind == "tma_load":
            return dst_t if isinstance(dst_t, MemDescType | TensorType) else None
        if kind == "tma_store":
            if isinstance(src_t, MemDescType | TensorType):
                return src_t
            return dst_t.block_type if isinstance(dst_t, TensorDescType) else None
        if kind in ("local_alloc", "local_store"):
            return dst_t
        return None

    def _access(self, op: Operation, kind: str, name: str) -> AccessAttr | None:
        an = self.analysis
        try:
            if kind in GLOBAL_ACCESS:
                ptr, ptr_type, mask, elem_bytes = self._pointer(op, name)
                if ptr is None:
                    return None
                a = access_of(ptr, ptr_type, an, mask, self.num_warps, self.threads_per_warp, elem_bytes)
                return AccessAttr(a.klass, a.strides, -1 if a.fastest_dim is None else a.fastest_dim,
                                  a.contiguity, a.register_contiguity, a.alignment,
                                  a.mask_constancy or 0, a.vector_width, a.vector_bytes,
                                  self._dm_ids(a.indirect_via), self._dm_ids(a.base_via))
            if kind in ("tma_load", "tma_store"):
                return self._tma_access(op, name)
        except (ValueError, KeyError, IndexError, AttributeError) as e:  # pragma: no cover - be robust
            raise EqsatError(f"cannot analyse the address of {name}: {e}", self.module.filename) from None
        return None

    def _guard(self, op: Operation, moved: Attribute | None) -> DictionaryAttr | None:
        """The guard of a masked access: what its mask turns off over the launch grid (if known)."""
        mask = getattr(op, "mask", None)
        if not isinstance(mask, SSAValue) or not isinstance(mask.type, TensorType) or moved is None:
            return None
        try:
            layout = linear_layout_of(mask.type)
            layout = layout.layout if isinstance(layout, GuardedLayout) else layout
        except (UnsupportedLayout, ValueError):
            layout = None
        elem_bytes = max(1, element_bits(element_of(moved)) // 8)
        args = self.values.args if self.values else None
        grid = self.launch.grid if self.launch else None
        report = guard_report(mask, layout, elem_bytes, args, grid, op)
        tried: set[str] = set()
        while not report.evaluated and report.needs_tensor and self.values is not None \
                and report.needs_tensor not in tried:
            # a mask on loaded values (`offs < seq_len`): read them from the launch's tensors, on
            # fewer programs (each re-evaluates the mask's whole expression)
            tried.add(report.needs_tensor)
            tensors = self.values.tensors({report.needs_tensor})
            if report.needs_tensor not in tensors:
                break
            report = guard_report(mask, layout, elem_bytes, args, grid, op, tensors, GUARD_DATA_PROGRAMS)
        return _attr_of(report.to_dict())

    def _trip_report(self, op: Operation) -> dict[str, object] | None:
        loops = enclosing_loops(op)
        key = tuple(id(lp) for lp in loops)
        if key not in self._trips:
            outer = self.control.conditions(loops[0]) if loops else []
            self._trips[key] = trip_report(op, self.values, outer)
        return self._trips[key]

    def _condition_json(self, c: Condition) -> dict[str, object]:
        """A branch condition an op runs under: the branching op, the edge taken, where, whether it is
        the same for the whole program (a scalar), and the dm ops whose loaded values it depends on."""
        sources = self.analysis.value(c.value)
        via = self._dm_ids(sorted(sources.all_sources if isinstance(sources, PtrValue) else sources.sources))
        return {"origin": op_name_of(c.origin), "taken": c.taken,
                "uniform": not isinstance(c.value.type, TensorType), "via": via,
                "loc": self.locations.of(c.origin)}

    def _dm_ids(self, python_ids: tuple[int, ...] | list[int]) -> list[int]:
        return sorted({self.node_of[x] for x in python_ids if x in self.node_of})

    def _program_invariant(self, op: Operation, name: str) -> bool:
        """Whether every program of the grid loads the same addresses (`address.program_invariant`)."""
        try:
            ptr = self._pointer(op, name)[0]
        except (ValueError, KeyError, IndexError, AttributeError):
            return False
        return ptr is not None and program_invariant(ptr)

    def _footprint(self, op: Operation, name: str, access: AccessAttr, depth: int) -> dict[str, object]:
        """`base_arg`, `footprint_bytes`, `cta_footprint_bytes` and (indirect) `l1` of a global access
        (`eqsat.dm.footprint`); only pointer-tensor accesses (tt.load/tt.store/async copies) are evaluated."""
        if name not in ("tt.load", "tt.store", "ttg.async_copy_global_to_local"):
            return {}
        ptr, _, _, _ = self._pointer(op, name)
        if ptr is None or ptr.root is None:
            return {}
        ptr_v = op.src if name == "ttg.async_copy_global_to_local" else op.ptr
        mask_v = getattr(op, "mask", None)
        layout = None
        indirect = access.klass.data == "indirect"
        if indirect and isinstance(ptr_v.type, TensorType):
            try:
                ll = linear_layout_of(ptr_v.type)
                layout = ll.layout if isinstance(ll, GuardedLayout) else ll
            except (UnsupportedLayout, ValueError):
                layout = None
        root = self.aliases.get(ptr.root, ptr.root)
        return footprint_info(ptr_v, mask_v if isinstance(mask_v, SSAValue) else None, root,
                              ptr.elem_bytes, self.launch, self.values, layout,
                              access.vector_width.data, indirect, depth)

    def _pointer(self, op: Operation,
                 name: str) -> tuple[PtrValue | None, Attribute, IntValue | None, int | None]:
        an = self.analysis
        mask_v = getattr(op, "mask", None)
        mask = an.int_value(mask_v) if isinstance(mask_v, SSAValue) else None
        if name in ("amdg.buffer_atomic_rmw", "amdg.buffer_atomic_cas"):  # opaque: find roles by type
            k = next(i for i, v in enumerate(op.operands) if isinstance(v.type, PtrType))
            ptr_arg, off_arg = op.operands[k], op.operands[k + 1]
            rest = [v for v in op.operands[k + 2:] if _is_mask(v.type)]
            mask = an.int_value(rest[0]) if rest else None
        elif name in ("amdg.buffer_load", "amdg.buffer_store", "amdg.buffer_load_to_local"):
            ptr_arg, off_arg = op.ptr, op.offsets
        else:
            ptr_arg = off_arg = None
        if ptr_arg is not None and off_arg is not None:
            base = an.value(ptr_arg)
            offsets = an.int_value(off_arg)
            if not isinstance(base, PtrValue):
                return None, off_arg.type, mask, None
            b = base.offset
            off = add_values(uniform(offsets.shape, b.base, b.sources, b.rdiv), offsets)
            ptr = PtrValue(base.root, base.root_div, base.elem_bytes, off, base.sources)
            return ptr, off_arg.type, mask, base.elem_bytes
        ptr_v = op.src if name == "ttg.async_copy_global_to_local" else op.ptr
        ptr = an.value(ptr_v)
        if not isinstance(ptr, PtrValue):
            return None, ptr_v.type, mask, None
        return ptr, ptr_v.type, mask, None

    def _tma_access(self, op: Operation, name: str) -> AccessAttr | None:
        """TMA moves a box whose innermost stride is 1 (a rule of TMA). Its coordinates are scalars: one
        read from loaded data (paged KV with TMA) is a uniform data-dependent base (`base_via`); only
        `tt.descriptor_gather`'s per-row offsets tensor is per-lane indirection. No per-thread vectors:
        width 0."""
        an = self.analysis
        coords = list(getattr(op, "coord", None) or getattr(op, "indices", None) or [])
        if name == "tt.descriptor_gather":
            coords = [op.x_offsets, op.y_offset]
        desc_t = op.operands[0].type
        block = desc_t.block_type if isinstance(desc_t, TensorDescType) else None
        shape = shape_of(block) if block is not None else ()
        lanes: set[int] = set()
        base: set[int] = set()
        for c in coords:
            v = an.value(c)
            s = set(v.all_sources if isinstance(v, PtrValue) else v.sources)
            (lanes if isinstance(c.type, TensorType) and shape_of(c.type) and not (
                isinstance(v, IntValue) and v.uniform) else base).update(s)
        strides: list[int | str | None] = [None] * max(0, len(shape) - 1) + [1] if shape else []
        klass = "indirect" if lanes else "contiguous"
        inner = shape[-1] if shape else 1
        return AccessAttr(klass, strides, len(shape) - 1, inner, 0, 0, 0, 0, 0, self._dm_ids(sorted(lanes)),
                          self._dm_ids(sorted(base - lanes)))

    def _buffer(self, op: Operation) -> int | None:
        """The allocation of the shared memory the op moves data into or out of (for a TMA load the
        destination, not the mbarrier); else of its first memdesc operand."""
        name = op_name_of(op)
        role = {"ttng.async_tma_copy_global_to_local": "result", "ttg.async_copy_global_to_local": "result",
                "ttg.local_store": "dst", "ttng.async_tma_copy_local_to_global": "src",
                "ttg.local_load": "src", "amdg.buffer_load_to_local": "dest"}.get(name)
        candidates = [getattr(op, role)] if role else list(op.operands)
        for v in candidates:
            if isinstance(v, SSAValue) and isinstance(v.type, MemDescType):
                return self._alloc_id(v)
        return None

    def _alloc_id(self, v: SSAValue) -> int | None:
        alloc = _alloc_of(v)
        if alloc is not None and id(alloc) in self.node_of:
            return self.node_of[id(alloc)]
        return None

    def _info(self, op: Operation, kind: str, name: str) -> dict[str, Attribute]:
        info: dict[str, Attribute] = {}
        for key in ("axis", "num", "pendings"):
            v = _int_attr(op, key)
            if v is not None:
                info[key] = IntAttr(v)
        if kind == "gather":
            info["efficient_layout"] = IntAttr(1 if "efficient_layout" in op.attributes else 0)
            enc = _encoding(op.operands[1].type)
            if enc is not None:
                info["index_layout"] = LayoutAttr(enc)
        if kind == "trans":
            order = order_attr(op)
            if order is not None:
                info["order"] = ArrayAttr([IntAttr(x) for x in order])
        if kind == "dot" and len(op.operands) >= 2:
            enc = _encoding(op.operands[1].type)
            if enc is not None:
                info["b_layout"] = LayoutAttr(enc)
            info["b_space"] = StringAttr(_space(op.operands[1].type) or "?")
            b = op.operands[1]
            b_buffer = self._alloc_id(b) if isinstance(b.type, MemDescType) else None
            if b_buffer is not None:
                info["b_buffer"] = IntAttr(b_buffer)
            info["a_space"] = StringAttr(_space(op.operands[0].type) or "?")
            if isinstance(op.attributes.get("isAsync"), IntegerAttr | UnitAttr):
                info["async"] = IntAttr(_int_attr(op, "isAsync") or 1)
        if kind == "local_alloc" and op.results and isinstance(op.results[0].type, MemDescType):
            t = op.results[0].type
            info["mutable"] = IntAttr(1 if t.is_mutable else 0)
        if name == "ttng.async_tma_copy_global_to_local":
            barrier = self._alloc_id(op.barrier)
            if barrier is not None:
                info["barrier"] = IntAttr(barrier)
        if kind == "tma_load" or kind == "tma_store":
            desc_t = op.operands[0].type
            if isinstance(desc_t, TensorDescType):
                info["box"] = ArrayAttr([IntAttr(d) for d in shape_of(desc_t.block_type)])
        return info


def _alloc_of(v: SSAValue, depth: int = 0) -> Operation | None:
    """The `ttg.local_alloc` a memdesc value views (through memdesc views and loop arguments)."""
    if depth > 100:
        return None
    if isinstance(v, OpResult):
        name = op_name_of(v.op)
        if name == "ttg.local_alloc":
            return v.op
        if name in _MEMDESC_VIEWS and v.op.operands:
            return _alloc_of(v.op.operands[0], depth + 1)
        if name == "scf.for" and 3 + v.index < len(v.op.operands):
            return _alloc_of(v.op.operands[3 + v.index], depth + 1)
        if name == "ttng.warp_group_dot_wait" and v.index < len(v.op.operands):
            return _alloc_of(v.op.operands[v.index], depth + 1)
        return None
    if isinstance(v, BlockArgument):
        owner = v.block.parent_op()
        if owner is not None and op_name_of(owner) == "scf.for" and v.index >= 1:
            return _alloc_of(owner.operands[3 + v.index - 1], depth + 1)
    return None


# ------------------------------------------------------------------------------------ entry points
def functions(module: TTModule) -> list[Operation]:
    return [op for op in module.walk() if op_name_of(op) == "tt.func"]


@dataclass(frozen=True)
class Launch:
    """What is known of a launch before run time: scalar argument values and the grid (for guards and
    loop trips), and the manifest's launch table (`table`), whose tensors are built (on the CPU, by
    `eqsat.ingest.launch.launch_tensors`) only when a loop bound or branch reads one."""

    args: dict[str, int]
    grid: tuple[int, int, int]
    table: dict | None = field(default=None, compare=False, hash=False, repr=False)

    @staticmethod
    def from_manifest(launch: dict | None) -> Launch | None:
        """From a corpus manifest's `[kernel.launch]` table (scalar args; tensors built when needed)."""
        if not launch:
            return None
        grid = list(launch.get("grid", [1]))
        args = {k: v for k, v in launch.get("args", {}).items()
                if isinstance(v, int) and not isinstance(v, bool)}
        return Launch(args, tuple(grid + [1] * (3 - len(grid))), launch)  # type: ignore[arg-type]

    def values(self) -> LaunchValues:
        """The evaluator's view of this launch (one per Launch: its tensors are built at most once)."""
        got = self.__dict__.get("_values")
        if got is None:
            got = LaunchValues(self.args, self.grid, self._tensors if self.table else None)
            object.__setattr__(self, "_values", got)
        return got

    def _tensors(self, names: set[str]) -> dict[str, np.ndarray]:
        """Tensor arguments `names` of the launch as flat numpy arrays (integers as int64, floats as
        float64). Only they, and what they are made from (a view's storage, a `diff(x)`'s x), are built:
        the values of an argument depend on its own table alone."""
        args = (self.table or {}).get("args", {})
        need: set[str] = set()
        todo = [n for n in names if isinstance(args.get(n), dict)]
        while todo:
            n = todo.pop()
            if n in need or not isinstance(args.get(n), dict):
                continue
            need.add(n)
            spec = args[n]
            todo += [spec["view"]] if isinstance(spec.get("view"), str) else []
            todo += re.findall(r"^\s*diff\(\s*(\w+)\s*\)", str(spec.get("init", "")))
        if not need:
            return {}
        try:
            from eqsat.ingest.launch import launch_tensors
        except ImportError:
            return {}
        table = {**self.table, "args": {k: v for k, v in args.items() if k in need}}
        out = {}
        for name, t in launch_tensors(table).items():
            if name in names:
                flat = t.reshape(-1)
                out[name] = (flat.double() if flat.is_floating_point() else flat.long()).numpy()
        return out


def _attr_of(value: object) -> Attribute:
    """A JSON-like value (dict, list, int, str, bool, None) as a dm property attribute."""
    if isinstance(value, dict):
        return DictionaryAttr({k: _attr_of(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return ArrayAttr([_attr_of(v) for v in value])
    if isinstance(value, bool):
        return IntAttr(int(value))
    if isinstance(value, int):
        return IntAttr(value)
    if isinstance(value, float):
        return FloatAttr(value, Float64Type())
    if value is None:
        return NoneAttr()
    return StringAttr(str(value))


def lift(module: TTModule, kernel: str | None = None, target: str | None = None,
         launch: Launch | None = None) -> ModuleOp:
    """The `dm` module of a parsed TTGIR module: one `dm.kernel` per `tt.func`, in file order.
    `kernel` labels the first kernel (its corpus name), `target` names the target ("h100"); by default
    the module's `ttg.target` ("cuda:90"). `launch` (argument values, grid) lets guards of masked
    accesses be evaluated; without it they name the runtime arguments they depend on."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        locations = Locations(module)
        kernels = [Lifter(module, f, locations, target, kernel if i == 0 else None, launch).lift()
                   for i, f in enumerate(functions(module))]
    finally:
        sys.setrecursionlimit(limit)
    if not kernels:
        raise EqsatError("no tt.func in module", module.filename)
    return ModuleOp(kernels)


lift_module = lift


def source_ops(module: TTModule, func: Operation | None = None) -> list[Operation]:
    """The Triton op each dm op of `func` (default: the first `tt.func`) was lifted from, indexed by dm op
    id: `source_ops(m)[i]` is the op behind `{"id": i}` of `eqsat ingest --format json`."""
    funcs = functions(module)
    if not funcs:
        raise EqsatError("no tt.func in module", module.filename)
    lifter = Lifter(module, func if func is not None else funcs[0], Locations(module))
    return [p.op for p in lifter.plan()]


def print_dm(module: ModuleOp) -> str:
    import io

    stream = io.StringIO()
    Printer(stream=stream).print_op(module)
    return stream.getvalue() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eqsat-lift", description="Lift TTGIR into the dm dialect.")
    parser.add_argument("path")
    parser.add_argument("--format", choices=("dm", "json"), default="dm")
    parser.add_argument("--target", default=None, help="target name to record in the JSON (default: the "
                        "module's ttg.target)")
    args = parser.parse_args(argv)
    try:
        module = parse_file(args.path)
        dm = lift(module)
        if args.format == "json":
            import json

            from eqsat.dm.json import to_json

            sys.stdout.write(json.dumps(to_json(dm, args.target), indent=1) + "\n")
        else:
            sys.stdout.write(print_dm(dm))
    except EqsatError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    return 0


__all__ = ["MOVEMENT", "Launch", "Lifter", "lift", "lift_module", "main", "print_dm", "source_ops",
           "walk_function", "walk_program"]


if __name__ == "__main__":
    sys.exit(main())
