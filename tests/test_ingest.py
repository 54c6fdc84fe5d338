"""Ingest: every corpus kernel compiles on the CPU for h100 and mi300x; the cache; one-line errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eqsat.errors import EqsatError
from eqsat.ingest import compile_spec, ingest, load_manifest
from eqsat.targets import get_target

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
MANIFESTS = sorted(CORPORA.glob("*.toml"))
TTG_TARGET = {"h100": 'ttg.target = "cuda:90"', "mi300x": 'ttg.target = "hip:gfx942"'}


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("EQSAT_CACHE_DIR")
    os.environ["EQSAT_CACHE_DIR"] = str(tmp_path_factory.mktemp("eqsat-cache"))
    yield
    if old is None:
        os.environ.pop("EQSAT_CACHE_DIR", None)
    else:
        os.environ["EQSAT_CACHE_DIR"] = old


def _cases():
    for m in MANIFESTS:
        for spec in load_manifest(m).kernels:
            for t in ("h100", "mi300x"):
                marks = []
                if not spec.supports(t):
                    why = f"{spec.name}: targets = {list(spec.targets or ())}"
                    marks.append(pytest.mark.skip(reason=why))
                elif spec.module and importlib.util.find_spec(spec.module.split(".")[0]) is None:
                    marks.append(pytest.mark.skip(reason=f"{spec.module.split('.')[0]} is not installed"))
                yield pytest.param(spec, t, id=f"{m.stem}-{spec.name}-{t}", marks=marks)


@pytest.mark.parametrize("spec, target", list(_cases()))
def test_corpus_kernel_compiles(spec, target: str) -> None:
    art = compile_spec(spec, get_target(target))
    assert TTG_TARGET[target] in art.ttgir
    assert "tt.func" in art.ttgir
    assert art.asm_kind == ("ptx" if target == "h100" else "amdgcn")
    assert art.asm and art.upto == "asm"
    # what ingest uses: the same TTIR and TTGIR from a compile that stops after the TTGIR stage
    only = compile_spec(spec, get_target(target), upto="ttgir")
    assert only.upto == "ttgir" and only.asm == ""
    # modulo location paths: Triton's own cache may answer the full compile with the IR of another
    # checkout of the same source (its key is the source, not the path)
    from eqsat.lowering.irtext import strip_locations

    assert strip_locations(only.ttgir) == strip_locations(art.ttgir)
    assert strip_locations(only.ttir) == strip_locations(art.ttir)
    assert only.metadata["function"] == art.metadata["function"]
    assert only.metadata["num_warps"] == art.metadata["num_warps"]
    assert only.cache_key != art.cache_key
    if spec.kind == "python":
        assert "tt.func" in art.ttir
        # the specialization reached the IR: divisible args carry tt.divisibility
        for name in spec.divisible:
            assert f"%{name}: " in art.ttir
        if spec.divisible:
            assert "tt.divisibility = 16" in art.ttir
        if target == "mi300x" and any(t.startswith("*") for t in spec.signature.values()):
            assert "tt.pointer_range = 32" in art.ttir


def _project(name: str):
    return next(s for s in load_manifest(CORPORA / "project.toml").kernels if s.name == name)


def test_specialization_shapes_the_ir() -> None:
    """Folded stride (equal_to_1) and divisibility: what makes CPU IR equal the JIT's."""
    art = compile_spec(_project("column_major_load"), get_target("h100"))
    assert "%stride_xm" not in art.ttir and "%stride_xn: i32" in art.ttir
    art = compile_spec(_project("matmul_fp16"), get_target("h100"))
    assert "ttg.async_copy_global_to_local" in art.ttgir
    assert "ttng.warp_group_dot" in art.ttgir
    art = compile_spec(_project("tma_copy_scale"), get_target("h100"))
    assert "ttng.async_tma_copy_global_to_local" in art.ttgir
    assert "ttng.async_tma_copy_local_to_global" in art.ttgir


def test_gather_locality_as_designed() -> None:
    """The 2D gathers are made warp-local (efficient_layout); the 1D one is not (cross-warp)."""
    for name, local in (("gather_rows_warp_local", True), ("gather_cols_axis0", True),
                        ("gather_1d_cross_warp", False)):
        g = compile_spec(_project(name), get_target("h100")).ttgir
        line = next(x for x in g.splitlines() if "tt.gather" in x)
        assert ("efficient_layout" in line) == local, (name, line)


def test_cache_hit_returns_same_text_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EQSAT_CACHE_DIR", str(tmp_path))
    spec = _project("softmax_rows")
    first = compile_spec(spec, get_target("h100"))
    assert not first.cached
    assert list(tmp_path.rglob("*.json"))
    t0 = time.perf_counter()
    second = compile_spec(spec, get_target("h100"))
    elapsed = time.perf_counter() - t0
    assert second.cached and second.ttgir == first.ttgir and second.asm == first.asm
    assert elapsed < 0.5, elapsed
    # the key covers the target and the spec parameters
    other = compile_spec(spec, get_target("mi300x"))
    assert not other.cached and other.cache_key != first.cache_key


