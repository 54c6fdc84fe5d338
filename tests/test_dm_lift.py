"""The lift into the `dm` dialect on TTGIR of real Triton compiles (CPU only: no GPU needed), and a property
test of the address analysis against a brute-force evaluation of random address expressions."""

from __future__ import annotations

import functools
import json
import random

import numpy as np
import pytest
import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from eqsat.dm.address import BIG, AddressAnalysis, IntValue, PtrValue, access_of
from eqsat.dm.dialect import KINDS, DMOp
from eqsat.dm.json import to_json
from eqsat.dm.lift import lift, print_dm
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import parse_ttgir

TARGETS = {"h100": GPUTarget("cuda", 90, 32), "mi300x": GPUTarget("hip", "gfx942", 64)}


# ------------------------------------------------------------------------------------- kernels
@triton.jit
def embedding(ids, weight, out, D: tl.constexpr, BLOCK_T: tl.constexpr):
    t = tl.program_id(0) * BLOCK_T + tl.arange(0, BLOCK_T)
    tok = tl.load(ids + t)
    cols = tl.arange(0, D)
    rows = tl.load(weight + tok[:, None] * D + cols[None, :])
    tl.store(out + t[:, None] * D + cols[None, :], rows)


@triton.jit
def paged_kv(q, k_cache, block_table, out, stride_kb, max_blocks, n_blocks, BLOCK: tl.constexpr,
             D: tl.constexpr):
    seq = tl.program_id(0)
    offs_t = tl.arange(0, BLOCK)
    offs_d = tl.arange(0, D)
    qv = tl.load(q + seq * D + offs_d).to(tl.float32)
    acc = tl.zeros([D], tl.float32)
    for j in range(n_blocks):
        blk = tl.load(block_table + seq * max_blocks + j)
        kb = tl.load(k_cache + blk * stride_kb + offs_t[:, None] * D + offs_d[None, :]).to(tl.float32)
        s = tl.sum(kb * qv[None, :], axis=1)
        acc += tl.sum(kb * s[:, None], axis=0)
    tl.store(out + seq * D + offs_d, acc)


@triton.jit
def moe_scatter(x, sorted_ids, out, N: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, N)
    vals = tl.load(x + rows[:, None] * N + cols[None, :])
    dst = tl.load(sorted_ids + rows)
    tl.store(out + dst[:, None] * N + cols[None, :], vals, mask=dst[:, None] >= 0)


@triton.jit
def gather(x, idx, out, M: tl.constexpr, N: tl.constexpr):
    r = tl.arange(0, M)
    c = tl.arange(0, N)
    t = tl.load(x + r[:, None] * N + c[None, :])
    i = tl.load(idx + r[:, None] * N + c[None, :])
    g = tl.gather(t, i, axis=0)
    s = tl.sum(g, axis=1)
    tl.store(out + r[:, None] * N + c[None, :], g - s[:, None])


@triton.jit
def transpose(x, out, M: tl.constexpr, N: tl.constexpr):
    r = tl.arange(0, M)
    c = tl.arange(0, N)
    t = tl.load(x + r[:, None] * N + c[None, :])
    tl.store(out + c[:, None] * M + r[None, :], tl.trans(t))
    s = tl.load(x + r * 3)
    tl.store(out + r, s)


@triton.jit
def matmul(a, b, c, M, N, K, sam, sbk, scm, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), tl.float32)
    for k in range(0, K, BK):
        x = tl.load(a + rm[:, None] * sam + (k + rk)[None, :])
        y = tl.load(b + (k + rk)[:, None] * sbk + rn[None, :])
        acc = tl.dot(x, y, acc)
    tl.store(c + rm[:, None] * scm + rn[None, :], acc.to(tl.float16))


@triton.jit
def tma_copy(x, y, M, N, BM: tl.constexpr, BN: tl.constexpr):
    d = tl.make_tensor_descriptor(x, shape=[M, N], strides=[N, 1], block_shape=[BM, BN])
    e = tl.make_tensor_descriptor(y, shape=[M, N], strides=[N, 1], block_shape=[BM, BN])
    t = d.load([tl.program_id(0) * BM, 0])
    e.store([tl.program_id(0) * BM, 0], t)


