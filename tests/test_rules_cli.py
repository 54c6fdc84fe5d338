"""`eqsat rules list|check|coverage` from the command line: tables, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from eqsat.rules import all_rules


def _eqsat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", *args], capture_output=True, text=True, timeout=300)


def test_list_names_every_rule() -> None:
    r = _eqsat("rules", "list")
    assert r.returncode == 0, r.stderr
    for rule in all_rules():
        assert rule.name in r.stdout


def test_check_passes_and_reports_each_rule() -> None:
    r = _eqsat("rules", "check", "--rule", "convert.fold_chain", "--rule", "staging.tma", "--examples", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok ") == 2


def test_unknown_rule_is_one_line_exit_2() -> None:
    r = _eqsat("rules", "check", "--rule", "convert.nope")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "convert.nope" in r.stderr
    assert "Traceback" not in r.stderr


def test_coverage_on_an_ir_file() -> None:
    r = _eqsat("rules", "coverage", "tests/lit/dm/transpose_h100.ttgir", "--target", "h100", "--format", "json")
    assert r.returncode == 0, r.stderr
    [row] = [json.loads(line) for line in r.stdout.splitlines()]
    assert row["error"] is None
    assert row["matches"].get("convert.via_shared", 0) > 0


def test_coverage_unknown_target() -> None:
    r = _eqsat("rules", "coverage", "tests/lit/dm/transpose_h100.ttgir", "--target", "a100")
    assert r.returncode == 2 and "a100" in r.stderr and "Traceback" not in r.stderr
