"""`eqsat cost`: bank-conflicts batch lines and kernel breakdowns; bad input is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

BLOCKED = "#ttg.blocked<{sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
SWIZZLED = "#ttg.swizzled_shared<{vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]}>"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", "cost", *args], capture_output=True, text=True,
                          timeout=300)


def test_bank_conflicts_batch(tmp_path) -> None:
    case = {"shape": [64, 64], "dtype": "f16", "distributed": BLOCKED, "shared": SWIZZLED}
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(case) + "\n" + json.dumps({**case, "dtype": "f32"}) + "\n")
    r = _run("bank-conflicts", "--target", "h100", "--batch", str(batch))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 2
    for line in lines:
        for key in ("store_conflicts", "load_conflicts", "store_wavefronts", "load_wavefronts"):
            assert isinstance(line[key], int)
        assert line["shape"] == [64, 64]


def test_kernel_json_and_table() -> None:
    r = _run("kernel", "corpora/project.toml", "--target", "mi300x", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    from eqsat.ingest import load_specs

    assert len(rows) == len(load_specs("corpora/project.toml")[0])
    assert all(row["total_ns"] > 0 for row in rows)
    assert all("ops" in row["info"] for row in rows)
    t = _run("kernel", "corpora/project.toml", "--target", "h100")
    assert t.returncode == 0 and "total" in t.stdout and "gather" in t.stdout


def _one_line_error(r: subprocess.CompletedProcess, words: str) -> None:
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr and words in r.stderr, r.stderr


def test_bad_input_is_one_line(tmp_path) -> None:
    _one_line_error(_run("kernel", "corpora/project.toml", "--target", "a100"), "unknown target 'a100'")
    _one_line_error(_run("kernel", str(tmp_path / "missing.ttgir"), "--target", "h100"), "no such file")
    _one_line_error(_run("bank-conflicts", "--target", "h100", "--batch", str(tmp_path / "none.jsonl")),
                    "cannot read")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"shape": [64, 64], "dtype": "f16", "distributed": BLOCKED,
                               "shared": SWIZZLED}) + "\n{oops\n")
    _one_line_error(_run("bank-conflicts", "--target", "h100", "--batch", str(bad)), f"{bad}:2")
    _one_line_error(_run("bank-conflicts", "--target", "zz", "--batch", str(bad)), "unknown target")