def test_ttgir_and_full_artifacts_never_share_a_cache_entry(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EQSAT_CACHE_DIR", str(tmp_path))
    spec = _project("copy_2d")
    for target in ("h100", "mi300x"):
        only = compile_spec(spec, get_target(target), upto="ttgir")
        full = compile_spec(spec, get_target(target))  # after a TTGIR-only entry: still machine code
        assert not full.cached and full.asm and full.upto == "asm"
        again = compile_spec(spec, get_target(target), upto="ttgir")
        assert again.cached and again.upto == "ttgir" and again.asm == "" and again.ttgir == only.ttgir
        assert compile_spec(spec, get_target(target)).cached
    results = ingest(CORPORA / "project.toml", "mi300x", names=["copy_2d"])
    assert results[0].ok and results[0].artifacts.upto == "ttgir"
    assert ingest(CORPORA / "project.toml", "mi300x", names=["copy_2d"], upto="asm")[0].artifacts.asm


def test_long_compiles_report_progress_on_stderr(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from eqsat.ingest import compile as compile_mod

    monkeypatch.setattr(compile_mod, "PROGRESS_AFTER_S", 0.05)
    with compile_mod._Progress(_project("copy_2d"), get_target("mi300x"), "ttgir"):
        time.sleep(0.4)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("eqsat: compiling kernel 'copy_2d' (copy.py:copy_2d) for mi300x (TTGIR only)")
    assert "still running after" in err[0] and "done after 0." in err[1]
    with compile_mod._Progress(_project("copy_2d"), get_target("h100"), "asm"):
        pass  # a quick compile says nothing
    assert capsys.readouterr().err == ""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD_KERNEL = '''
import triton
import triton.language as tl


@triton.jit
def good(x_ptr, y_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs))


@triton.jit
def broken(x_ptr, y_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, 3)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs))


def not_a_kernel():
    pass
'''

ENTRY = '''
[[kernel]]
name = "{name}"
path = "{path}"
function = "{function}"
signature = {{ x_ptr = "*fp32", y_ptr = "*fp32", BLOCK = "constexpr" }}
constexprs = {{ BLOCK = 128 }}
divisible = ["x_ptr", "y_ptr"]
[kernel.launch]
grid = [1]
[kernel.launch.args]
x_ptr = {{ shape = [128], dtype = "float32", init = "randn" }}
y_ptr = {{ shape = [128], dtype = "float32", init = "poison" }}
'''


def _manifest(tmp_path: Path, *entries: tuple[str, str, str]) -> Path:
    _write(tmp_path, "k.py", GOOD_KERNEL)
    text = "".join(ENTRY.format(name=n, path=p, function=f) for n, p, f in entries)
    return _write(tmp_path, "m.toml", text)


def _one_line(err: EqsatError | None) -> str:
    assert err is not None
    msg = str(err)
    assert "\n" not in msg and "Traceback" not in msg, msg
    return msg


def test_bad_entries_fail_alone(tmp_path: Path) -> None:
    m = _manifest(tmp_path, ("ok1", "k.py", "good"), ("missing_file", "nope.py", "good"),
                  ("unknown_fn", "k.py", "nothere"), ("not_jit", "k.py", "not_a_kernel"),
                  ("no_compile", "k.py", "broken"), ("ok2", "k.py", "good"))
    results = ingest(m, "h100", use_cache=False)
    by = {r.name: r for r in results}
    assert [r.name for r in results] == ["ok1", "missing_file", "unknown_fn", "not_jit", "no_compile", "ok2"]
    assert by["ok1"].ok and by["ok2"].ok and 'ttg.target = "cuda:90"' in by["ok2"].ttgir
    msg = _one_line(by["missing_file"].error)
    assert msg.startswith(f"{m}:") and "kernel 'missing_file'" in msg and "file not found: nope.py" in msg
    msg = _one_line(by["unknown_fn"].error)
    assert msg.startswith(f"{m}:") and "function 'nothere' not found in k.py" in msg
    msg = _one_line(by["not_jit"].error)
    assert "'not_a_kernel' in k.py is not a @triton.jit function" in msg
    msg = _one_line(by["no_compile"].error)
    assert msg.startswith(f"{m}:") and "kernel 'no_compile': does not compile at k.py:14:" in msg, msg
    assert "power of 2" in msg, msg


def test_entry_lines_are_reported(tmp_path: Path) -> None:
    m = _manifest(tmp_path, ("ok1", "k.py", "good"), ("bad", "k.py", "nothere"))
    err = next(r.error for r in ingest(m, "h100") if r.name == "bad")
    line = next(i + 1 for i, x in enumerate(m.read_text().splitlines()) if x == 'name = "bad"') - 1
    assert str(err).startswith(f"{m}:{line}:1: error:"), str(err)


def test_missing_and_malformed_manifests_raise_one_line(tmp_path: Path) -> None:
    with pytest.raises(EqsatError) as ei:
        ingest(tmp_path / "none.toml", "h100")
    assert _one_line(ei.value) == f"{tmp_path / 'none.toml'}: error: manifest not found"
    bad = _write(tmp_path, "bad.toml", '[[kernel]]\nname = "x"\nnum_warps = = 4\n')
    with pytest.raises(EqsatError) as ei:
        ingest(bad, "h100")
    msg = _one_line(ei.value)
    assert msg.startswith(f"{bad}:3:") and "malformed TOML" in msg
    with pytest.raises(EqsatError) as ei:
        ingest(bad, "a100")
    assert "unknown target 'a100'" in _one_line(ei.value)


def test_missing_module(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.toml", ENTRY.format(name="ext", path="x", function="f").replace(
        'path = "x"', 'module = "no_such_pkg_eqsat.ops"'))
    (r,) = ingest(m, "h100")
    assert "module 'no_such_pkg_eqsat.ops' is not installed" in _one_line(r.error)


def test_signature_must_match_function(tmp_path: Path) -> None:
    _write(tmp_path, "k.py", GOOD_KERNEL)
    text = ENTRY.format(name="sig", path="k.py", function="good")
    text = text.replace('x_ptr = "*fp32", ', 'z = "*fp32", ')
    text = text.replace('divisible = ["x_ptr", "y_ptr"]', 'divisible = ["y_ptr"]').replace(
        "x_ptr = {", "z = {")
    (r,) = ingest(_write(tmp_path, "m.toml", text), "h100")
    assert "signature names unknown parameter(s) z of 'good'" in _one_line(r.error)


def test_ir_files_and_targets(tmp_path: Path) -> None:
    ttgir = CORPORA / "ir" / "softmax_rows.h100.ttgir"
    (r,) = ingest(ttgir, "h100")
    assert r.ok and 'ttg.target = "cuda:90"' in r.ttgir
    (r,) = ingest(ttgir, "mi300x")
    assert "is TTGIR for cuda:90, not hip:gfx942" in _one_line(r.error)
    # entries restricted by `targets` are left out (or reported as skipped)
    assert [r.name for r in ingest(CORPORA / "ir.toml", "mi300x")] == ["copy_2d_ttir"]
    res = ingest(CORPORA / "ir.toml", "mi300x", include_skipped=True)
    assert [(r.name, r.skipped) for r in res] == [("copy_2d_ttir", False), ("softmax_rows_ttgir", True)]
    (r,) = ingest(_write(tmp_path, "junk.ttgir", "module {"), "h100")
    assert r.error is not None and "does not compile" in _one_line(r.error)


# ------------------------------------------------------------------ issue 9 reproducers and issue 10 item 7

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


CAST_KERNEL = '''import triton
import triton.language as tl


@triton.jit
def cast_copy(x_ptr, y_ptr, n: tl.int64, N: tl.constexpr, COMPUTE: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs, mask=offs < n).to(COMPUTE)
    tl.store(y_ptr + offs, x, mask=offs < n)
'''


def _cast_manifest(tmp_path: Path, compute: str = '"tl.bfloat16"', x_dtype: str = "float32", n: int = 1,
                   extra: str = "") -> Path:
    (tmp_path / "k.py").write_text(CAST_KERNEL)
    return _write(tmp_path, "m.toml", f'''# a kernel with a dtype constexpr and an int64-annotated length
[[kernel]]
name = "cast"
path = "k.py"
function = "cast_copy"
signature = {{ x_ptr = "*fp32", y_ptr = "*fp32", n = "i64", N = "constexpr", COMPUTE = "constexpr" }}
constexprs = {{ N = 1024, COMPUTE = {compute} }}
divisible = ["x_ptr", "y_ptr"]
{extra}
[kernel.launch]
grid = [1]
[kernel.launch.args]
x_ptr = {{ shape = [1024], dtype = "{x_dtype}", init = "randn" }}
y_ptr = {{ shape = [1024], dtype = "float32", init = "poison" }}
n = {n}
''')


@pytest.mark.parametrize("command", [["ingest"], ["cost", "kernel"], ["optimize", "--out", "o"]])
def test_binary_manifest_is_one_line_exit_2(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "bin.toml").write_bytes(b'[[kernel]]\nname = "a\xff\xfe"\n\x00\x01')
    r = _cli(*command[:2] if command[0] == "cost" else command[:1], "bin.toml", "--target", "h100",
             *command[1:] if command[0] == "optimize" else [], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("bin.toml:2:10: error: not a UTF-8 text file (byte 0xff)"), r.stderr


def test_launch_dtype_that_contradicts_the_signature_is_refused_with_line_and_column(tmp_path: Path) -> None:
    m = _cast_manifest(tmp_path, x_dtype="float16")
    r = _cli("ingest", "m.toml", "--target", "h100", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    line = next(i + 1 for i, x in enumerate(m.read_text().splitlines()) if x.startswith("x_ptr ="))
    col = m.read_text().splitlines()[line - 1].index("dtype") + 1
    assert r.stderr.startswith(f"m.toml:{line}:{col}: error: kernel 'cast': launch.args: 'x_ptr' has dtype "
                               "float16 (fp16) but the signature says '*fp32'"), r.stderr


def test_dtype_constexpr_compiles_and_reaches_the_ir(tmp_path: Path) -> None:
    m = _cast_manifest(tmp_path)
    for target in ("h100", "mi300x"):
        (r,) = ingest(m, target)
        assert r.ok, r.error
        assert "arith.truncf" in r.ttgir and "arith.extf" in r.ttgir  # fp32 -> bf16 -> fp32
    # the same kernel with tl.float32: no conversion left
    (r,) = ingest(_cast_manifest(tmp_path, compute='"tl.float32"'), "h100")
    assert r.ok and "arith.truncf" not in r.ttgir
    bad = load_manifest(_cast_manifest(tmp_path, compute='"tl.bfloat17"'))
    assert "is not a Triton dtype" in str(bad.errors[0][1]) and ":7:" in str(bad.errors[0][1])
    (r,) = ingest(_cast_manifest(tmp_path, compute='"bfloat16"'), "h100")
    assert "a Triton dtype is written \"tl.<name>\"" in str(r.error) and "k.py:8" in str(r.error)


def test_int64_annotated_parameter_is_never_folded(tmp_path: Path) -> None:
    from eqsat.ingest import load_function
    from eqsat.ingest.compile import jit_annotations, jit_flags
    from eqsat.ingest.launch import check_consistency

    spec = load_manifest(_cast_manifest(tmp_path, n=1)).kernels[0]
    fn = load_function(spec)
    assert jit_annotations(fn) == {"n": "i64"}
    flags = jit_flags(fn)
    assert check_consistency(spec, flags["no_specialize"], flags["no_align"], jit_annotations(fn)) == []
    # without the annotation the same launch would be a folded i32
    problems = check_consistency(spec, flags["no_specialize"], flags["no_align"])
    assert any("launch value 1 is i32" in p for p in problems), problems
    (r,) = ingest(spec, "h100")
    assert r.ok and "%n: i64" in r.artifacts.ttir
    folded = load_manifest(_cast_manifest(tmp_path, n=1, extra='equal_to_1 = ["n"]')).kernels[0]
    (r,) = ingest(folded, "h100")
    assert "annotates it i64: the JIT never folds" in str(r.error)


def test_num_stages_zero_and_per_target_overrides(tmp_path: Path) -> None:
    m = _cast_manifest(tmp_path, n=1024, extra='''num_stages = 2
[kernel.per_target.mi300x]
num_stages = 0
num_warps = 8
constexprs = { COMPUTE = "tl.float32" }
launch = { grid = [2], args = { n = 2048 } }''')
    spec = load_manifest(m).kernels[0]
    amd, nv = spec.for_target("mi300x"), spec.for_target("h200")
    assert (amd.num_stages, amd.num_warps, amd.constexprs["COMPUTE"]) == (0, 8, "tl.float32")
    assert amd.launch["grid"] == [2] and amd.launch["args"]["n"] == 2048
    assert amd.launch["args"]["x_ptr"] == spec.launch["args"]["x_ptr"]
    assert (nv.num_stages, nv.num_warps, nv.launch) == (2, 4, spec.launch)
    (r,) = ingest(m, "mi300x")
    assert r.ok and r.metadata["num_stages"] == 0 and r.metadata["num_warps"] == 8
    assert r.spec.num_warps == 8 and not r.spec.per_target and '"ttg.num-warps" = 8' in r.ttgir
    (r,) = ingest(m, "h100")
    assert r.ok and r.metadata["num_stages"] == 2 and '"ttg.num-warps" = 4' in r.ttgir
    # a per-target override is validated like the entry itself, pointing at its line
    bad = load_manifest(_cast_manifest(tmp_path, extra='[kernel.per_target.mi300x]\nnum_warps = 3'))
    msg = str(bad.errors[0][1])
    assert "per_target.mi300x: 'num_warps' must be a power of two" in msg and ":10:" in msg, msg
    bad = load_manifest(_cast_manifest(tmp_path, extra='[kernel.per_target.a100]\nnum_warps = 4'))
    assert "per_target: unknown target 'a100'" in str(bad.errors[0][1])
