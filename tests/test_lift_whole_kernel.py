"""The whole kernel lifted (issue 10): every block and region (early returns' `cf.cond_br`, `scf.if`,
`scf.while`) with the branch conditions each op runs under; uniform data-dependent bases told from per-lane
indirection; loop trips and executed fractions from the launch's values. Real Triton 3.6 compiles of
the kernels in `lift_serving_kernels.py` for h100 and mi300x, and the whole corpus."""

from __future__ import annotations

import collections
import random
import re
from functools import cache

import numpy as np
import pytest
from corpus_cases import MANIFESTS
from eqsat.costmodels.base import model_for
from lift_serving_kernels import compile_kernel, compiled

from eqsat.dm.address import AddressAnalysis, PtrValue, access_of
from eqsat.dm.json import to_json
from eqsat.dm.lift import Launch, Lifter, Locations, functions, lift, source_ops
from eqsat.dm.trips import LaunchValues, trip_report
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import parse_ttgir

BOTH = pytest.mark.parametrize("target", ["h100", "mi300x"])
GLOBAL = ("load", "store", "indirect_load", "indirect_store")


@cache
def parsed(name: str, target: str):
    return parse_ttgir(compile_kernel(name, target), f"{name}.{target}.ttgir")


def graph(name: str, target: str, launch: Launch | None = None) -> dict:
    module = lift(parsed(name, target), kernel=name, target=target, launch=launch)
    module.verify()
    return to_json(module)


def movement(data: dict) -> list[dict]:
    return [o for o in data["ops"] if o["kind"] in GLOBAL]


# ------------------------------------------------------------------------------ whole-kernel lift
@BOTH
def test_early_return_lifts_everything_after_the_branch(target):
    """`if row < 0: return` becomes cf.cond_br; the load and store after it are lifted, guarded by the
    branch's false edge, and the branch depends on the row load."""
    ops = movement(graph("early_return", target))
    assert [o["kind"] for o in ops] == ["load", "load", "store"]
    row, src, dst = ops
    assert "conditions" not in row["info"]
    for o in (src, dst):
        (cond,) = o["info"]["conditions"]
        assert cond["origin"] == "cf.cond_br" and cond["taken"] == 0 and cond["uniform"] == 1
        assert cond["via"] == [row["id"]]
    assert dst["access"]["base_via"] == [row["id"]] and dst["access"]["class"] == "contiguous"


@BOTH
def test_scf_if_branches_and_scalar_early_return(target):
    """Both arms of an scf.if, after an early return on a scalar argument: each op carries its path, and
    with a launch the fraction of programs that reach it (grid 8, n_rows 5: 5/8, then pid even 3/8)."""
    data = graph("guarded_tail", target, Launch({"n_rows": 5}, (8, 1, 1)))
    ops = movement(data)
    assert [o["kind"] for o in ops] == ["load", "store", "load", "store"]
    first, then_store, else_load, else_store = ops
    assert first["info"]["executed_fraction"] == 0.625
    assert [c["taken"] for c in then_store["info"]["conditions"]] == [0, 1]
    assert [c["origin"] for c in then_store["info"]["conditions"]] == ["cf.cond_br", "scf.if"]
    assert then_store["info"]["executed_fraction"] == 0.375
    assert else_load["info"]["executed_fraction"] == else_store["info"]["executed_fraction"] == 0.25
    assert [c["taken"] for c in else_store["info"]["conditions"]] == [0, 0]


@BOTH
def test_executed_fraction_scales_the_cost(target):
    model = model_for(target)
    whole = graph("guarded_tail", target, Launch({"n_rows": 8}, (8, 1, 1)))
    half = graph("guarded_tail", target, Launch({"n_rows": 4}, (8, 1, 1)))
    load_whole, load_half = movement(whole)[0], movement(half)[0]
    for k in (whole, half):
        k["grid"] = [8]
    a = model.op_cost(load_whole, whole).terms["global_bytes"]
    b = model.op_cost(load_half, half).terms["global_bytes"]
    assert load_whole["info"]["executed_fraction"] == 1.0 and load_half["info"]["executed_fraction"] == 0.5
    assert b == pytest.approx(a / 2)


