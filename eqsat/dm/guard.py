"""Guards of masked accesses: the valid region of a power-of-two tile, and what the mask wastes.

Triton tiles are powers of two; a kernel over a ragged extent (1000 columns, the tail of a 1D copy)
masks the rest off. eqsat represents such an access as the power-of-two layout plus a guard: the region
of the tile whose elements are real. When the mask's inputs are known (constants, or the launch
arguments and grid of a corpus manifest), `MaskEvaluator` computes the mask of each program exactly by
evaluating the index arithmetic with numpy, and `guard_report` says, over the launch grid, how many
elements, bytes and whole lanes the mask turns off, and whether the valid region is a box (`valid_shape`,
as in `eqsat.layout.GuardedLayout`). When an input is only known at run time (a `.ttgir` file without a
launch table), the report names the arguments the guard depends on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Block, BlockArgument, Operation, OpResult, SSAValue

from eqsat.ir.attributes import PtrType
from eqsat.ir.dialects.base import op_name_of, syntax_of
from eqsat.ir.syntax import Lit
from eqsat.layout import LinearLayout

MAX_PROGRAMS = 256  # programs evaluated per access (evenly spaced over the grid, the last included)
MAX_ITERATIONS = 64  # iterations of each enclosing loop evaluated (evenly spaced, the last included)
MAX_WHILE_ITERATIONS = 1 << 16  # an scf.while evaluated past this many iterations is not evaluated


class Unknown(Exception):
    """The value depends on something not known before run time (loaded data, a runtime argument)."""

    def __init__(self, why: str, runtime_args: frozenset[str] = frozenset(), tensor: str | None = None):
        super().__init__(why)
        self.runtime_args = runtime_args
        self.tensor = tensor  # the argument tensor whose values would decide it


_BINARY = {
    "arith.addi": np.add, "arith.subi": np.subtract, "arith.muli": np.multiply,
    "arith.andi": np.bitwise_and, "arith.ori": np.bitwise_or, "arith.xori": np.bitwise_xor,
    "arith.maxsi": np.maximum, "arith.minsi": np.minimum, "arith.maxui": np.maximum,
    "arith.minui": np.minimum,
}
_CMP = {"slt": np.less, "ult": np.less, "sle": np.less_equal, "ule": np.less_equal, "sgt": np.greater,
        "ugt": np.greater, "sge": np.greater_equal, "uge": np.greater_equal, "eq": np.equal,
        "ne": np.not_equal}
_PASS_THROUGH = {"arith.extsi", "arith.extui", "arith.trunci", "arith.index_cast", "ttg.convert_layout",
                 "amdg.in_thread_transpose"}
_POINTER_PATH = {"tt.addptr", "tt.splat", "tt.broadcast", "tt.expand_dims", "ttg.convert_layout",
                 "tt.reshape"}


def _shape(v: SSAValue) -> tuple[int, ...]:
    return tuple(v.type.get_shape()) if isinstance(v.type, TensorType) else ()


def _literal_words(op: Operation) -> list[str]:
    syntax = syntax_of(op)
    return [p.text for p in syntax.pieces if isinstance(p, Lit)] if syntax else []


class MaskEvaluator:
    """Evaluates integer/boolean tensors of one kernel for given argument values and program id.

    Pointers evaluate to their element offsets from the kernel argument they start at (`root`). With
    `tensors` (argument name -> the launch's values, flattened), a `tt.load` through such a pointer reads
    them: loop bounds and branch conditions read from argument tensors (`cu_seqlens`, `seq_lens`)."""

    def __init__(self, args: Mapping[str, int], program_id: tuple[int, int, int],
                 grid: tuple[int, int, int], induction: Mapping[SSAValue, int] | None = None,
                 tensors: Mapping[str, np.ndarray] | None = None):
        self.args = dict(args)
        self.program_id = program_id
        self.grid = grid
        self.tensors = tensors or {}
        self.cache: dict[SSAValue, np.ndarray] = {v: np.array(i, dtype=np.int64)
                                                  for v, i in (induction or {}).items()}

    def root(self, v: SSAValue, depth: int = 0) -> str | None:
        """The kernel argument a pointer value starts at (through addptr and shape ops), or None."""
        if depth > 200:
            return None
        if isinstance(v, BlockArgument):
            owner = v.owner.parent_op() if isinstance(v.owner, Block) else None
            if owner is not None and op_name_of(owner) == "tt.func" and v.owner is owner.regions[0].blocks[0]:
                return getattr(v, "eqsat_name", "%?")[1:]
            return None
        if isinstance(v, OpResult) and op_name_of(v.op) in _POINTER_PATH and v.op.operands:
            return self.root(v.op.operands[0], depth + 1)
        return None

    def _load(self, op: Operation) -> np.ndarray:
        ptr = op.operands[0]
        root = self.root(ptr)
        if root is None or root not in self.tensors:
            raise Unknown(f"a value loaded from {root or 'memory'} (the launch does not give it)",
                          tensor=root)
        data = self.tensors[root]
        offsets = np.asarray(self.value(ptr), dtype=np.int64)
        mask_v = getattr(op, "mask", None)
        mask = np.asarray(self.value(mask_v), dtype=bool) if isinstance(mask_v, SSAValue) else None
        inside = (offsets >= 0) & (offsets < data.size)
        if not np.all(inside | (~mask if mask is not None else False)):
            raise Unknown(f"a load of {root} outside the launch's tensor")
        got = data[np.clip(offsets, 0, max(0, data.size - 1))]
        if mask is None:
            return got
        other_v = getattr(op, "other", None)
        other = self.value(other_v) if isinstance(other_v, SSAValue) else 0
        return np.where(mask, got, other)

    def value(self, v: SSAValue) -> np.ndarray:
        if v not in self.cache:
            self.cache[v] = np.broadcast_to(self._compute(v), _shape(v)) if _shape(v) else self._compute(v)
        return self.cache[v]

    def _compute(self, v: SSAValue) -> np.ndarray:
        if isinstance(v, BlockArgument):
            name = getattr(v, "eqsat_name", "%?")[1:]
            owner = v.owner.parent_op() if isinstance(v.owner, Block) else None
            if owner is not None and op_name_of(owner) == "tt.func" and v.owner is owner.regions[0].blocks[0]:
                if isinstance(v.type, PtrType):
                    return np.array(0, dtype=np.int64)  # offsets from this argument (see `root`)
                if name in self.args:
                    return np.array(self.args[name], dtype=np.int64)
                raise Unknown(f"argument {name} is known only at run time", frozenset({name}))
            raise Unknown("a loop-carried value")
        assert isinstance(v, OpResult)
        op = v.op
        name = op_name_of(op)
        ops = op.operands
        if name == "arith.constant":
            return self._constant(op)
        if name == "tt.get_program_id":
            axis = "xyz".index(next(w for w in _literal_words(op) if w in ("x", "y", "z")))
            return np.array(self.program_id[axis], dtype=np.int64)
        if name == "tt.get_num_programs":
            axis = "xyz".index(next(w for w in _literal_words(op) if w in ("x", "y", "z")))
            return np.array(self.grid[axis], dtype=np.int64)
        if name == "tt.make_range":
            start = op.attributes["start"].value.data
            end = op.attributes["end"].value.data
            return np.arange(start, end, dtype=np.int64)
        if name in ("tt.splat", "tt.broadcast"):
            return np.broadcast_to(self.value(ops[0]), _shape(v))
        if name == "tt.expand_dims":
            return np.expand_dims(self.value(ops[0]), op.attributes["axis"].value.data)
        if name == "tt.trans":
            order = [int(x) for x in re.findall(r"-?\d+", _attr_text(op, "order"))]
            return np.transpose(self.value(ops[0]), order)
        if name in _PASS_THROUGH:
            return self.value(ops[0])
        if name == "tt.addptr":
            return np.add(self.value(ops[0]), self.value(ops[1]))
        if name == "tt.load":
            return self._load(op)
        if name in _BINARY:
            return _BINARY[name](self.value(ops[0]), self.value(ops[1]))
        if name in ("arith.divsi", "arith.divui", "arith.remsi", "arith.remui", "arith.ceildivsi",
                    "arith.floordivsi"):
            a, b = self.value(ops[0]), self.value(ops[1])
            if np.any(b == 0):
                raise Unknown("division by zero")
            if name == "arith.ceildivsi":
                return -np.floor_divide(-a, b)
            if name == "arith.floordivsi":
                return np.floor_divide(a, b)
            q = np.trunc(a / b).astype(np.int64)
            return q if "div" in name else a - q * b
        if name == "arith.shli":
            return np.left_shift(self.value(ops[0]), self.value(ops[1]))
        if name in ("arith.shrsi", "arith.shrui"):
            return np.right_shift(self.value(ops[0]), self.value(ops[1]))
        if name == "arith.cmpi":
            predicate = next(w for w in _literal_words(op) if w in _CMP)
            return _CMP[predicate](self.value(ops[0]), self.value(ops[1]))
        if name == "arith.select":
            return np.where(self.value(ops[0]), self.value(ops[1]), self.value(ops[2]))
        if name == "scf.if":
            cond = self.value(ops[0])
            if cond.shape:
                raise Unknown("an scf.if on a tensor")
            k = 0 if bool(cond) else 1
            if k >= len(op.regions) or not op.regions[k].blocks or op.regions[k].blocks[0].last_op is None:
                raise Unknown("an scf.if without the taken region")
            region = op.regions[k]
            return self._in_region(region.blocks[0], {}).value(region.blocks[0].last_op.operands[v.index])
        if name == "scf.while":
            return self.run_while(op)[1][v.index]
        raise Unknown(f"{name} is not evaluated before run time")

    def _in_region(self, block: Block, bindings: Mapping[SSAValue, np.ndarray]) -> MaskEvaluator:
        """An evaluator for the ops of `block` with its arguments bound (values outside it are shared;
        values inside it are computed afresh, as each iteration of a loop needs)."""
        inner = MaskEvaluator(self.args, self.program_id, self.grid, tensors=self.tensors)
        inside = {id(o) for o in block.walk()}
        inner.cache = {k: x for k, x in self.cache.items()
                       if not (isinstance(k, OpResult) and id(k.op) in inside)}
        inner.cache.update(bindings)
        return inner

    def run_while(self, op: Operation) -> tuple[int, list[np.ndarray]]:
        """Run an `scf.while` on scalars: (iterations, the values it yields), or Unknown."""
        cached = getattr(self, "_whiles", {}).get(op)
        if cached is not None:
            return cached
        before, after = op.regions[0].blocks[0], op.regions[1].blocks[0]
        values = [np.asarray(self.value(x)) for x in op.operands]
        for n in range(MAX_WHILE_ITERATIONS + 1):
            ev = self._in_region(before, dict(zip(before.args, values, strict=False)))
            cond_op = before.last_op
            cond = np.asarray(ev.value(cond_op.operands[0]))
            passed = [np.asarray(ev.value(x)) for x in cond_op.operands[1:]]
            if cond.shape:
                raise Unknown("an scf.while on a tensor condition")
            if not bool(cond):
                result = (n, passed)
                self.__dict__.setdefault("_whiles", {})[op] = result
                return result
            ev = self._in_region(after, dict(zip(after.args, passed, strict=False)))
            values = [np.asarray(ev.value(x)) for x in after.last_op.operands]
        raise Unknown(f"an scf.while ran past {MAX_WHILE_ITERATIONS} iterations")

    @staticmethod
    def _constant(op: Operation) -> np.ndarray:
        words = _literal_words(op)
        text = next((w for w in words if w not in (":",)), "")
        m = re.fullmatch(r"dense<(.*)>", text)
        if m:
            text = m.group(1)
        if text in ("true", "false"):
            return np.array(text == "true")
        if re.fullmatch(r"-?\d+", text):
            return np.array(int(text), dtype=np.int64)
        raise Unknown(f"constant {text} is not an integer splat")


def _attr_text(op: Operation, key: str) -> str:
    syntax = syntax_of(op)
    for piece in syntax.pieces if syntax else ():
        texts = getattr(piece, "texts", None)
        if texts and key in texts:
            return texts[key]
    return ""


@dataclass
class GuardReport:
    """What the mask of one access turns off, summed over the programs evaluated."""

    padded_shape: tuple[int, ...]
    tiles: int = 0  # tiles evaluated: programs of the grid x iterations of the loops around the access
    grid_programs: int = 0
    programs: int = 0  # programs of the grid evaluated (evenly spaced)
    elements: int = 0  # tile elements over the programs evaluated
    masked_elements: int = 0
    masked_bytes: int = 0
    masked_lanes: int = 0  # (warp, lane) pairs whose every register is masked
    lanes: int = 0
    partial_tiles: int = 0  # tiles partly masked
    valid_shape: tuple[int, ...] | None = None  # the valid box of the most-masked tile, if a box
    runtime_args: list[str] = field(default_factory=list)  # when not evaluable: what it depends on
    reason: str = ""
    needs_tensor: str | None = None  # when not evaluable: the argument tensor whose values would decide

    @property
    def evaluated(self) -> bool:
        return self.tiles > 0

    def to_dict(self) -> dict[str, object]:
        if not self.evaluated:
            return {"evaluated": False, "padded_shape": list(self.padded_shape),
                    "runtime_args": self.runtime_args, "reason": self.reason}
        return {"evaluated": True, "padded_shape": list(self.padded_shape),
                "valid_shape": list(self.valid_shape) if self.valid_shape else None,
                "tiles": self.tiles, "grid_programs": self.grid_programs, "programs": self.programs,
                "partial_tiles": self.partial_tiles, "elements": self.elements,
                "masked_elements": self.masked_elements, "masked_bytes": self.masked_bytes,
                "masked_lanes": self.masked_lanes, "lanes": self.lanes}


def _programs(grid: tuple[int, int, int], limit: int = MAX_PROGRAMS) -> list[tuple[int, int, int]]:
    total = grid[0] * grid[1] * grid[2]
    picks = sorted(set(np.linspace(0, total - 1, min(total, limit)).round().astype(int).tolist()))
    return [(p % grid[0], (p // grid[0]) % grid[1], p // (grid[0] * grid[1])) for p in picks]


def _box(valid: np.ndarray) -> tuple[int, ...] | None:
    """The extents of `valid` if it is exactly the box [0, e0) x [0, e1) x ..."""
    extents = []
    for d in range(valid.ndim):
        other = tuple(a for a in range(valid.ndim) if a != d)
        along = valid.any(axis=other) if other else valid
        e = int(along.sum())
        if e and not along[:e].all():
            return None
        extents.append(e)
    box = np.zeros_like(valid)
    box[tuple(slice(0, e) for e in extents)] = True
    return tuple(extents) if np.array_equal(box, valid) else None


def _enclosing_loops(op: Operation) -> list[Operation]:
    """The `scf.for` ops around `op`, outermost first."""
    loops = []
    parent = op.parent_op()
    while parent is not None:
        if op_name_of(parent) == "scf.for":
            loops.append(parent)
        parent = parent.parent_op()
    return loops[::-1]


def _iterations(loops: list[Operation], ev: MaskEvaluator) -> list[dict[SSAValue, int]]:
    """Induction-variable values of the enclosing loops (sampled), for one program."""
    points: list[dict[SSAValue, int]] = [{}]
    for loop in loops:
        lb, ub, step = (int(ev.value(v)) for v in loop.operands[:3])
        values = list(range(lb, ub, step)) if step > 0 else []
        if len(values) > MAX_ITERATIONS:
            picks = np.linspace(0, len(values) - 1, MAX_ITERATIONS).round().astype(int)
            values = [values[i] for i in sorted(set(picks.tolist()))]
        iv = loop.regions[0].blocks[0].args[0]
        points = [{**p, iv: x} for p in points for x in values]
        for p in points:  # inner loop bounds may depend on outer induction variables
            ev.cache.update({k: np.array(v, dtype=np.int64) for k, v in p.items()})
    return points


def guard_report(mask: SSAValue, layout: LinearLayout | None, elem_bytes: int,
                 args: Mapping[str, int] | None, grid: tuple[int, int, int] | None,
                 access: Operation | None = None,
                 tensors: Mapping[str, np.ndarray] | None = None,
                 max_programs: int = MAX_PROGRAMS) -> GuardReport:
    """Evaluate the access's mask for the programs of the grid (and the iterations of the loops
    around `access`); count what it turns off. `tensors` (argument name -> flattened launch values)
    lets masks and loop bounds read from argument tensors be evaluated."""
    shape = _shape(mask)
    report = GuardReport(padded_shape=shape)
    grid = grid or (1, 1, 1)
    report.grid_programs = grid[0] * grid[1] * grid[2]
    hw: np.ndarray | None = None
    lane_groups = 0
    if layout is not None and shape:
        hw = layout.apply_all()  # (slots, rank): element of each (register, lane, warp[, block]) slot
        regs = layout.get_in_dim_size("register") if layout.has_in_dim("register") else 1
        lane_groups = hw.shape[0] // regs
    worst = -1
    loops = _enclosing_loops(access) if access is not None else []
    programs = _programs(grid, max_programs)
    report.programs = len(programs)
    for pid in programs:
        try:
            points = _iterations(loops, MaskEvaluator(args or {}, pid, grid, tensors=tensors))
            valids = [np.asarray(MaskEvaluator(args or {}, pid, grid, p, tensors).value(mask), dtype=bool)
                      for p in points]
        except Unknown as e:
            return GuardReport(padded_shape=shape, grid_programs=report.grid_programs,
                               runtime_args=sorted(e.runtime_args), reason=str(e), needs_tensor=e.tensor)
        for valid in valids:
            worst = _count(report, valid, shape, hw, lane_groups, elem_bytes, worst)
    return report


def _count(report: GuardReport, valid: np.ndarray, shape: tuple[int, ...], hw: np.ndarray | None,
           lane_groups: int, elem_bytes: int, worst: int) -> int:
    """Add one evaluated tile to the report; return the most masked elements seen in one tile."""
    valid = np.broadcast_to(valid, shape) if shape else valid.reshape(())
    n_masked = int((~valid).sum())
    report.tiles += 1
    report.elements += int(valid.size)
    report.masked_elements += n_masked
    report.masked_bytes += n_masked * elem_bytes
    report.partial_tiles += 1 if 0 < n_masked < valid.size else 0
    if hw is not None:
        slot_valid = valid[tuple(hw[:, d] for d in range(hw.shape[1]))]
        # inputs are flattened with `register` least significant: one row per (lane, warp, block)
        per_lane = slot_valid.reshape(lane_groups, -1)
        report.masked_lanes += int((~per_lane.any(axis=1)).sum())
        report.lanes += lane_groups
    if n_masked > worst and shape:
        worst = n_masked
        report.valid_shape = _box(valid)
    return worst
