"""The runtime loader on the CPU: every corpus kernel's identity plan compiles through `triton.compile`
from TTGIR, and the original kernel's runtime arguments map onto the compiled kernel's as Triton reads
them (count, order, types of the IRSource signature); random kernels with constexprs, folded integers and
None parameters are compiled by Triton and mapped the same way; calls that break the specialization are
refused; and the GPU side imports neither xdsl nor egglog."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from eqsat.lowering.irtext import entry_arguments
from eqsat.lowering.loader import OptimizedKernel, load, triton_type
from eqsat.lowering.rundir import spec_from_json, spec_to_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eqsat.errors import EqsatError
from eqsat.ingest import compile_spec, load_manifest
from eqsat.ingest.manifest import KernelSpec
from eqsat.targets import get_target

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "corpora" / "project.toml"


def _make_identity_run() -> object:
    spec = importlib.util.spec_from_file_location("make_identity_run", ROOT / "benchmarks" / "make_identity_run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_identity_run


@pytest.fixture(scope="module")
def identity_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("identity_run")
    entries = _make_identity_run()([str(PROJECT)], ["h100"], out)
    assert len(entries) == len(load_manifest(PROJECT).kernels) and all(e["status"] == "ok" for e in entries)
    return out


def _oracle_runtime(spec: KernelSpec) -> list[str]:
    return [n for n, ty in spec.signature.items() if ty != "constexpr" and n not in spec.equal_to_1]


def _check_mapping(k: OptimizedKernel, spec: KernelSpec) -> None:
    """The loader's binding against Triton's own reading of the compiled TTGIR (IRSource signature)."""
    ir_types = list(k.compiled.src.signature.values())
    runtime = [n for n, ty in spec.signature.items() if ty != "constexpr"]
    assert list(k.args.runtime) == runtime
    # distinct values: 16 * (i + 1) keeps every divisible argument divisible; folded ones get 1
    values = [1 if n in spec.equal_to_1 else 16 * (i + 1) for i, n in enumerate(runtime)]
    bound = k.args.bind(values, {}, "test")
    expected = [v for n, v in zip(runtime, values, strict=True) if n not in spec.equal_to_1]
    assert bound == expected
    assert len(bound) == len(ir_types)
    passed = _oracle_runtime(spec)
    assert [triton_type(t) for t in ir_types] == [spec.signature[n] for n in passed]
    by_name = k.args.bind([], dict(zip(runtime, values, strict=True)), "test")
    assert by_name == bound


def test_every_corpus_kernel_loads_and_maps(identity_run: Path) -> None:
    manifest = load_manifest(PROJECT)
    for spec in manifest.kernels:
        k = load(identity_run / spec.name / "h100")
        assert k.name == spec.name and k.target == "h100"
        _check_mapping(k, spec)
        _, names = entry_arguments((identity_run / spec.name / "h100" / "optimized.ttgir").read_text())
        assert names == _oracle_runtime(spec)


def test_spec_json_round_trips(identity_run: Path) -> None:
    for spec in load_manifest(PROJECT).kernels:
        data = json.loads((identity_run / spec.name / "h100" / "spec.json").read_text())
        assert data["path"] == f"corpora/{Path(spec.path or '').relative_to(ROOT / 'corpora')}"
        back = spec_from_json(data, "spec.json")
        assert back == spec


def test_calls_that_break_the_specialization_are_refused(identity_run: Path) -> None:
    k = load(identity_run / "column_major_load" / "h100")  # stride_xm folded to 1; x_ptr, y_ptr divisible
    good = [32, 48, 300, 200, 1, 300]
    assert k.args.bind(good, {}, "t") == [32, 48, 300, 200, 300]
    with pytest.raises(EqsatError, match="'stride_xm' was folded to 1"):
        k.args.bind([32, 48, 300, 200, 2, 300], {}, "t")
    with pytest.raises(EqsatError, match="'x_ptr' was compiled as 16-divisible"):
        k.args.bind([36, 48, 300, 200, 1, 300], {}, "t")
    with pytest.raises(EqsatError, match="constexpr 'BLOCK_M' was compiled as 64"):
        k.args.bind(good, {"BLOCK_M": 128}, "t")
    assert k.args.bind(good, {"BLOCK_M": 64, "BLOCK_N": 64}, "t") == [32, 48, 300, 200, 300]
    with pytest.raises(EqsatError, match="missing runtime argument"):
        k.args.bind(good[:3], {}, "t")
    with pytest.raises(EqsatError, match="unknown argument 'nope'"):
        k.args.bind(good, {"nope": 1}, "t")
    with pytest.raises(EqsatError, match="takes 6 runtime argument"):
        k.args.bind([*good, 7], {}, "t")
    with pytest.raises(EqsatError, match="given twice"):
        k.args.bind(good, {"M": 300}, "t")


def test_ir_file_kernel_without_spec_takes_the_ttgir_arguments(tmp_path: Path) -> None:
    d = tmp_path / "softmax_rows" / "h100"
    d.mkdir(parents=True)
    shutil.copy(ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir", d / "optimized.ttgir")
    k = load(d)
    _, names = entry_arguments((d / "optimized.ttgir").read_text())
    assert list(k.args.runtime) == names == list(k.args.passed)
    assert len(k.compiled.src.signature) == len(names)
    assert k.args.bind(list(range(len(names))), {}, "t") == list(range(len(names)))


def test_mi300x_plan_loads(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _make_identity_run()([str(PROJECT)], ["mi300x"], out, ["copy_2d", "column_major_load"])
    for name in ("copy_2d", "column_major_load"):
        k = load(out / name / "mi300x")
        assert k.compiled.metadata.target.backend == "hip"
        spec = load_manifest(PROJECT).kernels[[s.name for s in load_manifest(PROJECT).kernels].index(name)]
        _check_mapping(k, spec)


def test_load_errors_are_one_line(identity_run: Path, tmp_path: Path) -> None:
    with pytest.raises(EqsatError, match="plan directory not found"):
        load(tmp_path / "missing" / "h100")
    wrong = tmp_path / "copy_2d" / "a100"
    shutil.copytree(identity_run / "copy_2d" / "h100", wrong)
    with pytest.raises(EqsatError, match="unknown target 'a100'"):
        load(wrong)
    amd = tmp_path / "copy_2d" / "mi300x"
    shutil.copytree(identity_run / "copy_2d" / "h100", amd)
    with pytest.raises(EqsatError, match="TTGIR is for cuda:90, not hip:gfx942"):
        load(amd)
    bad = tmp_path / "bad" / "h100"
    shutil.copytree(identity_run / "copy_2d" / "h100", bad)
    text = (bad / "optimized.ttgir").read_text()
    (bad / "optimized.ttgir").write_text(text.replace("tt.return", "tt.return %nope", 1))
    with pytest.raises(EqsatError, match="does not compile") as e:
        load(bad)
    assert "\n" not in str(e.value)
    drop = tmp_path / "drop" / "h100"
    shutil.copytree(identity_run / "copy_2d" / "h100", drop)
    spec = json.loads((drop / "spec.json").read_text())
    spec["signature"] = {"extra": "i32", **spec["signature"]}
    spec["launch"]["args"]["extra"] = 3
    (drop / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(EqsatError, match="the spec has 5 runtime argument"):
        load(drop)


# ------------------------------------------------------------- random kernels compiled by Triton

_PARAM_KINDS = ("ptr_f32", "ptr_f16", "ptr_i32", "int", "int_div", "int_one", "float", "constexpr", "none")


def _random_kernel(kinds: list[str]) -> tuple[str, KernelSpec]:
    """A @triton.jit source using every parameter once, and the spec the JIT would specialize it as."""
    names = [f"p{i}" for i in range(len(kinds))]
    params, body = [], ["    pid = tl.program_id(0)", "    acc = pid.to(tl.float32)"]
    signature: dict[str, str] = {}
    constexprs: dict[str, object] = {}
    divisible, equal_to_1, none = [], [], []
    ptrs = []
    for n, kind in zip(names, kinds, strict=True):
        if kind.startswith("ptr"):
            elem = {"ptr_f32": "fp32", "ptr_f16": "fp16", "ptr_i32": "i32"}[kind]
            params.append(n)
            signature[n] = "*" + elem
            divisible.append(n)
            ptrs.append(n)
            body.append(f"    acc += tl.load({n} + pid).to(tl.float32)")
        elif kind in ("int", "int_div", "int_one"):
            params.append(n)
            signature[n] = "i32"
            if kind == "int_div":
                divisible.append(n)
            if kind == "int_one":
                equal_to_1.append(n)
            body.append(f"    acc += {n}")
        elif kind == "float":
            params.append(n)
            signature[n] = "fp32"
            body.append(f"    acc += {n}")
        elif kind == "constexpr":
            params.append(f"{n}: tl.constexpr")
            signature[n] = "constexpr"
            constexprs[n] = 3
            body.append(f"    acc += {n}")
        else:
            params.append(f"{n}: tl.constexpr")
            signature[n] = "constexpr"
            none.append(n)
            body.append(f"    if {n} is not None:\n        acc += 1.0")
    out = ptrs[0] if ptrs else None
    if out is not None:
        body.append(f"    tl.store({out} + pid, acc.to({out}.dtype.element_ty))")
    src = "import triton\nimport triton.language as tl\n\n\n@triton.jit\ndef k(" + ", ".join(params) + "):\n"
    src += "\n".join(body) + "\n"
    spec = KernelSpec(name="k", manifest="<test>", path="", function="k", signature=signature,
                      constexprs=constexprs, divisible=tuple(divisible), equal_to_1=tuple(equal_to_1),
                      none=tuple(none), num_stages=1)
    return src, spec


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_PARAM_KINDS), min_size=1, max_size=7).map(lambda ks: ["ptr_f32", *ks]))
def test_random_kernels_map_like_triton_reads_them(tmp_path: Path, kinds: list[str]) -> None:
    src, spec = _random_kernel(kinds)
    d = tmp_path / f"case{abs(hash(tuple(kinds)))}"
    (d / "k" / "h100").mkdir(parents=True, exist_ok=True)
    (d / "kern.py").write_text(src)
    spec = KernelSpec(**{**spec.__dict__, "path": str(d / "kern.py")})
    art = compile_spec(spec, get_target("h100"), use_cache=False)
    plan = d / "k" / "h100"
    (plan / "optimized.ttgir").write_text(art.ttgir)
    (plan / "spec.json").write_text(json.dumps(spec_to_json(spec, root=d)))
    k = load(plan, root=d)
    _check_mapping(k, spec)


def _refusing(*blocked: str) -> str:
    """The start of a script whose imports of `blocked` packages fail (what the GPU machine lacks)."""
    return f"""import sys
