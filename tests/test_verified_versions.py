"""Device verification gates dispatch (lowering/verified.py, lowering/loader.py `versions=` policy): with the
default policy a version is taken only where its folder's verified.json says bit-identical for its slug,
for the same TTGIR text and Triton version; unverified, failed, stale or re-planned versions send their
calls on to the next version or the fallback, and `select().reason` says why. The policy's choice is
checked against the guards' arithmetic (tests/test_dispatch.py `_oracle`) restricted to the versions the
record verifies. Plus: malformed verified.json is one error line; `eqsat runs verify-import` writes a
device report into a run's plan folders and refuses reports of other runs; the record builder of
benchmarks/gpu_verify_versions.py folds trials as stated (any mismatch fails the version)."""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import triton
from eqsat.lowering.loader import load
from eqsat.lowering.verified import VERIFIED, import_verified, read_verified, text_sha256

from eqsat.errors import EqsatError
from tests.test_dispatch import VERSIONS, _oracle, versioned  # noqa: F401 - the module fixture

ROOT = Path(__file__).resolve().parent.parent
SLUGS = [f"v{i}" for i in range(len(VERSIONS))]


def _entry(plan: Path, slug: str, ok: bool, trials: int = 3, **extra: Any) -> dict[str, Any]:
    return {"bit_identical": ok, "shapes": ["tokens16384_h5000"], "trials": trials,
            "mismatches": 0 if ok else 1, "checked_at": "2026-12-01T21:00:00Z",
            "ttgir_sha256": text_sha256((plan / "versions" / f"{slug}.ttgir").read_text()), **extra}


def _record(plan: Path, status: dict[str, bool], triton_version: str = triton.__version__) -> dict[str, Any]:
    return {"device": "NVIDIA H200", "triton": triton_version,
            "versions": {s: _entry(plan, s, ok) for s, ok in status.items()}}


def _copy(tmp_path: Path, versioned: Path, record: Any = None) -> Path:  # noqa: F811
    d = tmp_path / "run" / "k" / "h100"
    shutil.copytree(versioned, d)
    (tmp_path / "run" / "run.json").write_text("[]")
    if record is not None:
        (d / VERIFIED).write_text(record if isinstance(record, str) else json.dumps(record))
    return d


