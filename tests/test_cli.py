"""The `eqsat` command line on good and bad input: one line per problem naming the file, exit 2, no
traceback; in a batch a bad kernel fails alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOOD_TTGIR = ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_ingest_ttgir_prints_the_module_back():
    proc = run("ingest", str(GOOD_TTGIR), "--target", "h100", "--format", "ttgir")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == GOOD_TTGIR.read_text()


def test_missing_file_unknown_target_wrong_target():
    proc = run("ingest", "nope/missing.ttgir", "--format", "ttgir")
    assert proc.returncode == 2 and proc.stderr.strip() == "nope/missing.ttgir: error: no such file"
    proc = run("ingest", str(GOOD_TTGIR), "--target", "a100")
    assert proc.returncode == 2 and "unknown target 'a100'" in proc.stderr
    proc = run("ingest", str(GOOD_TTGIR), "--target", "mi300x", "--format", "ttgir")
    assert proc.returncode == 2 and "compiled for h100, not mi300x" in proc.stderr
    for p in (proc,):
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_malformed_ttgir_names_file_line_column(tmp_path):
    bad = tmp_path / "bad.ttgir"
    text = GOOD_TTGIR.read_text().replace("tt.return", "tt.return %undefined_value", 1)
    bad.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "%undefined_value" in ln)
    proc = run("ingest", str(bad), "--format", "ttgir")
    assert proc.returncode == 2
    # Triton's verifier at the door rejects it first, with its own diagnostic at the place it names
    assert proc.stderr.startswith(f"{bad}:{line}:") and "Triton rejects the IR: expected ':'" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_bad_kernel_in_manifest_fails_alone(tmp_path):
    (tmp_path / "k.py").write_text(
        "import triton\nimport triton.language as tl\n\n"
        "@triton.jit\ndef good(x, BLOCK: tl.constexpr):\n"
        "    o = tl.arange(0, BLOCK)\n    tl.store(x + o, tl.load(x + o) * 2)\n\n"
        "@triton.jit\ndef broken(x, BLOCK: tl.constexpr):\n"
        "    o = tl.arange(0, BLOCK)\n    tl.store(x + o, tl.load(x + o) @ 2)\n")
    entry = ('signature = { x = "*fp32", BLOCK = "constexpr" }\nconstexprs = { BLOCK = 128 }\n'
             'divisible = ["x"]\n[kernel.launch]\ngrid = [1]\n[kernel.launch.args]\n'
             'x = { shape = [128], dtype = "float32", init = "randn" }\n\n')
    (tmp_path / "m.toml").write_text(
        '[[kernel]]\nname = "good"\npath = "k.py"\nfunction = "good"\n' + entry +
        '[[kernel]]\nname = "missing_fn"\npath = "k.py"\nfunction = "nope"\n' + entry +
        '[[kernel]]\nname = "broken"\npath = "k.py"\nfunction = "broken"\n' + entry)
    proc = run("ingest", str(tmp_path / "m.toml"), "--target", "h100", "--target", "mi300x",
               "--format", "ttgir")
    assert proc.returncode == 2
    assert proc.stdout.count("// ----- kernel: good target:") == 2
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 4, proc.stderr
    assert all("m.toml" in e and "error:" in e for e in errors)
    assert sum("nope" in e for e in errors) == 2 and sum("broken" in e for e in errors) == 2
    assert "Traceback" not in proc.stderr
