"""Runs the lit/FileCheck IR suite (tests/lit) as one pytest test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LIT_DIR = Path(__file__).resolve().parent / "lit"


def test_lit_suite():
    command = [sys.executable, "-c", "from lit.main import main; main()", "-v", str(LIT_DIR)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Passed" in proc.stdout
