"""Node prices: every e-node of the term language priced by a target's `CostModel`, and the egglog adapter.

`NodePricer(model, kernel)` prices one e-node from its head (`sort`, constructor `name`) and the *metas*
of its arguments: literals as they are, a Layout/SharedEnc as its text, a Tile as `TileMeta(layout, ty)`,
a Smem as `SmemMeta(encoding, ty)`. Every Tile/Smem constructor names its own layout/encoding and type,
so a node's meta follows from its own arguments and both extractors (egglog's greedy one, which sees the
metas of the children it already extracted, and the exact one over the serialized e-graph, which reads
them off the classes) ask the same question and get the same cached `Cost`.

    Tile.load(op, L, ty) / indirect_load    model.global_access(op, L)      (L = None when op's own)
    t.convert(src, dst, ty)                 model.convert(src, dst, shape, dtype), less the part hidden
                                            under the kernel's memory time (costmodels/overlap.py)
    t.via_shared(src, enc, dst, ty)         model.convert_via_shared(src, dst, enc, shape, dtype), likewise
    Tile.gather(src, idx, axis, L, ty)      model.gather(src layout, idx layout, shapes, axis, dtype)
    Tile.gather_shared(...)                 model.gather(..., strategy="shared") (when the model has it)
    Tile.gather_global(op, idx, axis, L, ty)  model.global_access(op as an indirect load of the idx shape)
    s.local_load(L, ty)                     model.shared_access(L, enc, shape, dtype, "load")
    Smem.alloc(op, t, enc)                  model.shared_access(layout(t), enc, ..., "store") + legality
    Smem.buffer(op, enc)                    legality of the encoding (allocation itself is free)
    Smem.staged(op, buf, enc, mode, n)      the global access of op, the legality of `mode` (tma, cp_async,
                                            direct_to_lds) and, for "sync", the shared store
    Sink.store(op, t)                       model.global_access(op, layout(t))
    Tile.guarded_load / Sink.guarded_store  infinite unless `assumed` holds their guard set, else the access
                                            in its layout under the guard (rules/specialize.py)
    Sink.local_store(op, s, t)              model.shared_access(layout(t), enc(s), ..., "store")
    value, elementwise, use, use_smem, seq, Layout, SharedEnc, literals       free (no data movement)

Scale: the model's tile-level methods (convert, via_shared, gather, shared_access) price one CTA's tile
while `global_access` prices the whole launch, so the pricer passes the kernel (with its launch `grid`)
to `global_access` and multiplies every tile-level price by the same CTA count (`num_ctas`), and by the
loop trips of the node's op where the node names one (Smem.*, Sink.local_store). Nodes without an op
(convert, via_shared, gather, local_load) count one trip: a conversion inside a loop is under-weighted
against the loop's loads; the corpus's converts and gathers sit outside loops.

An illegal node costs infinity (`Cost.illegal` set). A constructor the pricer does not know raises
`EqsatError`: a new term must get a price before it can be extracted.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eqsat.costmodels.base import Cost, CostModel
from eqsat.costmodels.common import dtype_bytes, loop_trips, num_ctas
from eqsat.egraph.encode import parse_ty, ty_text
from eqsat.errors import EqsatError


@dataclass(frozen=True)
class TileMeta:
    layout: str
    ty: str

    @property
    def shape(self) -> list[int]:
        return parse_ty(self.ty)[0]

    @property
    def dtype(self) -> str:
        return parse_ty(self.ty)[1]


@dataclass(frozen=True)
class SmemMeta:
    encoding: str
    ty: str


FREE = {("Tile", "value"), ("Tile", "elementwise"), ("Tile", "elementwise2"), ("Sink", "use"),
        ("Sink", "use_smem"), ("Sink", "seq"), ("Layout", "Layout"), ("SharedEnc", "SharedEnc")}


class NodePricer:
    """Prices and metas of e-nodes for one kernel on one target (cached per node)."""

    def __init__(self, model: CostModel, kernel: Mapping[str, Any]) -> None:
        self.model = model
        self.kernel = kernel
        self.ops = {int(o["id"]): o for o in kernel["ops"]}
        self._cache: dict[tuple[str, str, tuple[Any, ...]], Cost] = {}
        self.calls = 0
        rates = getattr(model, "rates", None)
        self.ctas = float(num_ctas({}, kernel, rates)) if rates is not None else 1.0
        self._hidden: float | None = None  # conversion time hidden under memory (costmodels/overlap.py)
        self.assumed: frozenset[str] = frozenset()  # guard sets a version's extraction assumes

    def _conversion(self, cost: Cost) -> Cost:
        """A conversion's launch price with the part the kernel's memory time hides taken off."""
        if getattr(self.model, "rates", None) is None:
            return cost
        from eqsat.costmodels.overlap import hidden_fraction, hide

        if self._hidden is None:
            self._hidden = hidden_fraction(self.model, self.kernel)
        return hide(cost, self._hidden)

    def _tile(self, cost: Cost, op: Mapping[str, Any] | None = None) -> Cost:
        """A tile-level price scaled to the launch (CTAs, and the op's loop trips when it has one)."""
        rates = getattr(self.model, "rates", None)
        trips = loop_trips(op, rates) if (op is not None and rates is not None) else 1.0
        return cost.scaled(self.ctas * trips)

    # ---------------------------------------------------------------------------------------------- metas

    def meta(self, sort: str, name: str, args: tuple[Any, ...]) -> Any:
        """What a parent needs to know of this node's value: TileMeta, SmemMeta, a text, or None."""
        if sort in ("Layout", "SharedEnc"):
            return args[0]
        if sort == "Tile":
            if name == "value":
                op = self.ops.get(int(args[0]), {})
                return TileMeta(args[1], ty_text(op.get("shape"), op.get("dtype")))
            if name in ("load", "indirect_load", "guarded_load"):
                return TileMeta(args[1], args[2])
            if name in ("convert", "via_shared", "gather", "gather_shared", "gather_global", "local_load",
                        "elementwise", "elementwise2"):
                return TileMeta(args[-2], args[-1])
            raise EqsatError(f"e-graph: no meta for constructor Tile.{name}")
        if sort == "Smem":
            op = self.ops.get(int(args[0]), {})
            ty = ty_text(op.get("shape"), op.get("dtype"))
            if name == "alloc":
                return SmemMeta(args[2], ty)
            if name == "buffer":
                return SmemMeta(args[1], ty)
            if name == "staged":
                return SmemMeta(args[2], ty)
            raise EqsatError(f"e-graph: no meta for constructor Smem.{name}")
        return None

    # --------------------------------------------------------------------------------------------- prices

    def price(self, sort: str, name: str, args: tuple[Any, ...]) -> Cost:
        key = (sort, name, args)
        cost = self._cache.get(key)
        if cost is None:
            self.calls += 1
            cost = self._price(sort, name, args)
            self._cache[key] = cost
        return cost

    def _price(self, sort: str, name: str, a: tuple[Any, ...]) -> Cost:
        m = self.model
        if sort == "Tile" and name in ("elementwise", "elementwise2"):
            op = self.ops.get(int(a[0]), {})
            own = op.get("layout") or op.get("dst_layout")
            if own and a[-2] != own:
                # convert.push_elementwise explores this, but no plan choice lowers an elementwise op
                # into another layout yet: it must not be extracted
                return Cost.infeasible("no lowering re-lays out an elementwise op (convert.push_elementwise)")
            return Cost()
        if (sort, name) in FREE or sort not in ("Tile", "Smem", "Sink"):
            return Cost()
        if name in ("guarded_load", "guarded_store"):  # valid only in a version (rules/specialize.py)
            from eqsat.rules.specialize import price_guarded

            return price_guarded(self, name, a)
        if sort == "Tile":
            if name in ("load", "indirect_load"):
                return self._global(int(a[0]), a[1])
            if name == "convert":
                src, dst, (shape, dtype) = a[1], a[2], parse_ty(a[3])
                return self._conversion(self._tile(m.convert(src, dst, shape, dtype)))
            if name == "via_shared":
                shape, dtype = parse_ty(a[4])
                return self._conversion(self._tile(m.convert_via_shared(a[1], a[3], a[2], shape, dtype)))
            if name in ("gather", "gather_shared"):
                src, idx, axis, ty = a[0], a[1], int(a[2]), a[4]
                shape, dtype = parse_ty(ty)
                kwargs: dict[str, Any] = {}
                if name == "gather_shared":
                    if "strategy" not in inspect.signature(m.gather).parameters:
                        return Cost.infeasible(f"{m.target} model cannot price a gather through shared")
                    kwargs["strategy"] = "shared"
                tile = m.gather(src.layout, idx.layout, src.shape, shape, axis, dtype, **kwargs)
                return self._conversion(self._tile(tile))  # on-SM work: hides under memory like a convert
            if name == "gather_global":
                op = dict(self.ops[int(a[0])])
                idx_shape, dtype = parse_ty(a[4])
                access = dict(op.get("access") or {})
                access["class"] = "indirect"
                # the source tile's footprint and strides, one coordinate gathered (global_memory.l1_work)
                info = {**(op.get("info") or {}), "gather_axis": int(a[2])}
                info.pop("program_invariant", None)
                op.update(kind="indirect_load", shape=idx_shape, access=access, layout=a[3], dst_layout=a[3],
                          info=info)
                return m.global_access(op, None, self.kernel)
            if name == "local_load":
                shape, dtype = parse_ty(a[2])
                return self._tile(m.shared_access(a[1], a[0].encoding, shape, dtype, "load"))
        if sort == "Smem":
            op = self.ops[int(a[0])]
            if name == "alloc":
                t, enc = a[1], a[2]
                cost = self._legal("shared_encoding", enc, op)
                return cost + self._tile(m.shared_access(t.layout, enc, t.shape, t.dtype, "store"), op)
            if name == "buffer":
                return self._legal("shared_encoding", a[1], op)
            if name == "staged":
                return self._staged(op, a[2], str(a[3]), int(a[4]))
        if sort == "Sink":
            if name == "store":
                return self._global(int(a[0]), a[1].layout)
            if name == "local_store":
                s, t = a[1], a[2]
                return self._tile(m.shared_access(t.layout, s.encoding, t.shape, t.dtype, "store"),
                                  self.ops[int(a[0])])
        raise EqsatError(f"e-graph: the cost model has no price for constructor {sort}.{name}")

    def _global(self, oid: int, layout: str) -> Cost:
        op = self.ops[oid]
        own = op.get("layout") or op.get("dst_layout") or op.get("src_layout") or ""
        return self.model.global_access(op, None if layout == own or not layout else layout, self.kernel)

    def _legal(self, kind: str, enc: str, op: Mapping[str, Any]) -> Cost:
        reason = self.model.legality(kind, encoding=enc, op=op, shape=op.get("shape"), dtype=op.get("dtype"))
        return Cost.infeasible(reason) if reason else Cost()

    def _staged(self, op: Mapping[str, Any], enc: str, mode: str, stages: int) -> Cost:
        m = self.model
        if mode not in ("sync", "async_copy", "tma", "direct_to_lds"):
            return Cost.infeasible(f"unknown staging mode '{mode}'")
        if mode != "sync":
            kind, params = _staging_legality(op, enc, mode)
            reason = m.legality(kind, **params)
            if reason:
                return Cost.infeasible(reason)
        cost = m.global_access(op, None, self.kernel)
        if mode == "sync":
            src = op.get("src_layout") or op.get("layout") or ""
            store = m.shared_access(src, enc, op.get("shape") or [], op.get("dtype") or "", "store")
            return cost + self._tile(store, op)
        # asynchronous copies also write the buffer: whole 128-byte wavefronts (cp.async 16-byte chunks
        # and TMA boxes land contiguously), plus the issue/commit/wait or descriptor/mbarrier overhead
        rates = getattr(m, "rates", None)
        if rates is None:
            return cost
        shape = [int(x) for x in (op.get("shape") or [1])]
        nbytes = math.prod(shape) * max(1, dtype_bytes(op.get("dtype")))
        wavefronts = nbytes / 128
        setup = "tma" if mode == "tma" else "async"
        setup_ns = rates.tma_ns(1) if mode == "tma" else rates.async_ns(1)
        write = Cost({"shared_wavefronts": wavefronts, "shared_bytes": float(nbytes),
                      f"{setup}_setup": 1.0},
                     {"shared": rates.shared_ns(wavefronts), setup: setup_ns})
        return cost + self._tile(write, op)


def _staging_legality(op: Mapping[str, Any], enc: str, mode: str) -> tuple[str, dict[str, Any]]:
    """The `CostModel.legality` question for staging global tile `op` into `enc` by `mode`."""
    import re

    access = op.get("access") or {}
    elem = max(1, dtype_bytes(op.get("dtype")))
    vector = int(access.get("vector_bytes") or elem)
    if mode == "tma":
        swizzle = re.search(r"swizzlingByteWidth\s*=\s*(\d+)", enc)
        strides = [s if isinstance(s, int) else None for s in access.get("strides") or []] or None
        return "tma", {"box": list(op.get("shape") or []), "elem_bytes": elem, "strides": strides,
                       "swizzle": int(swizzle.group(1)) if swizzle else 0, "encoding": enc}
    if mode == "async_copy":
        return "cp_async", {"bytes": vector, "encoding": enc}
    return "direct_to_lds", {"bytes": min(vector, 4), "encoding": enc}


class GraphPrices:
    """Prices of the nodes of a serialized e-graph (`NodePrice`: node id -> ns) and their `Cost`s."""

    def __init__(self, graph: Any, pricer: NodePricer) -> None:
        self.graph = graph
        self.pricer = pricer
        self._metas: dict[str, Any] = {}
        self.banned: dict[str, str] = {}  # node id -> why it must not be extracted (e.g. not lowerable)

    def ban(self, nid: str, reason: str) -> None:
        """Price node `nid` as illegal from now on (extraction then never picks it)."""
        self.banned[nid] = reason

    def class_meta(self, cid: str) -> Any:
        """A class's meta, from its first node's own arguments (Tile/Smem children are not needed)."""
        if cid in self._metas:
            return self._metas[cid]
        g = self.graph
        node = g.nodes[g.classes[cid][0]]
        if node.literal is not None:
            meta = node.literal
        else:
            args = tuple(None if g.sorts.get(ch) in ("Tile", "Smem", "Sink") else self.class_meta(ch)
                         for ch in node.children)
            meta = self.pricer.meta(node.sort, node.name, args)
        self._metas[cid] = meta
        return meta

    def cost(self, nid: str) -> Cost:
        node = self.graph.nodes[nid]
        if node.literal is not None:
            return Cost()
        if nid in self.banned:
            return Cost.infeasible(self.banned[nid])
        args = tuple(self.class_meta(ch) for ch in node.children)
        return self.pricer.price(node.sort, node.name, args)

    def __call__(self, nid: str) -> float:
        return self.cost(nid).total_ns


# ------------------------------------------------------------------------------------ the egglog adapter


@dataclass(frozen=True, eq=False)
class NodeCost:
    """An egglog cost: nanoseconds (compared and summed) plus the node's meta (read by parents).

    Costs compare by nanoseconds only (egglog's extractor needs a total order)."""

    total: float
    meta: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeCost) and self.total == other.total

    def __hash__(self) -> int:
        return hash(self.total)

    def __add__(self, other: NodeCost) -> NodeCost:
        return NodeCost(self.total + other.total, self.meta)

    def __sub__(self, other: NodeCost) -> NodeCost:
        # inf - inf would be nan: an illegal subtree stays illegal
        if math.isinf(self.total) and math.isinf(other.total):
            return NodeCost(self.total, self.meta)
        return NodeCost(self.total - other.total, self.meta)

    def __lt__(self, other: NodeCost) -> bool:
        return self.total < other.total

    def __le__(self, other: NodeCost) -> bool:
        return self.total <= other.total

    def __gt__(self, other: NodeCost) -> bool:
        return self.total > other.total

    def __ge__(self, other: NodeCost) -> bool:
        return self.total >= other.total