def _div(*idx: int) -> dict:
    return {(i,): [["tt.divisibility", 16]] for i in idx}


KERNELS = {
    "embedding": (embedding, {"ids": "*i32", "weight": "*fp16", "out": "*fp16", "D": "constexpr",
                              "BLOCK_T": "constexpr"}, {"D": 64, "BLOCK_T": 32}, _div(0, 1, 2), 1),
    "paged_kv": (paged_kv, {"q": "*fp16", "k_cache": "*fp16", "block_table": "*i32", "out": "*fp32",
                            "stride_kb": "i32", "max_blocks": "i32", "n_blocks": "i32", "BLOCK": "constexpr",
                            "D": "constexpr"}, {"BLOCK": 16, "D": 64}, _div(0, 1, 2, 3, 4), 1),
    "moe_scatter": (moe_scatter, {"x": "*fp32", "sorted_ids": "*i32", "out": "*fp32", "N": "constexpr",
                                  "BLOCK_M": "constexpr"}, {"N": 64, "BLOCK_M": 32}, _div(0, 1, 2), 1),
    "gather": (gather, {"x": "*fp32", "idx": "*i32", "out": "*fp32", "M": "constexpr", "N": "constexpr"},
               {"M": 64, "N": 64}, _div(0, 1, 2), 1),
    "transpose": (transpose, {"x": "*fp32", "out": "*fp32", "M": "constexpr", "N": "constexpr"},
                  {"M": 32, "N": 64}, _div(0, 1), 1),
    "matmul": (matmul, {"a": "*fp16", "b": "*fp16", "c": "*fp16", "M": "i32", "N": "i32", "K": "i32",
                        "sam": "i32", "sbk": "i32", "scm": "i32", "BM": "constexpr", "BN": "constexpr",
                        "BK": "constexpr"}, {"BM": 128, "BN": 128, "BK": 64}, _div(*range(9)), 3),
    "tma_copy": (tma_copy, {"x": "*fp16", "y": "*fp16", "M": "i32", "N": "i32", "BM": "constexpr",
                            "BN": "constexpr"}, {"BM": 64, "BN": 64}, _div(0, 1, 2, 3), 1),
}


@functools.cache
def compiled(name: str, target: str):
    fn, sig, constexprs, attrs, stages = KERNELS[name]
    if name == "tma_copy":
        triton.set_allocator(lambda size, align, stream: None)
    src = ASTSource(fn=fn, signature=sig, constexprs=constexprs, attrs=attrs)
    return triton.compile(src, target=TARGETS[target], options={"num_warps": 4, "num_stages": stages})


@functools.cache
def graph(name: str, target: str) -> dict:
    text = compiled(name, target).asm["ttgir"]
    module = lift(parse_ttgir(text, f"{name}.{target}.ttgir"), kernel=name, target=target)
    module.verify()
    return to_json(module)


def ops_of(name: str, target: str, kind: str | None = None) -> list[dict]:
    return [o for o in graph(name, target)["ops"] if kind is None or o["kind"] == kind]


BOTH = pytest.mark.parametrize("target", ["h100", "mi300x"])


# --------------------------------------------------------------------------------------- tests
@BOTH
def test_embedding_lookup_is_an_indirect_load(target):
    ids_load, = [o for o in ops_of("embedding", target, "load")]
    row, = ops_of("embedding", target, "indirect_load")
    store, = ops_of("embedding", target, "store")
    assert ids_load["dtype"] == "i32" and ids_load["access"]["class"] == "contiguous"
    acc = row["access"]
    assert acc["class"] == "indirect" and acc["indirect_via"] == [ids_load["id"]]
    assert acc["strides"] == [None, 1] and acc["fastest_dim"] == 1 and acc["contiguity"] == 64
    assert acc["vector_width"] == 8 and acc["vector_bytes"] == 16  # f16 x 8, the weights are 16-aligned
    assert store["access"]["strides"] == [64, 1] and store["access"]["vector_bytes"] == 16
    assert row["id"] in store["inputs"]