@BOTH
def test_while_loop_body_and_result_are_data_dependent(target):
    """A binary search in scf.while: the load in its body is lifted at depth 1 (trips assumed: a while
    loop), and the copy at the found row has a uniform data-dependent base (the search's loads)."""
    ops = movement(graph("while_search", target))
    probe, src, dst = ops
    assert probe["depth"] == 1 and probe["shape"] == []
    assert probe["info"]["trips"]["assumed"] == 1  # no launch given
    assert src["kind"] == "load" and src["access"]["base"] == "uniform_data"
    assert src["access"]["base_via"] == [probe["id"]] and src["access"]["indirect_via"] == []
    assert dst["access"]["base"] == "static"


def _search_iterations(starts: np.ndarray, n: int, pid: int) -> int:
    lo, hi, k = 0, n, 0
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if starts[mid] <= pid else (lo, mid)
        k += 1
    return k


@BOTH
def test_while_loop_trips_run_the_search(target):
    """With the starts tensor the binary search is run per program: its trips are the mean iterations
    of the same search in Python. The kernel's `n` is named `%hi` in the TTGIR (`hi = n`): the launch's
    value is found through the argument's name location."""
    starts = np.array([0, 3, 5, 9, 20, 21, 40, 50, 77, 90], dtype=np.int64)
    module = parsed("while_search", target)
    func = functions(module)[0]
    values = LaunchValues({"n": 10}, (60, 1, 1), lambda names: {"starts_ptr": starts})
    values = values.renamed(Locations(module).argument_aliases(func))
    probe = next(op for op in func.walk() if op_name_of(op) == "tt.load")
    expect = np.mean([_search_iterations(starts, 10, p) for p in range(60)])  # every program
    assert trip_report(probe, values)["value"] == pytest.approx(expect)
    assert Locations(module).argument_aliases(func) == {"hi": "n"}


@BOTH
def test_source_ops_cover_every_block(target):
    """`source_ops` (the lowering's map from dm ids to Triton ops) lists the ops of every block in the
    order of the dm ids, including those after the cf.cond_br."""
    module = parsed("early_return", target)
    ops = source_ops(module)
    data = graph("early_return", target)
    assert [op_name_of(o) for o in ops] == [o["origin"] for o in data["ops"]]
    blocks = {id(o.parent_block()) for o in ops}
    assert len(blocks) == 2


# ------------------------------------------------------------------ uniform base vs per-lane
@BOTH
def test_scalar_base_copy_is_a_load_at_a_uniform_base(target):
    ops = movement(graph("scalar_base_copy", target))
    start, src, dst = ops
    assert src["kind"] == "load" and src["access"]["class"] == "contiguous"
    assert src["access"]["base"] == "uniform_data" and src["access"]["base_via"] == [start["id"]]
    assert src["access"]["strides"] == [1] and src["access"]["indirect_via"] == []
    assert dst["access"]["base"] == "static"


@BOTH
def test_copy_row_to_runtime_offset_has_no_indirection(target):
    row, off, src, dst = [o for o in movement(graph("copy_row_to_runtime_offset", target))]
    assert (src["kind"], dst["kind"]) == ("load", "store")
    assert src["access"]["base_via"] == [row["id"]] and dst["access"]["base_via"] == [off["id"]]


@BOTH
def test_per_lane_gather_stays_indirect(target):
    idx, rows, out = movement(graph("gather_rows", target))
    assert rows["kind"] == "indirect_load" and rows["access"]["indirect_via"] == [idx["id"]]
    assert rows["access"]["base_via"] == [] and rows["access"]["strides"] == [None, 1]


def _widest(ptx: str, op: str) -> int:
    """Bytes of the widest `ld.global`/`st.global` of 32-bit elements in PTX."""
    widths = [int(m.group(1) or 1) * 4 for m in re.finditer(rf"{op}\.global(?:\.\w+)*?(?:\.v(\d))?\.b32", ptx)]
    return max(widths, default=0)


