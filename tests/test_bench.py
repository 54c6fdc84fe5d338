"""`eqsat bench` on the CPU: bad input and a machine without a GPU give one line and exit 2; the manifests'
`bench` launch tables are validated, keep the JIT specialization and fill an H100; run.json and costs are
read as written; the rank statistics and the report rendering hold on random data."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from eqsat.lowering.bench import markdown, spearman, summarize, tensor_bytes
from eqsat.lowering.rundir import cost_ns, read_run
from hypothesis import given, settings
from hypothesis import strategies as st

from eqsat.errors import EqsatError
from eqsat.ingest.compile import jit_flags, load_function
from eqsat.ingest.launch import check_consistency
from eqsat.ingest.manifest import load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "corpora" / "project.toml"
H100_SMS = 132


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", "bench", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_missing_run_dir(tmp_path: Path) -> None:
    line = _one_line(run_cli(str(tmp_path / "nope")))
    assert line == f"{tmp_path / 'nope'}: error: run directory not found"


def test_not_a_run_dir_and_malformed_run_json(tmp_path: Path) -> None:
    assert "no run.json" in _one_line(run_cli(str(tmp_path)))
    (tmp_path / "run.json").write_text('[{"kernel": "a", "target": "h100"},\n  oops]')
    line = _one_line(run_cli(str(tmp_path)))
    assert line.startswith(f"{tmp_path / 'run.json'}:2:") and "malformed JSON" in line
    (tmp_path / "run.json").write_text('{"kernel": "a"}')
    assert "must hold a list" in _one_line(run_cli(str(tmp_path)))
    (tmp_path / "run.json").write_text('[{"kernel": "a", "target": "h100", "status": "ok"}]')
    assert "kernel(s) not in run.json: b" in _one_line(run_cli(str(tmp_path), "--kernel", "b"))


def test_no_gpu_is_one_clear_line(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (tmp_path / "run.json").write_text('[{"kernel": "a", "target": "h100", "status": "ok"}]')
    line = _one_line(run_cli(str(tmp_path)))
    assert line == (f"{tmp_path}: error: no CUDA GPU is visible (torch.cuda.is_available() is False): "
                    "eqsat bench runs the kernels on an NVIDIA GPU")


def test_run_json_costs_are_read_as_numbers_or_breakdowns(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps([
        {"kernel": "a", "target": "h100", "status": "ok", "cost_before": 120.5, "cost_after": 100},
        {"kernel": "b", "target": "mi300x", "status": "ok",
         "cost_before": {"total_ns": 50.0, "ns": {"x": 1}}, "cost_after": {"ns": {"x": 10.0, "y": 20.0}}},
        {"kernel": "c", "target": "h100", "status": "error", "cost_before": None,
         "cost_after": {"total_ns": None, "illegal": "tma box"}, "error": "x.ttgir:3: error: bad"},
    ]))
    a, b, c = read_run(tmp_path)
    assert (a.cost_before, a.cost_after) == (120.5, 100.0)
    assert (b.cost_before, b.cost_after) == (50.0, 30.0)
    assert (c.cost_before, c.cost_after, c.error) == (None, None, "x.ttgir:3: error: bad")
    assert cost_ns(float("inf")) is None and cost_ns(True) is None


# ---------------------------------------------------------------------------- bench launch tables


def test_bench_tables_keep_the_specialization_and_fill_an_h100() -> None:
    manifest = load_manifest(PROJECT)
    assert not manifest.errors
    for spec in manifest.kernels:
        assert spec.bench is not None, spec.name
        flags = jit_flags(load_function(spec))
        problems = check_consistency(dataclasses.replace(spec, launch=spec.bench), flags["no_specialize"],
                                     flags["no_align"])
        assert not problems, (spec.name, problems)
        grid = spec.bench["grid"]
        ctas = grid[0] * (grid[1] if len(grid) > 1 else 1) * (grid[2] if len(grid) > 2 else 1)
        assert ctas >= 4 * H100_SMS, (spec.name, ctas)
        assert tensor_bytes(spec.bench) >= 64 * 2**20, spec.name
        assert sorted(spec.bench["args"]) == sorted(spec.launch["args"])


def _entry(**extra: object) -> dict:
    return {"name": "k", "path": "project/copy.py", "function": "copy_2d",
            "signature": {"x_ptr": "*fp16", "y_ptr": "*fp16", "M": "i32", "N": "i32",
                          "BLOCK_M": "constexpr", "BLOCK_N": "constexpr"},
            "constexprs": {"BLOCK_M": 64, "BLOCK_N": 128},
            "launch": {"grid": [1], "args": {"x_ptr": {"shape": [64, 128], "dtype": "float16", "init": "randn"},
                                             "y_ptr": {"shape": [64, 128], "dtype": "float16", "init": "poison"},
                                             "M": 64, "N": 128}},
            **extra}


def test_manifest_parser_validates_bench_tables() -> None:
    good = _entry(bench={"grid": [4], "args": {"x_ptr": {"shape": [256, 128], "dtype": "float16", "init": "randn"},
                                               "y_ptr": {"shape": [256, 128], "dtype": "float16",
                                                         "init": "poison"}, "M": 256, "N": 128}})
    m = parse_manifest({"kernel": [good]}, "m.toml", ROOT / "corpora")
    assert not m.errors and m.kernels[0].bench == good["bench"]
    assert parse_manifest({"kernel": [_entry()]}, "m.toml", ROOT / "corpora").kernels[0].bench is None
    bad_cases = {
        "bench.grid must be a list of 1 to 3 positive integers": {"grid": [0], "args": good["bench"]["args"]},
        "bench.args: missing runtime argument(s) N": {"grid": [1], "args": {
            k: v for k, v in good["bench"]["args"].items() if k != "N"}},
        "bench.args.x_ptr: unknown dtype 'float99'": {"grid": [1], "args": {
            **good["bench"]["args"], "x_ptr": {"shape": [1], "dtype": "float99"}}},
        "bench: unknown key(s) sizes": {"grid": [1], "args": good["bench"]["args"], "sizes": 1},
        "'bench' must be a table": 3,
    }
    for message, bench in bad_cases.items():
        m = parse_manifest({"kernel": [_entry(bench=bench)]}, "m.toml", ROOT / "corpora", entry_lines=[7])
        assert not m.kernels and len(m.errors) == 1
        err = m.errors[0][1]
        assert isinstance(err, EqsatError) and message in err.message and err.line == 7, err


# ------------------------------------------------------------------------------ statistics, report


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=30, unique=True))
def test_spearman_of_monotone_maps(xs: list[float]) -> None:
    assert spearman(xs, [2 * x for x in xs]) == pytest.approx(1.0)
    assert spearman(xs, [-x for x in xs]) == pytest.approx(-1.0)
    ys = [x * x for x in xs]
    rho = spearman(xs, ys)
    assert rho is None or -1.0 - 1e-9 <= rho <= 1.0 + 1e-9


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 2.0), st.floats(0.0, 0.1)), min_size=1, max_size=8))
def test_summary_and_markdown_of_random_reports(rows: list[tuple[float, float]]) -> None:
    results = []
    for i, (speedup, noise) in enumerate(rows):
        results.append({"kernel": f"k{i}", "target": "h100", "bit_identical": i % 2 == 0,
                        "ttgir_matches_jit": True, "baseline_deterministic": True, "ctas": 1024,
                        "bytes": 2**26, "baseline_ms": 0.05 * speedup, "optimized_ms": 0.05, "speedup": speedup,
                        "noise": noise, "baseline_GBps": 1000.0, "baseline_copy_fraction": 0.33,
                        "predicted_speedup": 1.5, "predicted": "faster", "measured": "same",
                        "order_agrees": False, "cost_before": 10.0 + i})
    results.append({"kernel": "amd", "target": "mi300x", "skipped": "target mi300x"})
    summary = summarize(results)
    assert summary["benched"] == len(rows) and summary["skipped"] == 1
    assert summary["bit_identical"] == (len(rows) + 1) // 2
    assert summary["noise_max"] == max(n for _, n in rows)
    report = {"run_dir": "r", "device": "d", "capability": [9, 0], "sm_count": 132, "torch": "t", "triton": "3.6.0",
              "python": "3.12", "rounds": 2, "summary": summary, "results": results,
              "copy_bandwidth": {"bytes": 2**30, "ms": 0.7, "GBps": 3000.0}}
    md = markdown(report, "eqsat bench r")
    table = [ln for ln in md.splitlines() if ln.startswith(("| k0", "| k1", "| k2", "| k3", "| k4", "| k5", "| k6", "| k7"))]
    assert len(table) == len(rows)
    assert md.count("**DIFF**") == len(rows) // 2
    assert "- amd (mi300x): target mi300x" in md


def test_gpu_driver_script_reports_like_the_cli(tmp_path: Path) -> None:
    """benchmarks/gpu_bench.py (what the GPU machines run, eqsat not installed) fails the same way."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_bench.py"), str(tmp_path / "nope")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert _one_line(proc) == f"{tmp_path / 'nope'}: error: run directory not found"