def test_embedding_vector_width_matches_ptx():
    """Triton's own code generation uses 16-byte loads for the rows, as the analysis says."""
    ptx = compiled("embedding", "h100").asm["ptx"]
    assert "ld.global.v4.b32" in ptx


@BOTH
def test_paged_kv_block_table_then_block_load(target):
    bt = [o for o in ops_of("paged_kv", target, "load") if o["shape"] == []]
    assert len(bt) == 1 and bt[0]["dtype"] == "i32" and bt[0]["depth"] == 1
    assert not ops_of("paged_kv", target, "indirect_load")  # a block base read once: not a gather
    kblock, = [o for o in ops_of("paged_kv", target, "load") if o["shape"] == [16, 64]]
    assert kblock["access"]["class"] == "contiguous" and kblock["access"]["indirect_via"] == []
    assert kblock["access"]["base"] == "uniform_data" and kblock["access"]["base_via"] == [bt[0]["id"]]
    assert kblock["access"]["strides"] == [64, 1]  # the block base is loaded, the tile inside is affine
    assert kblock["depth"] == 1 and bt[0]["id"] in kblock["inputs"]
    assert len(ops_of("paged_kv", target, "reduce")) == 2
    loop_carried = [o for o in ops_of("paged_kv", target, "other") if o["loop_inputs"]]
    assert loop_carried and loop_carried[0]["origin"] == "arith.addf"


@BOTH
def test_moe_scatter_is_an_indirect_store(target):
    ids = [o for o in ops_of("moe_scatter", target, "load") if o["dtype"] == "i32"]
    st, = ops_of("moe_scatter", target, "indirect_store")
    assert st["access"]["class"] == "indirect" and st["access"]["indirect_via"] == [ids[0]["id"]]
    assert st["access"]["strides"] == [None, 1]
    assert st["access"]["vector_bytes"] == 16 and st["access"]["mask_constancy"] == 64
    assert not ops_of("moe_scatter", target, "store")


@BOTH
def test_gather_convert_reduce(target):
    g, = ops_of("gather", target, "gather")
    assert g["info"]["axis"] == 0 and g["info"]["efficient_layout"] == 1
    assert g["layout"].startswith("#ttg.") and g["src_layout"] == g["layout"]
    converts = ops_of("gather", target, "convert")
    assert {c["id"] for c in converts} >= set(g["inputs"])
    assert all(c["src_layout"] != c["dst_layout"] for c in converts)
    red, = ops_of("gather", target, "reduce")
    assert red["inputs"] == [g["id"]] and red["dst_layout"].startswith("#ttg.slice")


@BOTH
def test_transpose_and_strided_load(target):
    tr, = ops_of("transpose", target, "trans")
    assert tr["shape"] == [64, 32] and tr["info"]["order"] == [1, 0]
    strided, = [o for o in ops_of("transpose", target, "load") if o["access"]["class"] == "strided"]
    assert strided["access"]["strides"] == [3] and strided["access"]["vector_width"] == 1


def test_matmul_async_copies_match_triton_contiguity():
    ops = ops_of("matmul", "h100")
    kinds = [o["kind"] for o in ops]
    assert kinds.count("local_alloc") == 2 and kinds.count("async_copy") == 6 and "async_wait" in kinds
    dot, = [o for o in ops if o["kind"] == "dot"]
    assert dot["origin"] == "ttng.warp_group_dot" and dot["loop_inputs"] == [dot["id"]]
    assert {dot["buffer"], dot["info"]["b_buffer"]} == {o["id"] for o in ops if o["kind"] == "local_alloc"}
    text = compiled("matmul", "h100").asm["ttgir"]
    module = parse_ttgir(text)
    triton_contig = [op.attributes["contiguity"].value.data for op in module.walk()
                     if op_name_of(op) == "ttg.async_copy_global_to_local"]
    ours = [o["access"]["vector_width"] for o in ops if o["kind"] == "async_copy"]
    assert ours == triton_contig == [8] * 6
    assert [o["access"]["strides"] for o in ops if o["kind"] == "async_copy"][:2] == [["sam", 1], ["sbk", 1]]


