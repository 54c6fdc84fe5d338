"""A small numpy evaluator of the address arithmetic of a TTGIR function: the values of pointer, integer,
mask and splat-float tensors built by `tt.make_range`, `tt.splat`, `tt.expand_dims`, `tt.broadcast`,
`tt.addptr`, `ttg.convert_layout` and `arith` ops, given the kernel arguments (pointers as byte
addresses), the program id, and the values of any other op (a load) bound by the caller. Layouts do not
change values, so they are ignored; integers wrap at their width as in LLVM. Used as an oracle for the
lowering of gathers to indirect loads (the lowered address must be the original one at the gathered
coordinates), independent of the lowering's own code."""

from __future__ import annotations

import re

import numpy as np
from xdsl.dialects.builtin import Float16Type, Float32Type, IntegerType, TensorType
from xdsl.ir import BlockArgument, OpResult, SSAValue

from eqsat.dm.address import value_name
from eqsat.ir.attributes import PtrType, element_bits
from eqsat.ir.dialects import op_name_of, syntax_of
from eqsat.ir.syntax import Lit

_CMP = {"eq": np.equal, "ne": np.not_equal, "slt": np.less, "sle": np.less_equal, "sgt": np.greater,
        "sge": np.greater_equal}


def _wrap(x: np.ndarray, width: int) -> np.ndarray:
    if width >= 64:
        return x.astype(np.int64)
    if width == 1:
        return x.astype(bool)
    half = 1 << (width - 1)
    return ((x.astype(np.int64) + half) % (1 << width)) - half


def _width(t) -> int:
    e = t.element_type if isinstance(t, TensorType) else t
    if isinstance(e, IntegerType):
        return e.width.data
    return 64  # pointers


def _shape(t) -> tuple[int, ...]:
    return tuple(t.get_shape()) if isinstance(t, TensorType) else ()


class Evaluator:
    def __init__(self, args: dict[str, int], pid: int, bound: dict[SSAValue, np.ndarray] | None = None):
        self.args = args
        self.pid = pid
        self.memo: dict[SSAValue, np.ndarray] = dict(bound or {})

    def __call__(self, v: SSAValue) -> np.ndarray:
        if v not in self.memo:
            self.memo[v] = np.asarray(self._eval(v))
        return self.memo[v]

    def _eval(self, v: SSAValue):
        if isinstance(v, BlockArgument):
            return np.int64(self.args[value_name(v)])
        assert isinstance(v, OpResult)
        op, t = v.op, v.type
        name = op_name_of(op)
        ops = [self(o) for o in op.operands] if name != "arith.constant" else []
        width = _width(t)
        if name == "tt.get_program_id":
            return np.int64(self.pid)
        if name == "arith.constant":
            return np.broadcast_to(self._constant(op, t), _shape(t)).copy()
        if name == "tt.make_range":
            return np.arange(op.attributes["start"].value.data, op.attributes["end"].value.data, dtype=np.int64)
        if name == "tt.splat":
            return np.full(_shape(t), ops[0], dtype=ops[0].dtype)
        if name == "tt.expand_dims":
            return np.expand_dims(ops[0], op.attributes["axis"].value.data)
        if name == "tt.broadcast":
            return np.broadcast_to(ops[0], _shape(t)).copy()
        if name == "ttg.convert_layout" or name == "arith.extsi":
            return ops[0]
        if name == "arith.trunci":
            return _wrap(ops[0], width)
        if name == "tt.addptr":
            pointee = (t.element_type if isinstance(t, TensorType) else t).pointee
            return ops[0] + ops[1].astype(np.int64) * max(1, element_bits(pointee) // 8)
        if name in ("arith.addi", "arith.subi", "arith.muli"):
            f = {"arith.addi": np.add, "arith.subi": np.subtract, "arith.muli": np.multiply}[name]
            return _wrap(f(ops[0].astype(np.int64), ops[1].astype(np.int64)), width)
        if name in ("arith.remsi", "arith.divsi"):
            a, b = ops[0].astype(np.int64), ops[1].astype(np.int64)
            q = np.trunc(a / b).astype(np.int64)  # C semantics: round toward zero
            return q if name == "arith.divsi" else a - q * b
        if name == "arith.cmpi":
            pred = next(p.text for p in syntax_of(op).pieces if isinstance(p, Lit)).rstrip(",")
            return _CMP[pred](ops[0], ops[1])
        if name in ("arith.andi", "arith.ori"):
            return (np.logical_and if name == "arith.andi" else np.logical_or)(ops[0], ops[1]) if width == 1 \
                else (np.bitwise_and if name == "arith.andi" else np.bitwise_or)(ops[0], ops[1])
        if name == "arith.select":
            return np.where(ops[0], ops[1], ops[2])
        raise NotImplementedError(f"ttgir_eval: {name}")

    @staticmethod
    def _constant(op, t):
        text = next(p.text for p in syntax_of(op).pieces if isinstance(p, Lit))
        body = re.fullmatch(r"(?:dense<)?([^>]*)>?", text).group(1)
        e = t.element_type if isinstance(t, TensorType) else t
        if body.startswith("0x"):
            return np.int64(int(body, 16))  # a float's bit pattern: compared for equality only
        if isinstance(e, Float32Type | Float16Type):
            return np.float64(float(body))
        if body in ("true", "false"):
            return body == "true"
        return np.int64(int(body))


def pointer_args(func_args: list[BlockArgument], rng: np.random.Generator) -> dict[str, int]:
    """Random values for a function's arguments: pointers far apart (byte addresses), integers anywhere in
    their type (wide strides make i32 arithmetic wrap, which the lowering must reproduce exactly)."""
    out: dict[str, int] = {}
    for k, a in enumerate(func_args):
        if isinstance(a.type, PtrType):
            out[value_name(a)] = (k + 1) << 44
        else:
            width = _width(a.type)
            out[value_name(a)] = int(rng.integers(-(1 << (width - 2)), 1 << (width - 2)))
    return out
