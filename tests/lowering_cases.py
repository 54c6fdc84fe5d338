"""Plans with non-trivial choices for every op of a corpus kernel that a choice kind applies to, built from
the kernel's own IR (the ops behind its dm op ids) and legal for its target (warp size, warps)."""

from __future__ import annotations

from functools import cache

from xdsl.dialects.builtin import TensorType
from xdsl.ir import OpResult

from eqsat.dm.lift import source_ops
from eqsat.ir.attributes import BlockedEncodingAttr, MemDescType, NvmmaSharedEncodingAttr, PtrType
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import TTModule, parse_ttgir
from eqsat.ir.printer import format_attribute
from eqsat.plan import Choice, Plan

KINDS = ("shared_encoding", "convert_path_via", "convert_path_shared", "load_layout", "gather_indirect",
         "gather_shared", "staging")
LOADS = ("tt.load", "amdg.buffer_load")


@cache
def kernel_text(manifest: str, name: str, target: str) -> str:
    from corpus_cases import ingested

    result = ingested(manifest, target)[name]
    assert result.ok, result.error
    return result.ttgir


def parsed(manifest: str, name: str, target: str) -> TTModule:
    return parse_ttgir(kernel_text(manifest, name, target), f"{name}[{target}]")


def blocked_unlike(t: TensorType, module: TTModule, avoid: tuple = ()) -> BlockedEncodingAttr:
    """A blocked layout for `t` on this module's warps, different from `avoid`: all lanes along one dim."""
    rank = len(t.get_shape())
    warp, warps = module.threads_per_warp, module.num_warps
    for order, vec in (([*reversed(range(rank))], 1), ([*range(rank)], 1), ([*reversed(range(rank))], 2),
                       ([*reversed(range(rank))], 4)):
        threads, per_warp, size = [1] * rank, [1] * rank, [1] * rank
        threads[order[0]] = warp
        per_warp[order[-1]] *= warps
        size[order[0]] = vec
        enc = BlockedEncodingAttr([("sizePerThread", tuple(size)), ("threadsPerWarp", tuple(threads)),
                                   ("warpsPerCTA", tuple(per_warp)), ("order", tuple(order))])
        if enc not in avoid:
            return enc
    raise AssertionError("no other blocked layout")


def _swizzled(rank: int, order: tuple[int, ...] | None, vec: int = 4) -> str:
    order = order or tuple(reversed(range(rank)))
    return (f"#ttg.swizzled_shared<{{vec = {vec}, perPhase = 1, maxPhase = 4, order = "
            f"[{', '.join(map(str, order))}]}}>")


def _order_of(enc) -> tuple[int, ...] | None:
    order = enc.get("order") if hasattr(enc, "get") else None
    return tuple(order) if order else None


def alloc_alternatives(t: MemDescType) -> list[str]:
    """Other shared encodings for a buffer: a swizzled one, and an nvmma one of another swizzle width."""
    rank = len(t.shape) if not isinstance(t.encoding, NvmmaSharedEncodingAttr) else 2
    order = _order_of(t.encoding)
    if order is not None:
        rank = len(order)
    out = [_swizzled(rank, order, vec=2)]
    if isinstance(t.encoding, NvmmaSharedEncodingAttr):
        width = 64 if t.encoding.swizzling_byte_width != 64 else 32
        out.insert(0, f"#ttg.nvmma_shared<{{swizzlingByteWidth = {width}, transposed = "
                      f"{str(t.encoding.transposed).lower()}, elementBitWidth = {t.encoding.element_bit_width}}}>")
    return [e for e in out if e != format_attribute(t.encoding)]


def _behind_converts(v):
    while isinstance(v, OpResult) and op_name_of(v.op) == "ttg.convert_layout":
        v = v.op.operands[0]
    return v


def choices(module: TTModule, kind: str) -> list[Choice]:
    """One non-trivial choice of `kind` for every op of the kernel it applies to."""
    out: list[Choice] = []
    for i, op in enumerate(source_ops(module)):
        name = op_name_of(op)
        if kind == "shared_encoding" and name == "ttg.local_alloc":
            for enc in alloc_alternatives(op.results[0].type)[:1]:
                out.append(Choice(i, "shared_encoding", {"encoding": enc}, "test"))
        elif kind.startswith("convert_path") and name == "ttg.convert_layout":
            src_t, dst_t = op.operands[0].type, op.results[0].type
            if kind == "convert_path_via":
                via = blocked_unlike(src_t, module, (src_t.encoding, dst_t.encoding))
                out.append(Choice(i, "convert_path", {"path": "via", "layout": format_attribute(via)}, "test"))
            elif not isinstance(src_t.element_type, PtrType):  # pointers cannot live in shared memory
                enc = _swizzled(len(src_t.get_shape()), _order_of(src_t.encoding))
                out.append(Choice(i, "convert_path", {"path": "shared", "encoding": enc}, "test"))
        elif kind == "load_layout" and name in LOADS and isinstance(op.results[0].type, TensorType):
            t = op.results[0].type
            targets = [u.operation.results[0].type.encoding for u in op.results[0].uses
                       if op_name_of(u.operation) == "ttg.convert_layout"]
            layout = targets[0] if targets else blocked_unlike(t, module, (t.encoding,))
            out.append(Choice(i, "load_layout", {"layout": format_attribute(layout)}, "test"))
        elif kind.startswith("gather") and name == "tt.gather":
            loaded = _behind_converts(op.operands[0])
            if kind == "gather_shared":
                out.append(Choice(i, "gather_strategy", {"strategy": "shared"}, "test"))
            elif isinstance(loaded, OpResult) and op_name_of(loaded.op) in LOADS:
                out.append(Choice(i, "gather_strategy", {"strategy": "indirect_load"}, "test"))
        elif kind == "staging" and name in LOADS and any(
                op_name_of(u.operation) in ("ttg.local_alloc", "ttg.local_store") for u in op.results[0].uses):
            out.append(Choice(i, "staging", {"mode": "async_copy", "stages": 1}, "test"))
    return out


def plan_of(name: str, target: str, chosen: list[Choice]) -> Plan:
    return Plan(name, target, {}, {}, chosen)