def _calls(n: int = 300, seed: int = 5) -> list[tuple[torch.Tensor, int, int]]:
    """(x, stride, n_cols) of random calls, every version's guards and none of them hit (as test_dispatch)."""
    rng = random.Random(seed)
    storage = torch.empty(4096, dtype=torch.bfloat16)
    base = storage.data_ptr()
    out = []
    while len(out) < n:
        x = storage[8 * rng.randrange(0, 64) + (-(base // 2) % 8):]
        n_cols = rng.choice([5000, 1000, 1001, 1004, 2047, 2049, 4104, 5001, 1544]) \
            if rng.random() < 0.5 else rng.randrange(1, 9000)
        stride = rng.choice([n_cols, n_cols + rng.randrange(1, 17)])
        if n_cols % 16 and stride % 16 and stride != 1:
            out.append((x, stride, n_cols))
    return out


def _expected(allowed: set[str], n_cols: int, stride: int, addr: int) -> str | None:
    """The first version whose guards hold among the allowed ones (the oracle's order), else None."""
    names = [v[0] for v in VERSIONS]
    for i, name in enumerate(names):
        if name in allowed and _oracle_holds(i, n_cols, stride, addr):
            return name
    return None


def _oracle_holds(i: int, n_cols: int, stride: int, addr: int) -> bool:
    return [n_cols % 8 == 0 and stride % 8 == 0 and addr % 64 == 0, n_cols == 5000, n_cols % 4 == 0,
            n_cols <= 2048][i]


def _dispatch_matches(d: Path, allowed: set[str], policy: str = "verified") -> set[str]:
    k = load(d, versions=policy)
    w = torch.empty(64, dtype=torch.bfloat16)
    reasons = set()
    for x, stride, n_cols in _calls():
        sel = k.select(x, w, w, w, stride, n_cols, 1e-6, grid=(4,))
        want = _expected(allowed, n_cols, stride, x.data_ptr())
        assert sel.version == want, (n_cols, stride, x.data_ptr() % 64, sel.reason)
        if policy == "all":
            assert want == _oracle(n_cols, stride, x.data_ptr())
        reasons.add(sel.reason)
    return reasons


def test_unverified_versions_take_the_fallback(tmp_path: Path, versioned: Path) -> None:  # noqa: F811
    d = _copy(tmp_path, versioned)
    reasons = _dispatch_matches(d, set())
    assert any(r.startswith(f"version {VERSIONS[0][0]} unverified (no verified.json)") for r in reasons)
    assert "no version's guards hold" in reasons
    assert all(v.check == "unverified" and not v.dispatched for v in load(d).buckets[0].versions)


def test_verified_versions_dispatch_as_all(tmp_path: Path, versioned: Path) -> None:  # noqa: F811
    d = _copy(tmp_path, versioned, _record(versioned, dict.fromkeys(SLUGS, True)))
    names = {v[0] for v in VERSIONS}
    reasons = _dispatch_matches(d, names)
    assert any("trials bit-identical on NVIDIA H200" in r for r in reasons)
    _dispatch_matches(d, names, "all")


def test_failed_version_falls_through_to_the_next(tmp_path: Path, versioned: Path) -> None:  # noqa: F811
    d = _copy(tmp_path, versioned, _record(versioned, {"v0": False, "v1": True, "v2": True}))
    reasons = _dispatch_matches(d, {VERSIONS[1][0], VERSIONS[2][0]})  # v3: no record -> unverified
    # v0's guards imply v2's: its calls go to v2, saying what was skipped
    assert any(r.endswith(f"skipped version {VERSIONS[0][0]} failed device check (1 of 3 trials differ on "
                          "NVIDIA H200)") for r in reasons)
    assert any(r.startswith(f"version {VERSIONS[3][0]} unverified (no device check recorded)") for r in reasons)
    # the one with every policy: "none" never dispatches, "all" ignores the record
    _dispatch_matches(d, set(), "none")
    _dispatch_matches(d, {v[0] for v in VERSIONS}, "all")


@pytest.mark.parametrize(("change", "why"), [
    ("ttgir", "its TTGIR changed since the device check"),
    ("triton", "checked with triton 0.0.1"),
    ("trials", "no production shape satisfied its guards"),
])
def test_stale_or_empty_records_are_unverified(tmp_path: Path, versioned: Path, change: str,  # noqa: F811
                                               why: str) -> None:
    rec = _record(versioned, dict.fromkeys(SLUGS, True), "0.0.1" if change == "triton" else triton.__version__)
    if change == "trials":
        rec["versions"]["v0"]["trials"] = 0
    d = _copy(tmp_path, versioned, rec)
    if change == "ttgir":  # re-planned after the check: another text under the same slug
        p = d / "versions" / "v0.ttgir"
        p.write_text(p.read_text() + "\n")
    v0 = load(d).buckets[0].versions[0]
    assert v0.check == "unverified" and not v0.dispatched and why in v0.skip_reason


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "malformed JSON"),
    ("[]", "must hold a JSON object"),
    ({"triton": "3.6.0", "versions": {}}, "'device' must be a string"),
    ({"device": "H200", "triton": "3.6.0", "versions": []}, "'versions' must be an object"),
    ({"device": "H200", "triton": "3.6.0", "versions": {"v0": {"bit_identical": "yes", "shapes": [],
      "trials": 1, "mismatches": 0, "checked_at": "x"}}}, "versions['v0'].bit_identical must be a boolean"),
    ({"device": "H200", "triton": "3.6.0", "versions": {"v0": {"bit_identical": True, "shapes": [],
      "trials": 1, "checked_at": "x"}}}, "versions['v0'].mismatches must be an integer"),
    ({"device": "H200", "triton": "3.6.0", "versions": {"v0": {"bit_identical": True, "shapes": [],
      "trials": 2, "mismatches": 1, "checked_at": "x"}}}, "bit_identical with 1 mismatches"),
])
def test_malformed_verified_json_is_one_line(tmp_path: Path, versioned: Path, text: Any,  # noqa: F811
                                             message: str) -> None:
    d = _copy(tmp_path, versioned, text if isinstance(text, str) else json.dumps(text))
    with pytest.raises(EqsatError, match=re.escape(message)) as e:
        load(d)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(d / VERIFIED))
    with pytest.raises(EqsatError, match="versions must be one of verified, all, none"):
        load(d, versions="some")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", "runs", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_verify_import_writes_records_the_loader_reads(tmp_path: Path, versioned: Path) -> None:  # noqa: F811
    d = _copy(tmp_path, versioned)
    run = tmp_path / "run"
    report = {"device": "NVIDIA H200", "triton": triton.__version__,
              "folders": {"k/h100": _record(versioned, {"v0": False, "v2": True})}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    rows = import_verified(run, tmp_path / "report.json")
    assert [(r[0], r[1], r[2].split()[0]) for r in rows] == [("k/h100", "v0", "failed"),
                                                             ("k/h100", "v2", "verified")]
    rec = read_verified(d)
    assert rec is not None and rec.versions["v2"]["bit_identical"] is True
    assert [v.dispatched for v in load(d).buckets[0].versions] == [False, False, True, False]
    # the CLI: a report of another run (a folder that is not a plan folder here) is one line, exit 2
    bad = {**report, "folders": {"other/h100": report["folders"]["k/h100"]}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    p = _cli("verify-import", str(run), str(tmp_path / "bad.json"))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "folders['other/h100'] is not a plan folder" in p.stderr
    unknown = {**report, "folders": {"k/h100": _record(versioned, {})}}
    unknown["folders"]["k/h100"]["versions"]["v7"] = _entry(versioned, "v0", True)
    (tmp_path / "unknown.json").write_text(json.dumps(unknown))
    p = _cli("verify-import", str(run), str(tmp_path / "unknown.json"))
    assert p.returncode == 2 and "no version v7 in its plan.json" in p.stderr, p.stderr
    p = _cli("verify-import", str(run), str(tmp_path / "report.json"))
    assert p.returncode == 0 and "k/h100  v2  verified" in p.stdout, p.stderr


def _gvv() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_verify_versions",
                                                  ROOT / "benchmarks" / "gpu_verify_versions.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_record_builder_fails_a_version_on_any_mismatch() -> None:
    gvv = _gvv()
    rng = random.Random(3)
    for _ in range(50):
        trials = [(rng.random() < 0.9, rng.random() < 0.9, rng.random() < 0.95) for _ in range(rng.randrange(1, 7))]
        e = {"bit_identical": False, "shapes": [], "trials": 0, "mismatches": 0, "checked_at": "",
             "fallback_mismatches": 0, "jit_mismatches": 0}
        for i, (fb, jit, fbjit) in enumerate(trials):
            gvv.add_trial(e, f"s{i % 2}", fb, jit, fbjit)
        assert e["trials"] == len(trials)
        assert e["mismatches"] == sum(not (fb and jit) for fb, jit, _ in trials)
        assert e["bit_identical"] == all(fb and jit for fb, jit, _ in trials)
        assert e["shapes"] == sorted({f"s{i % 2}" for i in range(len(trials))})
        rec = {"device": "d", "triton": "t", "versions": {"v": e}}
        from eqsat.lowering.verified import parse_verified

        assert parse_verified(rec, "x").status("v")[0] == ("verified" if e["bit_identical"] else "failed")