def test_matmul_amd_stages_through_local_store_and_load():
    ops = ops_of("matmul", "mi300x")
    kinds = {o["kind"] for o in ops}
    assert {"local_store", "local_load", "dot", "load", "store"} <= kinds
    allocs = {o["id"] for o in ops if o["kind"] == "local_alloc"}
    assert {o["buffer"] for o in ops if o["kind"] in ("local_store", "local_load")} == allocs


def test_matmul_amd_vector_widths_match_amdgcn():
    """16-byte loads and 8-byte stores of the MFMA-layout result (4 x f16 per thread, from the linear
    layout of `#ttg.amd_mfma`), as Triton's AMDGCN has them."""
    amdgcn = compiled("matmul", "mi300x").asm["amdgcn"]
    widths = {o["kind"]: o["access"]["vector_bytes"] for o in ops_of("matmul", "mi300x") if o["access"]}
    assert widths == {"load": 16, "store": 8}
    assert "global_load_dwordx4" in amdgcn and "global_store_dwordx2" in amdgcn
    assert "global_store_dwordx4" not in amdgcn


def test_tma_load_store_and_barriers():
    ops = ops_of("tma_copy", "h100")
    load, = [o for o in ops if o["kind"] == "tma_load"]
    store, = [o for o in ops if o["kind"] == "tma_store"]
    assert load["dst_space"] == "shared" and load["buffer"] == store["buffer"]
    assert load["access"]["class"] == "contiguous" and load["access"]["vector_width"] is None
    barriers = [o["origin"] for o in ops if o["kind"] == "barrier"]
    assert {"ttng.init_barrier", "ttng.barrier_expect", "ttng.wait_barrier"} <= set(barriers)
    assert load["info"]["barrier"] in {o["buffer"] for o in ops if o["kind"] == "barrier"}


def test_every_kind_comes_from_a_real_construct():
    seen = {o["kind"] for name in KERNELS for t in ("h100", "mi300x")
            if not (name == "tma_copy" and t == "mi300x") for o in ops_of(name, t)}
    assert seen == set(KINDS)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_json_contract(name):
    data = graph(name, "h100")
    assert data["kernel"] == name and data["target"] == "h100"
    json.dumps(data)
    ids = [o["id"] for o in data["ops"]]
    assert ids == list(range(len(ids)))
    for o in data["ops"]:
        assert o["kind"] in KINDS
        assert {"id", "kind", "layout", "src_layout", "dst_layout", "shape", "dtype", "access", "inputs"} <= set(o)
        assert all(i < o["id"] for i in o["inputs"])
        assert o["layout"] is None or o["layout"].startswith("#ttg.")
        if o["kind"] in ("load", "store", "indirect_load", "indirect_store", "async_copy"):
            a = o["access"]
            assert a["class"] in ("contiguous", "strided", "indirect")
            assert (a["class"] == "indirect") == bool(a["indirect_via"])
            assert 1 <= a["vector_width"] and a["vector_bytes"] <= 16


def test_dm_prints_with_xdsl_printer():
    text = compiled("embedding", "h100").asm["ttgir"]
    out = print_dm(lift(parse_ttgir(text)))
    assert "dm.kernel @embedding" in out and "dm.indirect_load 3 (%d2)" in out
    assert "#dm.access<class = indirect, strides = [?, 1]" in out
    module = lift(parse_ttgir(text))
    assert all(isinstance(op, DMOp) for k in module.ops for op in k.body.block.ops)


# ------------------------------------------------------------------ property: random addresses
M, N = 8, 16
LAYOUT = "#blocked"
TT = f"tensor<{M}x{N}xi32, {LAYOUT}>"


