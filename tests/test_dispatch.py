"""Dispatch at call time (lowering/loader.py): a plan folder with guarded versions, each version's TTGIR
really compiled by `triton.compile` for h100, and calls with random argument values go to the first
version whose guards all hold, else to the fallback; checked against the guards' arithmetic restated here
(n % d, n == c, n <= b, data_ptr() % bytes), on both sides of every guard. Plus: malformed versions are
one error line, identical version texts compile once, and mi300x versions compile too. These plans have no
device verification record: they load with `versions="all"` (tests/test_verified_versions.py covers the
default policy, which dispatches only device-verified versions)."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
from pathlib import Path

import pytest
import torch
from eqsat.lowering.loader import DispatchingKernel, load
from eqsat.lowering.specialize import specialize_signature

from eqsat.errors import EqsatError

ROOT = Path(__file__).resolve().parent.parent
RAGGED = ROOT / "corpora" / "ragged.toml"


def _make_identity_run():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("make_identity_run", ROOT / "benchmarks" / "make_identity_run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_identity_run


# versions of rmsnorm_rows_ragged(x_ptr, w_ptr, y_ptr, rstd_ptr, stride_row, n_cols, eps), most specific
# first; argument indices of the TTGIR function: x_ptr 0, stride_row 4, n_cols 5
VERSIONS = [
    ("n_cols%8 && stride_row%8 && x_ptr@64", [{"arg": "n_cols", "kind": "divisible", "by": 8},
                                             {"arg": "stride_row", "kind": "divisible", "by": 8},
                                             {"arg": "x_ptr", "kind": "aligned", "bytes": 64}], {4: 8, 5: 8}),
    ("n_cols==5000", [{"arg": "n_cols", "kind": "equal", "value": 5000}], {}),
    ("n_cols%4", [{"arg": "n_cols", "kind": "divisible", "by": 4}], {5: 4}),
    ("n_cols<=2048", [{"arg": "n_cols", "kind": "at_most", "bound": 2048}], {}),
]


def _oracle(n_cols: int, stride: int, x_addr: int) -> str | None:
    """Which version the calls must take, from the guards' meaning (not from the plan's data)."""
    if n_cols % 8 == 0 and stride % 8 == 0 and x_addr % 64 == 0:
        return VERSIONS[0][0]
    if n_cols == 5000:
        return VERSIONS[1][0]
    if n_cols % 4 == 0:
        return VERSIONS[2][0]
    if n_cols <= 2048:
        return VERSIONS[3][0]
    return None


def _versioned(plan: Path) -> None:
    text = (plan / "optimized.ttgir").read_text()
    (plan / "versions").mkdir()
    entries = []
    for i, (name, guards, divisible) in enumerate(VERSIONS):
        rel = f"versions/v{i}.ttgir"
        (plan / rel).write_text(specialize_signature(text, "rmsnorm_rows_ragged", divisible))
        entries.append({"name": name, "slug": f"v{i}", "guards": guards, "ttgir": rel, "predicted_ns": 1.0,
                        "fallback_ns": 2.0})
    data = json.loads((plan / "plan.json").read_text())
    data["versions"] = entries
    (plan / "plan.json").write_text(json.dumps(data))


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dispatch")
    _make_identity_run()([str(RAGGED)], ["h100"], out, ["rmsnorm_bf16_h5000"])
    plan = out / "rmsnorm_bf16_h5000" / "h100"
    _versioned(plan)
    return plan


def test_versions_compile_and_identical_texts_compile_once(versioned: Path) -> None:
    k = load(versioned)
    assert isinstance(k, DispatchingKernel) and len(k.buckets) == 1
    vs = k.buckets[0].versions
    assert [v.name for v in vs] == [v[0] for v in VERSIONS]
    # v1 and v3 are the fallback's text (no divisibility edit): one compile shared
    assert vs[1].kernel.compiled is vs[3].kernel.compiled is k.compiled
    assert vs[0].kernel.compiled is not k.compiled and vs[2].kernel.compiled is not vs[0].kernel.compiled
    assert "tt.divisibility = 8" in vs[0].kernel.compiled.asm["ttgir"]


def test_calls_dispatch_by_argument_values(versioned: Path) -> None:
    k = load(versioned, versions="all")
    rng = random.Random(11)
    storage = torch.empty(4096, dtype=torch.bfloat16)
    base = storage.data_ptr()
    w = torch.empty(64, dtype=torch.bfloat16)
    y = torch.empty(64, dtype=torch.bfloat16)
    r = torch.empty(64, dtype=torch.float32)
    seen: set[str | None] = set()
    for _ in range(400):
        # x at a 16-byte-aligned offset (the spec compiled x_ptr 16-divisible); 64-byte alignment varies
        off = 8 * rng.randrange(0, 64) + (-(base // 2) % 8)
        x = storage[off:]
        n_cols = rng.choice([5000, 1000, 1001, 1004, 2048 - 1, 2049, 4104, 5001, 1544]) \
            if rng.random() < 0.5 else rng.randrange(1, 9000)
        if n_cols % 16 == 0:
            continue  # the JIT would specialize it: another compiled kernel
        stride = rng.choice([n_cols, n_cols + rng.randrange(1, 17)])
        if stride % 16 == 0 or stride == 1:
            continue
        want = _oracle(n_cols, stride, x.data_ptr())
        sel = k.select(x, w, y, r, stride, n_cols, 1e-6, grid=(4,))
        assert sel.version == want, (n_cols, stride, x.data_ptr() % 64)
        assert sel.bucket == k.buckets[0].name
        chosen = next((v.kernel for v in k.buckets[0].versions if v.name == want), k.buckets[0].fallback)
        assert sel.kernel is chosen
        assert sel.bound == [x, w, y, r, stride, n_cols, 1e-6]
        seen.add(want)
    assert seen == {v[0] for v in VERSIONS} | {None}  # every version and the fallback were taken


def test_specialization_checks_stay(versioned: Path) -> None:
    k = load(versioned)
    x = torch.empty(64, dtype=torch.bfloat16)
    with pytest.raises(EqsatError, match="'x_ptr' was compiled as 16-divisible"):
        k.select(x[1:], x, x, x, 1000, 1000, 1e-6, grid=(1,))


def _plan_with(tmp_path: Path, versioned: Path, versions: object) -> Path:
    d = tmp_path / "k" / "h100"
    shutil.copytree(versioned, d)
    data = json.loads((d / "plan.json").read_text())
    data["versions"] = versions
    (d / "plan.json").write_text(json.dumps(data))
    return d


@pytest.mark.parametrize(("versions", "message"), [
    ([{"name": "a", "guards": [{"arg": "nope", "kind": "divisible", "by": 8}], "ttgir": "versions/v0.ttgir"}],
     "guard on 'nope', which is not a runtime argument"),
    ([{"name": "a", "guards": [{"arg": "n_cols", "kind": "modulo", "by": 8}], "ttgir": "versions/v0.ttgir"}],
     "bad guard"),
    ([{"name": "a", "guards": [{"arg": "n_cols", "kind": "divisible", "by": 8}], "ttgir": "versions/none.ttgir"}],
     "no TTGIR file"),
    ([{"name": "a", "guards": [{"arg": "n_cols", "kind": "divisible", "by": 8}], "ttgir": "../../../x.ttgir"}],
     "no TTGIR file"),
    ([{"name": "a", "guards": [], "ttgir": "versions/v0.ttgir"}], "non-empty 'guards'"),
    ({"a": 1}, "'versions' must be a list"),
])
def test_malformed_versions_are_one_line(tmp_path: Path, versioned: Path, versions: object,
                                         message: str) -> None:
    d = _plan_with(tmp_path, versioned, versions)
    with pytest.raises(EqsatError, match=message) as e:
        load(d)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(d / "plan.json"))


def test_mi300x_versions_compile(tmp_path: Path) -> None:
    _make_identity_run()([str(RAGGED)], ["mi300x"], tmp_path, ["rmsnorm_bf16_h5000"])
    plan = tmp_path / "rmsnorm_bf16_h5000" / "mi300x"
    _versioned(plan)
    k = load(plan, versions="all")
    assert k.compiled.metadata.target.backend == "hip"
    assert [v.name for v in k.buckets[0].versions] == [v[0] for v in VERSIONS]
    x = torch.empty(64, dtype=torch.bfloat16)
    want = VERSIONS[0][0] if x.data_ptr() % 64 == 0 else VERSIONS[1][0]
    assert k.select(x, x, x, x, 5000, 5000, 1e-6, grid=(1,)).version == want


def test_gpu_side_dispatch_imports_no_xdsl_or_egglog(versioned: Path) -> None:
    """The dispatching loader, benchmarks/gpu_versions.py and gpu_verify_versions.py import, and a versioned plan compiles and
    dispatches, with xdsl, egglog, z3 and networkx refused (what the GPU machine lacks)."""
    import subprocess
    import sys

    from tests.test_loader import _refusing

    code = _refusing("xdsl", "egglog", "z3", "networkx") + f"""
import importlib.util, torch
spec = importlib.util.spec_from_file_location("gv", {str(ROOT / "benchmarks" / "gpu_versions.py")!r})
gv = importlib.util.module_from_spec(spec); spec.loader.exec_module(gv)
spec = importlib.util.spec_from_file_location("gvv", {str(ROOT / "benchmarks" / "gpu_verify_versions.py")!r})
gvv = importlib.util.module_from_spec(spec); spec.loader.exec_module(gvv)
assert gvv.load is gv.load
k = gv.load({str(versioned)!r}, versions="all")
x = torch.empty(64, dtype=torch.bfloat16)
assert k.select(x, x, x, x, 1001, 1001, 1e-6, grid=(1,)).version == "n_cols<=2048"
bad = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
assert not bad, bad
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
