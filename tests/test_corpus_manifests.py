"""Every corpus manifest validates, its specialization matches its launch arguments, and the corpus
covers the data-movement categories the project needs."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from eqsat.errors import EqsatError
from eqsat.ingest import load_function, load_manifest
from eqsat.ingest.compile import jit_annotations, jit_flags
from eqsat.ingest.launch import check_consistency, init_of, numel

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
MANIFESTS = sorted(CORPORA.glob("*.toml"))

REQUIRED_PROJECT_TAGS = [
    "gather-warp-local", "gather-cross-warp", "embedding", "paged-kv", "moe-permute", "moe-scatter",
    "indirect-load", "indirect-store", "transpose", "trans", "permute", "reduction", "broadcast",
    "matmul", "wgmma", "tma-load", "tma-store", "ragged", "masked", "softmax", "layernorm", "pipelined",
    "async-copy", "strided", "column-major", "atomics",
]


def _all_specs():
    out = []
    for m in MANIFESTS:
        out.extend(load_manifest(m).kernels)
    return out


SPECS = _all_specs()
PY_SPECS = [s for s in SPECS if s.kind == "python"]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates(manifest: Path) -> None:
    m = load_manifest(manifest)
    assert not m.errors, [str(e) for _, e in m.errors]
    assert m.kernels


@pytest.mark.parametrize("spec", PY_SPECS, ids=lambda s: s.name)
def test_specialization_matches_launch(spec) -> None:
    if spec.module and importlib.util.find_spec(spec.module.split(".")[0]) is None:
        pytest.skip(f"{spec.module.split('.')[0]} is not installed")
    fn = load_function(spec)
    flags = jit_flags(fn)
    for target in spec.targets or ("h100", "mi300x"):
        resolved = spec.for_target(target)
        problems = check_consistency(resolved, flags["no_specialize"], flags["no_align"], jit_annotations(fn))
        assert not problems, (target, problems)


@pytest.mark.parametrize("spec", PY_SPECS, ids=lambda s: s.name)
def test_launch_indices_and_grid_are_sane(spec) -> None:
    grid = spec.launch["grid"]
    assert 1 <= len(grid) <= 3
    for launch in (spec.launch, spec.bench):
        for name, v in (launch or {"args": {}})["args"].items():
            if isinstance(v, dict):
                kind, bounds = init_of(v)
                if kind in ("randint", "randperm", "sorted_randint") and bounds:
                    # only kernels that skip negative entries (tag skips-negative) may get them
                    assert bounds[0] >= 0 or "skips-negative" in spec.tags, \
                        f"{name}: index tensors must not hold negative values"
                if kind == "randperm":
                    assert numel(v["shape"]) > 1
                if v.get("pad", {}).get("value", 0) < 0:
                    assert "skips-negative" in spec.tags, f"{name}: negative padding"


def test_corpus_sizes() -> None:
    project = [s for s in PY_SPECS if s.path is not None and "/corpora/project/" in s.path]
    external = [s for s in PY_SPECS if s.module is not None]
    assert len(project) >= 20
    assert len(external) >= 10
    packages = {s.module.split(".")[0] for s in external}
    assert len(packages) >= 2, packages
    assert all("external" in s.tags for s in external)


def test_project_covers_required_categories() -> None:
    tags = {t for s in PY_SPECS if s.path is not None for t in s.tags}
    missing = [t for t in REQUIRED_PROJECT_TAGS if t not in tags]
    assert not missing, missing


def test_project_kernels_document_their_movement() -> None:
    for py in sorted((CORPORA / "project").glob("*.py")):
        tree = ast.parse(py.read_text())
        assert ast.get_docstring(tree), f"{py.name}: module docstring"
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                assert doc.startswith("Movement:"), f"{py.name}:{node.name}: docstring must start 'Movement:'"


def test_every_project_function_is_in_the_manifest() -> None:
    listed = {(Path(s.path).name, s.function) for s in PY_SPECS if s.path is not None}
    for py in sorted((CORPORA / "project").glob("*.py")):
        for node in ast.parse(py.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                assert (py.name, node.name) in listed, f"{py.name}:{node.name} is not in project.toml"


def test_inconsistent_specialization_is_reported(tmp_path: Path) -> None:
    (tmp_path / "k.py").write_text((CORPORA / "project" / "copy.py").read_text())
    (tmp_path / "m.toml").write_text('''
[[kernel]]
name = "ragged"
path = "k.py"
function = "ragged_copy"
signature = { x_ptr = "*fp32", y_ptr = "*fp32", n_cols = "i32", BLOCK_N = "constexpr" }
constexprs = { BLOCK_N = 1024 }
divisible = ["x_ptr", "n_cols"]
[kernel.launch]
grid = [4]
[kernel.launch.args]
x_ptr = { shape = [4, 1000], dtype = "float32", init = "randn", offset = 1 }
y_ptr = { shape = [4, 1000], dtype = "float32", init = "poison" }
n_cols = 1000
''')
    spec = load_manifest(tmp_path / "m.toml").kernels[0]
    problems = " | ".join(check_consistency(spec))
    assert "'x_ptr': pointer is not 16-byte aligned" in problems
    assert "'y_ptr': pointer is 16-byte aligned but not listed" in problems
    assert "'n_cols': launch value 1000 is not divisible" in problems


@pytest.mark.parametrize("body, expect", [
    ('name = "a"\npath = "nope.py"\nfunction = "f"', "file not found: nope.py"),
    ('name = "a"\nmodule = "x.y"', "needs a 'function'"),
    ('name = "a"\nfile = "k.cu"', "must name a .ttgir or .ttir file"),
    ('name = "a"\nmodule = "x"\nfunction = "f"\nsignature = { a = "*fp99" }', "unknown type '*fp99'"),
    ('name = "a"\nmodule = "x"\nfunction = "f"\nsignature = { a = "i32" }\nequal_to_1 = ["a"]\n'
     'divisible = ["a"]', "both divisible by 16 and equal to 1"),
    ('name = "a"\nmodule = "x"\nfunction = "f"\nsignature = { a = "i32" }', "needs a [kernel.launch]"),
    ('name = "a"\nmodule = "x"\nfunction = "f"\nsignature = { a = "i32" }\n'
     '[kernel.launch]\ngrid = [1]\nargs = { }', "missing runtime argument(s) a"),
    ('name = "a"\nmodule = "x"\nfunction = "f"\nsignature = { a = "*i32" }\n'
     '[kernel.launch]\ngrid = [1]\nargs = { a = { shape = [4], dtype = "int32", init = "rand(1)" } }',
     "unknown init 'rand(1)'"),
    ('name = "a"\nmodule = "x"\nfunction = "f"\ntargets = ["a100"]', "unknown target 'a100'"),
])
def test_bad_entries_name_manifest_entry_and_problem(tmp_path: Path, body: str, expect: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(f"# comment\n[[kernel]]\n{body}\n")
    m = load_manifest(p)
    assert not m.kernels and len(m.errors) == 1
    msg = str(m.errors[0][1])
    head = re.match(r"^(.*):(\d+):(\d+): error: kernel 'a': ", msg)
    assert head and head.group(1) == str(p) and int(head.group(2)) >= 2, msg
    assert expect in msg, msg
    assert "\n" not in msg


def test_malformed_toml_raises_with_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[kernel]]\nname = "a"\nsignature = { a = \n')
    with pytest.raises(EqsatError) as ei:
        load_manifest(p)
    assert str(ei.value).startswith(f"{p}:3:"), str(ei.value)
    assert "malformed TOML" in str(ei.value)


@pytest.mark.parametrize("spec", PY_SPECS, ids=lambda s: s.name)
def test_build_args_on_cpu(spec) -> None:
    torch = pytest.importorskip("torch")
    from eqsat.ingest.launch import build_args, element_offset, launch_tensors

    args = build_args(spec, "cpu", seed=0)
    tensors = launch_tensors(spec.launch, seed=0)
    all_args = spec.launch["args"]
    for name, v in all_args.items():
        if name in spec.signature:
            assert name in args
        a = args[name] if name in args else tensors[name]
        if not isinstance(v, dict):
            assert a == v
            continue
        # build_args is launch_tensors on the device (bytes: poison is NaN)
        assert torch.equal(a.contiguous().view(torch.uint8), tensors[name].contiguous().view(torch.uint8))
        assert list(a.shape) == v["shape"] and str(a.dtype) == f"torch.{v['dtype']}"
        aligned = a.data_ptr() % 16 == 0
        assert aligned == ((element_offset(name, all_args) * a.element_size()) % 16 == 0)
        kind, bounds = init_of(v)
        flat = a.flatten().tolist() if kind in ("sorted_randint", "randperm", "prefix_sum") else []
        if kind == "poison":
            assert bool((a.contiguous().view(torch.uint8) == 0xFF).all())
        elif kind == "randint" and not v.get("pad"):
            assert int(a.min()) >= bounds[0] and int(a.max()) < bounds[1]
        elif kind == "sorted_randint":
            assert flat == sorted(flat) and flat[0] >= bounds[0] and flat[-1] < bounds[1]
        elif kind == "randperm":
            if v.get("pad"):
                assert flat[len(flat) - v["pad"]["count"]:] == [v["pad"]["value"]] * v["pad"]["count"]
                flat = flat[:len(flat) - v["pad"]["count"]]
            lo, hi = bounds or (0, a.numel())
            assert len(set(flat)) == len(flat) and min(flat) >= lo and max(flat) < hi
            if not bounds and not v.get("pad"):
                assert sorted(flat) == list(range(a.numel()))
        elif kind == "prefix_sum":
            steps = [y - x for x, y in zip(flat, flat[1:], strict=False)]
            assert flat[0] == 0 and all(bounds[0] <= d < bounds[1] for d in steps)
        elif kind == "view":
            same = tensors[name].untyped_storage().data_ptr() == tensors[v["view"]].untyped_storage().data_ptr()
            assert same, f"{name} is not a view of {v['view']}"