@pytest.mark.parametrize("name", ["scalar_base_copy", "aligned_base_copy", "copy_row_to_runtime_offset"])
def test_uniform_base_vector_width_matches_ptx(name):
    """A tile at a loaded base vectorizes as a plain load: by the base's alignment (none known: scalar
    accesses; `tl.multiple_of(start, 16)` or a row times 512 elements: 16 bytes), as Triton's PTX has it."""
    ops = movement(graph(name, "h100"))
    ptx = compiled(name, "h100").asm["ptx"]
    tiles = [o for o in ops if o["shape"]]
    assert max(o["access"]["vector_bytes"] for o in tiles if o["kind"] == "load") == _widest(ptx, "ld")
    assert max(o["access"]["vector_bytes"] for o in tiles if o["kind"] == "store") == _widest(ptx, "st")


# ------------------------------------------------------------------------------- loop trips
@BOTH
def test_scalar_loop_trips_follow_the_launch(target):
    """range(0, n, 128) runs ceil(n / 128) times; the triangular nest range(pid + 1) x range(j) runs
    pid (pid + 1) / 2 times, averaged over the grid."""
    for n, grid in ((1000, 8), (5000, 3)):
        ops = movement(graph("scalar_trips", target, Launch({"n": n}, (grid, 1, 1))))
        outer, inner = [o for o in ops if o["depth"]]
        assert outer["info"]["trips"] == {"value": float(-(-n // 128)), "assumed": 0, "from": "launch"}
        expect = sum(p * (p + 1) / 2 for p in range(grid)) / grid
        assert inner["info"]["trips"]["value"] == pytest.approx(expect)


@BOTH
def test_assumed_trips_are_said_in_the_breakdown(target):
    model = model_for(target)
    known = graph("scalar_trips", target, Launch({"n": 1000}, (8, 1, 1)))
    unknown = graph("scalar_trips", target)
    assert "assumed_trips" not in model.kernel_cost(known).terms
    cost = model.kernel_cost(unknown)
    assert cost.terms["assumed_trips"] == 2  # the two loads in loops
    loop_load = next(o for o in movement(unknown) if o["depth"] == 1)
    assert cost.info["ops"][loop_load["id"]]["info"]["trips_assumed"] is True
    priced = model.kernel_cost(known).info["ops"][loop_load["id"]]["info"]["scale"]
    assert priced == pytest.approx(8 * 8)  # 8 CTAs (the guard's grid) x 8 trips


@BOTH
def test_trips_read_from_argument_tensors(target):
    """The varlen loop runs over cu_seqlens[pid]..cu_seqlens[pid + 1] in steps of 16: with the launch's
    tensor (a prefix sum of random lengths) the trips are the mean of ceil(len / 16)."""
    module = parsed("varlen_rows", target)
    func = functions(module)[0]
    lengths = np.random.default_rng(3).integers(0, 200, size=12)
    cu = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = LaunchValues({}, (12, 1, 1), lambda names: {"cu_seqlens_ptr": cu})
    load = next(op for op in func.walk() if op_name_of(op) == "tt.load" and op.parent_op() is not func
                and op_name_of(op.parent_op()) == "scf.for")
    report = trip_report(load, values)
    assert report["assumed"] is False
    assert report["value"] == pytest.approx(np.mean(-(-lengths // 16)))
    assert trip_report(load, LaunchValues({}, (12, 1, 1)))["assumed"] is True


@BOTH
def test_trips_from_a_manifest_launch_table(target):
    """The same through a manifest's launch table: `launch_tensors` builds cu_seqlens (a prefix sum of
    random lengths), and the trips are those of its lengths; without the tensor they are assumed."""
    from eqsat.ingest.launch import launch_tensors

    table = {"grid": [9], "args": {"cu_seqlens_ptr": {"shape": [10], "dtype": "int32",
                                                      "init": "prefix_sum(0, 100)"},
                                   "src_ptr": {"shape": [1000, 64], "dtype": "float16", "init": "randn"},
                                   "dst_ptr": {"shape": [1000, 64], "dtype": "float16", "init": "poison"}}}
    cu = launch_tensors(table)["cu_seqlens_ptr"].long().numpy()
    expect = np.mean(-(-np.diff(cu) // 16))
    ops = movement(graph("varlen_rows", target, Launch.from_manifest(table)))
    loop_ops = [o for o in ops if o["depth"]]
    assert loop_ops and all(o["info"]["trips"]["value"] == pytest.approx(expect) for o in loop_ops)
    scalars_only = {"grid": [9], "args": {}}
    ops = movement(graph("varlen_rows", target, Launch.from_manifest(scalars_only)))
    assert all(o["info"]["trips"]["assumed"] == 1 for o in ops if o["depth"])


def test_trips_leave_out_programs_an_early_return_stops():
    """Programs that return before a loop do not run it: trips are averaged over the others, and the cost
    model's runs per CTA (trips x executed fraction) equal the loop's iterations over the grid / CTAs."""
    from eqsat.costmodels.common import loop_trips

    rates = model_for("h100").rates
    data = graph("guarded_loop", "h100", Launch({"n_rows": 3, "n": 1000}, (8, 1, 1)))
    (inner,) = [o for o in movement(data) if o["depth"]]
    assert inner["info"]["executed_fraction"] == 3 / 8
    assert inner["info"]["trips"]["value"] == 8.0
    assert loop_trips(inner, rates, data) == pytest.approx(3 * 8 / 8)


def test_launch_from_manifest_keeps_the_table():
    table = {"grid": [4], "args": {"n": 7, "x": {"shape": [4], "dtype": "int32", "init": "arange"}}}
    launch = Launch.from_manifest(table)
    assert launch.args == {"n": 7} and launch.grid == (4, 1, 1) and launch.table is table
    assert launch.values() is launch.values()


# ------------------------------------------------------- property: lanes vs uniform data bases
M, N = 8, 16
TT = f"tensor<{M}x{N}xi32, #blocked>"


class _Expr:
    """Random address expressions over a [M, N] tile with loaded scalars and loaded tiles as leaves."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lines: list[str] = []
        self.n = 0
        self.tile_loads = 0
        self.scalar_loads = 0
        self.ops: set[str] = set()  # the arithmetic of the expression (not of its leaves)

    def fresh(self) -> str:
        self.n += 1
        return f"%v{self.n}"

    def axis(self, axis: int) -> tuple[str, callable]:
        size = M if axis == 0 else N
        r, e, b = self.fresh(), self.fresh(), self.fresh()
        sl = f"#ttg.slice<{{dim = {1 - axis}, parent = #blocked}}>"
        small = f"tensor<{M}x1xi32, #blocked>" if axis == 0 else f"tensor<1x{N}xi32, #blocked>"
        self.lines += [f"{r} = tt.make_range {{end = {size} : i32, start = 0 : i32}} : tensor<{size}xi32, {sl}>",
                       f"{e} = tt.expand_dims {r} {{axis = {1 - axis} : i32}} : tensor<{size}xi32, {sl}> -> {small}",
                       f"{b} = tt.broadcast {e} : {small} -> {TT}"]
        grid = np.arange(size)
        val = np.broadcast_to(grid[:, None] if axis == 0 else grid[None, :], (M, N)).astype(np.int64)
        return b, lambda mem: val

    def leaf(self) -> tuple[str, callable, bool]:
        """(ssa, values(memory), depends on memory per lane)."""
        kind = self.rng.choice(["row", "col", "const", "scalar_load", "scalar_load", "tile_load"])
        if kind in ("row", "col"):
            v, f = self.axis(0 if kind == "row" else 1)
            return v, f, False
        if kind == "const":
            c = self.rng.choice([1, 2, 3, 16])
            v = self.fresh()
            self.lines.append(f"{v} = arith.constant dense<{c}> : {TT}")
            return v, lambda mem: np.full((M, N), c, np.int64), False
        if kind == "scalar_load":
            k = self.rng.randrange(32)
            self.scalar_loads += 1
            c, p, ld, v = self.fresh(), self.fresh(), self.fresh(), self.fresh()
            self.lines += [f"{c} = arith.constant {k} : i32", f"{p} = tt.addptr %q, {c} : !tt.ptr<i32>, i32",
                           f"{ld} = tt.load {p} : !tt.ptr<i32>", f"{v} = tt.splat {ld} : i32 -> {TT}"]
            return v, lambda mem: np.full((M, N), mem[k], np.int64), False
        self.tile_loads += 1
        r, fr = self.axis(0)
        c, fc = self.axis(1)
        sixteen, rm, idx, qs, qp, v = (self.fresh() for _ in range(6))
        qt = f"tensor<{M}x{N}x!tt.ptr<i32>, #blocked>"
        self.lines += [f"{sixteen} = arith.constant dense<{N}> : {TT}", f"{rm} = arith.muli {r}, {sixteen} : {TT}",
                       f"{idx} = arith.addi {rm}, {c} : {TT}", f"{qs} = tt.splat %q : !tt.ptr<i32> -> {qt}",
                       f"{qp} = tt.addptr {qs}, {idx} : {qt}, {TT}", f"{v} = tt.load {qp} : {qt}"]
        return v, lambda mem: mem[fr(mem) * N + fc(mem)], True

    def expr(self, depth: int) -> tuple[str, callable, bool]:
        if depth == 0 or self.rng.random() < 0.3:
            return self.leaf()
        op = self.rng.choice(["addi", "addi", "subi", "muli", "remsi"])
        self.ops.add(op)
        x, fx, lx = self.expr(depth - 1)
        if op == "remsi":
            c, v = self.fresh(), self.fresh()
            self.lines += [f"{c} = arith.constant dense<4> : {TT}", f"{v} = arith.remsi {x}, {c} : {TT}"]
            return v, lambda mem: fx(mem) % 4, True  # may mix data into lanes
        y, fy, ly = self.expr(depth - 1)
        v = self.fresh()
        self.lines.append(f"{v} = arith.{op} {x}, {y} : {TT}")
        fn = {"addi": np.add, "subi": np.subtract, "muli": np.multiply}[op]
        return v, lambda mem: fn(fx(mem), fy(mem)), lx or ly or op == "muli"

    def module(self, root: str) -> str:
        body = "\n    ".join(self.lines)
        pt = f"tensor<{M}x{N}x!tt.ptr<f32>, #blocked>"
        return f"""#blocked = #ttg.blocked<{{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [2, 1], order = [1, 0]}}>
module attributes {{"ttg.num-warps" = 2 : i32, "ttg.threads-per-warp" = 32 : i32, ttg.target = "cuda:90"}} {{
  tt.func public @k(%p: !tt.ptr<f32> {{tt.divisibility = 16 : i32}}, %q: !tt.ptr<i32> {{tt.divisibility = 16 : i32}}) {{
    {body}
    %ps = tt.splat %p : !tt.ptr<f32> -> {pt}
    %pp = tt.addptr %ps, {root} : {pt}, {TT}
    %x = tt.load %pp : {pt}
    tt.return
  }}
}}
"""


@pytest.mark.parametrize("seed", range(300))
def test_uniform_base_claim_against_brute_force(seed):
    """When the analysis calls an access not indirect, changing the memory its address reads from only
    moves the whole tile (the difference of the addresses is the same in every lane); an address built
    only from affine indices and loaded scalars by + and - is never called indirect."""
    rng = random.Random(seed)
    gen = _Expr(rng)
    root, values, _ = gen.expr(rng.randint(1, 4))
    module = parse_ttgir(gen.module(root), f"lanes{seed}.ttgir")
    func = functions(module)[0]
    an = AddressAnalysis(func)
    load = [op for op in module.walk() if op_name_of(op) == "tt.load"][-1]
    ptr = an.value(load.ptr)
    assert isinstance(ptr, PtrValue)
    acc = access_of(ptr, load.ptr.type, an, None, 2, 32)
    nprng = np.random.default_rng(seed)
    mems = [nprng.integers(-50, 50, size=M * N + 32) for _ in range(4)]
    diffs = [values(m) - values(mems[0]) for m in mems[1:]]
    if acc.klass != "indirect":
        for d in diffs:
            assert (d == d.flat[0]).all(), "an access called uniform-based moves lanes apart"
    if not gen.tile_loads and not gen.ops & {"remsi", "muli"}:
        assert acc.klass != "indirect"
        assert bool(acc.base_via) == bool(gen.scalar_loads)


# ------------------------------------------------------------------------ the whole corpus
COUNTED = ("tt.load", "tt.store", "tt.dot", "ttng.warp_group_dot", "ttg.convert_layout", "tt.gather",
           "ttg.local_alloc", "ttg.local_load", "ttg.local_store", "ttg.async_copy_global_to_local",
           "amdg.buffer_load", "amdg.buffer_store", "amdg.buffer_load_to_local", "tt.descriptor_load",
           "tt.descriptor_store", "ttng.async_tma_copy_global_to_local", "ttng.async_tma_copy_local_to_global")
_OP = re.compile(r"^\s*(?:%[\w#:.$-]+(?:, %[\w#:.$-]+)* = )?(" + "|".join(re.escape(n) for n in COUNTED) + r")\b",
                 re.M)


@cache
def _corpus() -> list:
    from eqsat.pipeline import front_end

    return [k for k in front_end([str(m) for m in MANIFESTS], ["h100", "mi300x"])]


def test_lift_accounts_for_every_movement_op_of_the_corpus():
    """Every corpus kernel x target: the dm ops account for every load, store, dot, conversion, gather and
    local-memory op of the TTGIR text (counted in the text, independently of the parser and the walk)."""
    kernels = [k for k in _corpus() if k.ok]
    assert len(kernels) >= 80
    for k in kernels:
        text = collections.Counter(_OP.findall(k.ttgir))
        lifted = collections.Counter(o["origin"] for o in to_json(k.dm)["ops"] if o["origin"] in COUNTED)
        assert text == lifted, (k.name, k.target, dict(text - lifted), dict(lifted - text))


def test_corpus_indirect_accesses_vary_per_lane():
    """An `indirect_*` op of the corpus has per-lane reads; a uniform-data base is never a gather."""
    for k in (k for k in _corpus() if k.ok):
        for o in to_json(k.dm)["ops"]:
            a = o.get("access")
            if a is None:
                continue
            assert (o["kind"].startswith("indirect_")) == bool(a["indirect_via"]) or o["kind"] == "tma_load"
            assert a["base"] == ("uniform_data" if a["base_via"] else "static")
            if o["kind"] in ("load", "store"):
                assert a["class"] in ("contiguous", "strided")


def test_lifter_program_order_is_the_lowerings():
    """Lifter.plan and source_ops agree op for op on every corpus kernel (one program order)."""
    for k in (k for k in _corpus() if k.ok):
        func = functions(k.module)[0]
        plan = [p.op for p in Lifter(k.module, func, Locations(k.module)).plan()]
        assert plan == source_ops(k.module)


def test_lift_does_not_depend_on_what_ran_before():
    """The dm JSON of a kernel is the same lifted first or after the whole corpus (no process-global
    state: fresh symbols in strides are numbered per function)."""
    import json

    kernels = [k for k in _corpus() if k.ok]
    loops = [k for k in kernels if "scf.for" in k.ttgir or "multiple_of" in k.ttgir][:16]
    first = {(k.name, k.target): json.dumps(to_json(lift(k.module, k.name, k.target)), sort_keys=True)
             for k in loops}
    for k in reversed(kernels):
        lift(k.module, k.name, k.target)
    again = {(k.name, k.target): json.dumps(to_json(lift(k.module, k.name, k.target)), sort_keys=True)
             for k in loops}
    assert first == again