BLOCKED = {blocked!r}
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, Refuse())
"""


def test_gpu_side_imports_no_xdsl_or_egglog(identity_run: Path) -> None:
    """Loader, bench and the bench command import and compile with xdsl, egglog, z3 and numpy refused."""
    code = _refusing("xdsl", "egglog", "z3", "numpy", "networkx") + f"""
import eqsat.lowering.loader, eqsat.lowering.bench, eqsat.commands.bench
k = eqsat.lowering.loader.load({str(identity_run / "tma_copy_scale" / "h100")!r})
assert k.args.passed == ("x_ptr", "y_ptr", "M", "N"), k.args.passed
bad = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
assert not bad, bad
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


SERVING = ROOT / "corpora" / "serving.toml"


@pytest.fixture(scope="module")
def serving_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serving_run")
    names = ["moe_unpermute_reduce", "varlen_prefill_attention", "kv_cache_scatter"]
    entries = _make_identity_run()([str(SERVING)], ["h100", "mi300x"], out, names)
    assert len(entries) == 6 and all(e["status"] == "ok" for e in entries), entries
    return out


def test_serving_plans_load_with_per_target_specs_and_dtype_constexprs(serving_run: Path) -> None:
    import triton.language as tl

    raw = next(s for s in load_manifest(SERVING).kernels if s.name == "moe_unpermute_reduce")
    for target, warps, block in (("h100", 4, 1024), ("mi300x", 8, 2048)):
        k = load(serving_run / "moe_unpermute_reduce" / target)
        assert k.spec is not None and k.spec.num_warps == warps and k.spec.constexprs["BLOCK_H"] == block
        assert k.compiled.metadata.num_warps == warps
        assert k.args.constexprs["COMPUTE_TYPE"] is tl.float32  # the dtype constexpr as the JIT has it
        values = [16 * (i + 1) for i in range(len(k.args.runtime))]
        assert k.args.bind(values, {"COMPUTE_TYPE": tl.float32}, "t") == values
        with pytest.raises(EqsatError, match="constexpr .COMPUTE_TYPE. was compiled as triton.language.float32"):
            k.args.bind(values, {"COMPUTE_TYPE": tl.float16}, "t")
        # spec.json keeps the raw entry (per-target tables included) or the resolved one; both read back
        (serving_run / "moe_unpermute_reduce" / target / "spec.json").write_text(json.dumps(spec_to_json(raw)))
        again = load(serving_run / "moe_unpermute_reduce" / target)
        assert again.spec.num_warps == warps and not again.spec.per_target
    amd = load(serving_run / "varlen_prefill_attention" / "mi300x")
    assert amd.spec.launch["grid"] == [4, 16, 32] and amd.spec.constexprs["BLOCK_M"] == 32
    k = load(serving_run / "kv_cache_scatter" / "h100")
    assert k.args.types["stride_key"] == "i64"  # int64-annotated: never folded, typed i64


def test_serving_bench_side_imports_no_xdsl_or_egglog(serving_run: Path) -> None:
    """The bench's tensor building (views, prefix sums, pads) and dtype constexprs with xdsl, egglog, z3
    refused (numpy is torch's own: allowed here)."""
    code = _refusing("xdsl", "egglog", "z3", "networkx") + f"""
import eqsat.lowering.bench as bench
from eqsat.lowering.rundir import read_spec
from eqsat.ingest.launch import build_tensors
from eqsat.ingest.compile import constexpr_values
spec = read_spec({str(serving_run / "kv_cache_scatter" / "h100")!r})
t = build_tensors(spec.launch, "cpu", seed=0)
assert t["key_cache_ptr"].untyped_storage().data_ptr() == t["kv_cache"].untyped_storage().data_ptr()
assert int((t["slot_mapping_ptr"] < 0).sum()) == 16
assert bench.tensor_bytes(spec.launch) == (256 * 6144 + 512 * 2 * 16 * 1024) * 2 + 256 * 8
spec = read_spec({str(serving_run / "moe_unpermute_reduce" / "mi300x")!r})
assert str(constexpr_values(spec)["COMPUTE_TYPE"]) == "fp32" and spec.num_stages == 0
bad = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
assert not bad, bad
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
