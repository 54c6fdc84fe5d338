"""Module-level task functions for tests of eqsat.runner (workers import them by reference)."""

from __future__ import annotations

import os
import time


def slow_pid(seconds: float) -> dict:
    """Sleep, then answer with the worker's pid."""
    time.sleep(seconds)
    return {"status": "ok", "pid": os.getpid()}
