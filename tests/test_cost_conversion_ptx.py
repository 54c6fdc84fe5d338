"""The shared-memory path of `convert` against real compiles: Triton 3.6 compiles a TTGIR kernel (load a tile
in layout A, `ttg.convert_layout` to B, store it in B) for sm_90 (PTX) and gfx942 (AMDGCN); the test counts
the shared stores/loads per thread (`st.shared*` / `stmatrix*` / `ds_write*`, `ld.shared*` / `ldmatrix*` /
`ds_read*`), their bytes per lane, and the barriers (`bar.sync` / `bar.warp.sync` / `s_barrier`), and the
model (`costmodels.conversion.shared_round_trip`) must predict every number: instructions per thread =
per-round instructions x reps, barriers = 2 reps - 1, instruction kind and vector bytes.

Cases: random blocked / linear / mma-like layout pairs (f16, f32, i8; square and non-square shapes) and
every convert of the project corpus (`eqsat ingest corpora/project.toml --format json`), each compiled as a
one-convert kernel so the machine code belongs to that convert alone. Compiles run in a 2-process pool.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from eqsat.costmodels.base import model_for
from eqsat.costmodels.common import dtype_bits
from eqsat.costmodels.conversion import classify_texts, shared_round_trip

ROOT = Path(__file__).resolve().parents[1]
TRITON_TARGET = {"h100": ("cuda:90", 32), "mi300x": ("hip:gfx942", 64)}


# ------------------------------------------------------------------------------------------- kernels
def _sliced(lay: str, rank: int, kept: list[int]) -> str:
    """`lay` with every dim not in `kept` sliced away, highest first (the layout of a partial range)."""
    text = lay
    for r in reversed(range(rank)):
        if r not in kept:
            text = f"#ttg.slice<{{dim = {r}, parent = {text}}}>"
    return text


def _offsets(lay: str, name: str, shape: tuple[int, ...]) -> str:
    """TTGIR computing the row-major element offsets `%<name>o` of a `shape` tile in layout `lay`."""
    rank = len(shape)
    full = "x".join(str(s) for s in shape)
    lines: list[str] = []
    acc, stride = None, 1
    for d in reversed(range(rank)):

        def ty(kept: list[int], d: int = d) -> str:
            return "x".join(str(shape[k]) if k == d else "1" for k in kept)

        cur, kept = f"%{name}r{d}", [d]
        lines.append(
            f"{cur} = tt.make_range {{end = {shape[d]} : i32, start = 0 : i32}} : "
            f"tensor<{shape[d]}xi32, {_sliced(lay, rank, kept)}>"
        )
        for r in range(rank):  # expand the other dims back, lowest first
            if r == d:
                continue
            new = sorted(kept + [r])
            nxt = f"%{name}e{d}_{r}"
            lines.append(
                f"{nxt} = tt.expand_dims {cur} {{axis = {new.index(r)} : i32}} : "
                f"tensor<{ty(kept)}xi32, {_sliced(lay, rank, kept)}> -> "
                f"tensor<{ty(new)}xi32, {_sliced(lay, rank, new)}>"
            )
            cur, kept = nxt, new
        one = ty(kept)
        if stride != 1:
            lines.append(f"%{name}s{d} = arith.constant dense<{stride}> : tensor<{one}xi32, {lay}>")
            lines.append(f"%{name}m{d} = arith.muli {cur}, %{name}s{d} : tensor<{one}xi32, {lay}>")
            cur = f"%{name}m{d}"
        if rank > 1:
            lines.append(
                f"%{name}b{d} = tt.broadcast {cur} : tensor<{one}xi32, {lay}> -> tensor<{full}xi32, {lay}>"
            )
            cur = f"%{name}b{d}"
        if acc is None:
            acc = cur
        else:
            lines.append(f"%{name}a{d} = arith.addi {acc}, {cur} : tensor<{full}xi32, {lay}>")
            acc = f"%{name}a{d}"
        stride *= shape[d]
    lines.append(f"%{name}zero = arith.constant dense<0> : tensor<{full}xi32, {lay}>")
    lines.append(f"%{name}o = arith.addi {acc}, %{name}zero : tensor<{full}xi32, {lay}>")
    return "\n    ".join(lines)


def convert_kernel(a: str, b: str, shape: tuple[int, ...], dtype: str, target: str, warps: int = 4) -> str:
    """TTGIR: load a `shape` tile of `dtype` in layout `a`, convert it to `b`, store it in `b`."""
    tt_target, tpw = TRITON_TARGET[target]
    full = "x".join(str(s) for s in shape)
    t = f"tensor<{full}x!tt.ptr<{dtype}>"
    return f"""module attributes {{"ttg.num-ctas" = 1 : i32, "ttg.num-warps" = {warps} : i32, ttg.target = "{tt_target}", "ttg.threads-per-warp" = {tpw} : i32}} {{
  tt.func public @cvt(%src: !tt.ptr<{dtype}> {{tt.divisibility = 16 : i32}}, %dst: !tt.ptr<{dtype}> {{tt.divisibility = 16 : i32}}) attributes {{noinline = false}} {{
    {_offsets(a, "a", shape)}
    %ap = tt.splat %src : !tt.ptr<{dtype}> -> {t}, {a}>
    %aq = tt.addptr %ap, %ao : {t}, {a}>, tensor<{full}xi32, {a}>
    %x = tt.load %aq : {t}, {a}>
    %y = ttg.convert_layout %x : tensor<{full}x{dtype}, {a}> -> tensor<{full}x{dtype}, {b}>
    {_offsets(b, "b", shape)}
    %bp = tt.splat %dst : !tt.ptr<{dtype}> -> {t}, {b}>
    %bq = tt.addptr %bp, %bo : {t}, {b}>, tensor<{full}xi32, {b}>
    tt.store %bq, %y : {t}, {b}>
    tt.return
  }}
}}
"""


# --------------------------------------------------------------------------------- machine-code counts
_PTX_ST = re.compile(r"\bst\.shared(?:\.v(\d))?\.[bufs](\d+)")
_PTX_LD = re.compile(r"\bld\.shared(?:\.v(\d))?\.[bufs](\d+)")
_PTX_MATRIX = re.compile(r"\b(st|ld)matrix\.sync\.aligned\.m8n8\.x(\d)(\.trans)?\.shared\.b16")
_GCN_DS = re.compile(r"\bds_(write|read)(2st64|2)?_([bui])(\d+)(_d16(?:_hi)?)?\b")


def machine_counts(code: str, kind: str) -> dict:
    """Per-thread shared stores/loads as {(kind, bytes per lane): count} and barriers, from PTX/AMDGCN."""
    store: Counter = Counter()
    load: Counter = Counter()
    if kind == "ptx":
        for v, bits in _PTX_ST.findall(code):
            store[("shared", int(v or 1) * int(bits) // 8)] += 1
        for v, bits in _PTX_LD.findall(code):
            load[("shared", int(v or 1) * int(bits) // 8)] += 1
        for op, x, trans in _PTX_MATRIX.findall(code):
            (store if op == "st" else load)[("matrix" + trans, int(x) * 4)] += 1
        barriers = {
            "bar.sync": len(re.findall(r"\bbar\.sync\b", code)),
            "bar.warp.sync": len(re.findall(r"\bbar\.warp\.sync\b", code)),
        }
    else:
        for op, two, _, bits, _ in _GCN_DS.findall(code):
            (store if op == "write" else load)[("shared", int(bits) // 8)] += 2 if two else 1
        barriers = {"s_barrier": len(re.findall(r"\bs_barrier\b", code))}
    return {"store": dict(store), "load": dict(load), "barriers": barriers}


def _compile_counts(args: tuple[str, str]) -> dict | str:
    text, target = args
    from eqsat.errors import EqsatError
    from eqsat.ir.compile import compile_ttgir

    try:
        mc = compile_ttgir(text, target)
    except EqsatError as err:
        return f"compile error: {err}"
    return machine_counts(mc.text, mc.kind)


def compile_all(cases: list[tuple[str, str]]) -> list[dict | str]:
    with ProcessPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_compile_counts, cases, chunksize=2))


# --------------------------------------------------------------------------------------- the model
def _side_kind(instruction: str) -> str:
    if "matrix" in instruction:
        return "matrix.trans" if instruction.endswith(".trans") else "matrix"
    return "shared"


def predicted_counts(target: str, a: str, b: str, shape: tuple[int, ...], dtype: str) -> dict:
    """What the model says the machine code of the convert kernel holds (same keys as machine_counts)."""
    params = model_for(target).params
    family = str(params["model"])
    plan = classify_texts(a, b, shape, dtype_bits(dtype), family, 90 if family == "nvidia" else 0)
    zero_bar = {"bar.sync": 0, "bar.warp.sync": 0} if family == "nvidia" else {"s_barrier": 0}
    if plan.path != "shared":
        return {"store": {}, "load": {}, "barriers": zero_bar, "path": plan.path}
    rt = shared_round_trip(params, a, b, shape, dtype, plan)
    bars = dict(zero_bar)
    if rt.barrier in bars:
        bars[rt.barrier] = rt.barriers
    return {
        "store": {(_side_kind(rt.store.instruction), rt.store.vector_bytes): rt.store.instructions * rt.reps},
        "load": {(_side_kind(rt.load.instruction), rt.load.vector_bytes): rt.load.instructions * rt.reps},
        "barriers": bars,
        "path": "shared",
        "reps": rt.reps,
    }


# ------------------------------------------------------------------------------------- random layouts
def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    out = [1] * parts
    while total > 1:
        out[rng.randrange(parts)] *= 2
        total //= 2
    return out


def random_blocked(rng: random.Random, warp: int) -> str:
    spt = [rng.choice([1, 2, 4, 8]) for _ in range(2)]
    return (
        f"#ttg.blocked<{{sizePerThread = {spt}, threadsPerWarp = {_split(warp, 2, rng)}, "
        f"warpsPerCTA = {_split(4, 2, rng)}, order = {rng.choice([[1, 0], [0, 1]])}}}>"
    )


def random_linear(rng: random.Random, shape: tuple[int, int], warp: int) -> str:
    """A random distributed linear layout of `shape`: the unit bases shuffled over register/lane/warp."""
    units = [[1 << i, 0] for i in range(shape[0].bit_length() - 1)] + [
        [0, 1 << i] for i in range(shape[1].bit_length() - 1)
    ]
    rng.shuffle(units)
    n_lane, n_warp = warp.bit_length() - 1, 2
    lane, warp_b = units[:n_lane], units[n_lane : n_lane + n_warp]
    reg = units[n_lane + n_warp :]
    if rng.random() < 0.6:  # mostly the fast dim first in registers (vectorisable), else random order
        reg.sort(key=lambda u: (u[1] == 0, u[0] + u[1]))

    def fmt(bs: list[list[int]]) -> str:
        return "[" + ", ".join(f"[{x}, {y}]" for x, y in bs) + "]"

    return f"#ttg.linear<{{register = {fmt(reg)}, lane = {fmt(lane)}, warp = {fmt(warp_b)}, block = []}}>"


def random_mma(rng: random.Random, target: str) -> str:
    wpc = rng.choice([[2, 2], [4, 1], [1, 4]])
    if target == "mi300x":
        return (
            f"#ttg.amd_mfma<{{version = 3, warpsPerCTA = {wpc}, instrShape = [32, 32, 8], "
            f"isTransposed = {rng.choice(['true', 'false'])}}}>"
        )
    return (
        f"#ttg.nvidia_mma<{{versionMajor = 2, versionMinor = 0, warpsPerCTA = {wpc}, instrShape = [16, 8]}}>"
    )


SHAPES = [(32, 32), (64, 32), (16, 64), (64, 64), (128, 16), (32, 128), (128, 64)]


def random_case(rng: random.Random, target: str) -> tuple[str, str, tuple[int, int], str]:
    warp = TRITON_TARGET[target][1]
    shape = rng.choice(SHAPES)
    if target == "mi300x":
        shape = (max(shape[0], 64), max(shape[1], 64)) if rng.random() < 0.3 else shape

    def one() -> str:
        r = rng.random()
        if r < 0.55:
            return random_blocked(rng, warp)
        if r < 0.85 and shape[0] * shape[1] >= warp * 4:
            return random_linear(rng, shape, warp)
        return random_mma(rng, target)

    return one(), one(), shape, rng.choice(["f16", "f32", "i8"])


def _agree(pred: dict, real: dict | str) -> bool:
    return isinstance(real, dict) and all(pred[k] == real[k] for k in ("store", "load", "barriers"))


Case = tuple[str, str, tuple[int, ...], str, str, int]  # src, dst, shape, dtype, target, warps


def _run_cases(cases: list[Case]) -> tuple[list, list]:
    """Compile every case and compare; returns (compared cases, mismatches)."""
    preds = [predicted_counts(t, a, b, s, d) for a, b, s, d, t, _ in cases]
    reals = compile_all([(convert_kernel(a, b, s, d, t, w), t) for a, b, s, d, t, w in cases])
    compared, bad = [], []
    for case, pred, real in zip(cases, preds, reals, strict=True):
        if isinstance(real, str) and "compile error" in real:
            continue  # a layout pair Triton rejects (e.g. mma of a shape it cannot tile): not a model case
        compared.append((case, pred))
        if not _agree(pred, real):
            bad.append((case, pred, real))
    return compared, bad


def _random_shared_cases(target: str, seed: int, want: int) -> list[Case]:
    """`want` random cases that take the shared path plus a few that do not (checked to have no smem)."""
    rng = random.Random(seed)
    shared, other = [], []
    tries = 0
    while len(shared) < want and tries < 4000:
        tries += 1
        a, b, shape, dtype = random_case(rng, target)
        try:
            path = predicted_counts(target, a, b, shape, dtype)["path"]
        except Exception:  # noqa: BLE001 - layouts that do not fit the shape are skipped here
            continue
        (shared if path == "shared" else other).append((a, b, shape, dtype, target, 4))
    return shared + other[:4]


@pytest.mark.parametrize("target,want", [("h100", 44), ("mi300x", 22)])
def test_random_converts_match_machine_code(target: str, want: int) -> None:
    cases = _random_shared_cases(target, seed=11 if target == "h100" else 5, want=want)
    compared, bad = _run_cases(cases)
    n_shared = sum(1 for _, p in compared if p["path"] == "shared")
    assert n_shared >= (40 if target == "h100" else 20), n_shared
    assert not bad, f"{len(bad)}/{len(compared)} disagree; first: {bad[0]}"
    if target == "h100":  # the NVIDIA tile choice must really be exercised
        kinds = {k for _, p in compared for side in ("store", "load") for k, _ in p[side]}
        assert "matrix" in kinds or "matrix.trans" in kinds, kinds


def corpus_converts(target: str) -> list[Case]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from eqsat.cli import main; main()",
            "ingest",
            str(ROOT / "corpora" / "project.toml"),
            "--target",
            target,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seen, cases = set(), []
    for line in out.stdout.splitlines():
        kernel = json.loads(line)
        for op in kernel["ops"]:
            if op["kind"] != "convert" or op["dtype"].startswith("!tt.ptr"):
                continue
            key = (op["src_layout"], op["dst_layout"], tuple(op["shape"]), op["dtype"])
            if key not in seen:
                seen.add(key)
                cases.append((*key, target, int(kernel["num_warps"])))
    return cases


def test_corpus_converts_match_machine_code() -> None:
    cases = corpus_converts("h100") + corpus_converts("mi300x")
    compared, bad = _run_cases(cases)
    assert len(compared) >= 20 and sum(p["path"] == "shared" for _, p in compared) >= 10
    assert not bad, f"{len(bad)}/{len(compared)} disagree; first: {bad[0]}"