class _Gen:
    """Random integer address expressions over a [M, N] tile, as TTGIR lines plus a numpy evaluation."""

    def __init__(self, rng: random.Random, nargs: int = 3):
        self.rng = rng
        self.lines: list[str] = []
        self.n = 0
        self.args = [f"a{i}" for i in range(nargs)]
        self.arg_div = {a: rng.choice([1, 2, 4, 16]) for a in self.args}

    def fresh(self) -> str:
        self.n += 1
        return f"%v{self.n}"

    def leaf(self, env: dict[str, int]) -> tuple[str, np.ndarray, bool]:
        kind = self.rng.choice(["row", "col", "arg", "const"])
        if kind in ("row", "col"):
            axis = 0 if kind == "row" else 1
            size = M if axis == 0 else N
            start = self.rng.choice([0, 0, 4, 16])
            r, e, b = self.fresh(), self.fresh(), self.fresh()
            sl = f"#ttg.slice<{{dim = {1 - axis}, parent = {LAYOUT}}}>"
            small = f"tensor<{M}x1xi32, {LAYOUT}>" if axis == 0 else f"tensor<1x{N}xi32, {LAYOUT}>"
            self.lines += [
                f"{r} = tt.make_range {{end = {start + size} : i32, start = {start} : i32}} : "
                f"tensor<{size}xi32, {sl}>",
                f"{e} = tt.expand_dims {r} {{axis = {1 - axis} : i32}} : tensor<{size}xi32, {sl}> -> {small}",
                f"{b} = tt.broadcast {e} : {small} -> {TT}"]
            grid = np.arange(start, start + size)
            val = np.broadcast_to(grid[:, None] if axis == 0 else grid[None, :], (M, N))
            return b, val.astype(np.int64), True
        if kind == "arg":
            a = self.rng.choice(self.args)
            v = self.fresh()
            self.lines.append(f"{v} = tt.splat %{a} : i32 -> {TT}")
            return v, np.full((M, N), env[a], np.int64), True
        c = self.rng.choice([1, 2, 3, 4, 8, 16, 24])
        v = self.fresh()
        self.lines.append(f"{v} = arith.constant dense<{c}> : {TT}")
        return v, np.full((M, N), c, np.int64), True

    def expr(self, env: dict[str, int], depth: int) -> tuple[str, np.ndarray, bool]:
        """(ssa name, values, known non-negative)."""
        if depth == 0 or self.rng.random() < 0.25:
            return self.leaf(env)
        op = self.rng.choice(["addi", "addi", "subi", "muli", "muli", "remsi", "divsi"])
        x, xv, xn = self.expr(env, depth - 1)
        if op in ("remsi", "divsi"):
            if not xn:
                return x, xv, xn
            c = self.rng.choice([2, 4, 8, 16])
            cv = self.fresh()
            v = self.fresh()
            self.lines += [f"{cv} = arith.constant dense<{c}> : {TT}", f"{v} = arith.{op} {x}, {cv} : {TT}"]
            return v, (xv % c if op == "remsi" else xv // c), True
        y, yv, yn = self.expr(env, depth - 1)
        v = self.fresh()
        self.lines.append(f"{v} = arith.{op} {x}, {y} : {TT}")
        val = {"addi": xv + yv, "subi": xv - yv, "muli": xv * yv}[op]
        return v, val, xn and yn and op != "subi"

    def mask(self, root: str, values: np.ndarray, env: dict[str, int]) -> tuple[str, np.ndarray]:
        """`root < bound` with a random bound (a kernel argument or a constant), as a load mask."""
        if self.rng.random() < 0.5:
            a = self.rng.choice(self.args)
            bound, text = env[a], f"%{a}"
        else:
            bound = self.rng.randint(0, 40)
            text = None
        b, m = self.fresh(), "%mask"
        if text is None:
            self.lines.append(f"{b} = arith.constant dense<{bound}> : {TT}")
        else:
            self.lines.append(f"{b} = tt.splat {text} : i32 -> {TT}")
        pred = self.rng.choice(["slt", "sge", "sgt", "sle", "eq", "ne"])
        self.lines.append(f"{m} = arith.cmpi {pred}, {root}, {b} : {TT}")
        fn = {"slt": np.less, "sge": np.greater_equal, "sgt": np.greater, "sle": np.less_equal,
              "eq": np.equal, "ne": np.not_equal}[pred]
        return m, fn(values, bound)

    def module(self, root: str, mask: str | None = None) -> str:
        args = ", ".join(f"%{a}: i32 {{tt.divisibility = {self.arg_div[a]} : i32}}" for a in self.args)
        body = "\n    ".join(self.lines)
        return f"""#blocked = #ttg.blocked<{{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [2, 1], order = [1, 0]}}>
module attributes {{"ttg.num-warps" = 2 : i32, "ttg.threads-per-warp" = 32 : i32, ttg.target = "cuda:90"}} {{
  tt.func public @k(%p: !tt.ptr<f32> {{tt.divisibility = 16 : i32}}, {args}) {{
    {body}
    %ps = tt.splat %p : !tt.ptr<f32> -> tensor<{M}x{N}x!tt.ptr<f32>, {LAYOUT}>
    %pp = tt.addptr %ps, {root} : tensor<{M}x{N}x!tt.ptr<f32>, {LAYOUT}>, {TT}
    %x = tt.load %pp{", " + mask if mask else ""} : tensor<{M}x{N}x!tt.ptr<f32>, {LAYOUT}>
    tt.return
  }}
}}
"""


def _runs(values: np.ndarray, d: int, k: int):
    """Aligned runs of length k along dimension d: arrays of shape (..., k)."""
    v = np.moveaxis(values, d, -1)
    return v.reshape(*v.shape[:-1], v.shape[-1] // k, k)


@pytest.mark.parametrize("seed", range(400))
def test_address_analysis_against_brute_force(seed):
    rng = random.Random(seed)
    gen = _Gen(rng)
    env = {a: gen.arg_div[a] * rng.randint(0, 9) for a in gen.args}
    root, values, _ = gen.expr(env, depth=rng.randint(1, 4))
    mask, mask_values = gen.mask(root, values, env)
    module = parse_ttgir(gen.module(root, mask), f"random{seed}.ttgir")
    func = next(op for op in module.walk() if op_name_of(op) == "tt.func")
    an = AddressAnalysis(func)
    load = next(op for op in module.walk() if op_name_of(op) == "tt.load")
    ptr = an.value(load.ptr)
    assert isinstance(ptr, PtrValue)
    off: IntValue = ptr.offset
    sym_env = dict(env)
    # affine parts are exact: moving one step along an affine dimension adds the coefficient
    for d, c in enumerate(off.coeffs):
        if c is None:
            continue
        step = np.diff(values, axis=d)
        assert (step == c.evaluate(sym_env)).all(), (d, str(c))
    if all(c is not None for c in off.coeffs) and off.rdiv == BIG:
        i0, i1 = np.meshgrid(np.arange(M), np.arange(N), indexing="ij")
        expect = off.base.evaluate(sym_env) + off.coeffs[0].evaluate(sym_env) * i0 + \
            off.coeffs[1].evaluate(sym_env) * i1
        assert (expect == values).all()
    # Triton-lattice claims: contiguity, constancy and divisibility of run starts, per dimension
    for d in range(2):
        size = values.shape[d]
        k = off.contiguity(d)
        if k > 1:
            runs = _runs(values, d, k)
            assert (np.diff(runs, axis=-1) == 1).all(), ("contiguity", d, k)
        c = off.constancy(d)
        if c > 1:
            runs = _runs(values, d, c)
            assert (runs == runs[..., :1]).all(), ("constancy", d, c)
        div = min(off.divisibility(d, an.sym_div), 1 << 20)
        starts = _runs(values, d, max(k, 1))[..., 0]
        assert (starts % div == 0).all(), ("divisibility", d, div)
        assert size % max(k, 1) == 0
    # the mask's constancy: aligned runs of equal mask bits
    mv = an.int_value(load.mask)
    for d in range(2):
        c = mv.constancy(d)
        if c > 1:
            runs = _runs(mask_values, d, c)
            assert (runs == runs[..., :1]).all(), ("mask constancy", d, c)
    # and the access built from them never claims more than the values allow
    acc = access_of(ptr, load.ptr.type, an, mv, 2, 32)
    assert acc.vector_width & (acc.vector_width - 1) == 0
    if acc.vector_width > 1:
        runs = _runs(values, acc.fastest_dim, acc.vector_width)
        assert (np.diff(runs, axis=-1) == 1).all()
        assert (runs[..., 0] * 4 % (acc.vector_width * 4) == 0).all()
        mruns = _runs(mask_values, acc.fastest_dim, acc.vector_width)
        assert (mruns == mruns[..., :1]).all()