def expr_head(expr: Any) -> tuple[str, str] | None:
    """(sort, constructor name) of an egglog call expression, None for a literal."""
    from egglog.declarations import CallDecl, InitRef

    typed = expr.__egg_typed_expr__
    decl = typed.expr
    if not isinstance(decl, CallDecl):
        return None
    ref = decl.callable
    name = ref.ident.name if isinstance(ref, InitRef) else getattr(ref, "method_name", None)
    if name is None:
        name = ref.ident.name
    return typed.tp.ident.name, name


def literal_value(expr: Any) -> Any:
    from egglog.declarations import LitDecl

    decl = expr.__egg_typed_expr__.expr
    return decl.value if isinstance(decl, LitDecl) else None


class EgglogCostModel:
    """egglog `CostModel` (total cost of a term from its root node and its children's costs)."""

    def __init__(self, price: Any) -> None:
        # price(sort, name, arg_metas) -> (self_ns, meta); NodePricer-backed by `for_pricer`
        self._price = price

    @staticmethod
    def for_pricer(pricer: NodePricer) -> EgglogCostModel:
        def price(sort: str, name: str, metas: tuple[Any, ...]) -> tuple[float, Any]:
            return pricer.price(sort, name, metas).total_ns, pricer.meta(sort, name, metas)

        return EgglogCostModel(price)

    def __call__(self, egraph: Any, expr: Any, children_costs: list[NodeCost]) -> NodeCost:
        head = expr_head(expr)
        if head is None:
            return NodeCost(0.0, literal_value(expr))
        metas = tuple(c.meta for c in children_costs)
        own, meta = self._price(head[0], head[1], metas)
        return NodeCost(float(own) + sum(c.total for c in children_costs), meta)
