"""Core of `eqsat cost bank-conflicts --batch`: one JSON case per line in, the same case plus counts out.

Input line: `{"shape": [64, 64], "dtype": "f16", "distributed": "#ttg.blocked<...>",
"shared": "#ttg.swizzled_shared<...>"}` (other keys are passed through). Output: the same object plus

- `store_conflicts`, `load_conflicts`: Gluon's `bank_conflicts` (Triton 3.6), computed as Triton does
  (`SharedAccess.triton_conflicts`; for padded or non-power-of-two tiles, where Triton has no count, the
  simulated count below);
- `store_phase_conflicts`, `load_phase_conflicts`: the excess wavefronts of one lane group (phase) of an
  `st.shared`/`ld.shared` instruction from the simulated addresses, the worst instruction of the tile
  (what the hardware serves; above Triton's count for some 1- and 2-byte accesses, see banks.py);
- `store_wavefronts`, `load_wavefronts`: wavefronts per instruction (one warp, the worst instruction).

Blank lines are skipped; a line that is not such an object raises `EqsatError` naming `filename:line`.
The simulation is `eqsat.costmodels.banks.shared_access`. Bounds, so that one line cannot exhaust the
machine: at most MAX_ELEMENTS elements in `shape` (rank at most MAX_RANK), layout strings of at most
MAX_LAYOUT_CHARS characters whose integers are at most MAX_LAYOUT_PARAM; any other failure of the
simulation on a line is that line's one-line error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from eqsat.errors import EqsatError

from .banks import SharedAccess, shared_access
from .base import TargetParams, load_params

REQUIRED = {"shape": list, "dtype": str, "distributed": str, "shared": str}
MAX_ELEMENTS = 1 << 20  # the 64K x 64K tile of the issue took 24 GB before this bound
MAX_RANK = 8
MAX_LAYOUT_CHARS = 10_000
MAX_LAYOUT_PARAM = 1 << 16
_INT = re.compile(r"-?\d+")


def _case(line: str, filename: str, lineno: int) -> dict[str, Any]:
    try:
        case = json.loads(line)
    except json.JSONDecodeError as err:
        raise EqsatError(f"not JSON: {err.msg}", filename, lineno, err.colno) from None
    if not isinstance(case, dict):
        raise EqsatError("expected a JSON object", filename, lineno)
    for key, kind in REQUIRED.items():
        if key not in case:
            raise EqsatError(f"missing key '{key}'", filename, lineno)
        if not isinstance(case[key], kind):
            raise EqsatError(f"'{key}' must be a {kind.__name__}", filename, lineno)
    shape = case["shape"]
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise EqsatError(f"'shape' must be a list of positive integers, not {shape}", filename, lineno)
    if len(shape) > MAX_RANK or math.prod(shape) > MAX_ELEMENTS:
        raise EqsatError(f"'shape' {shape[:MAX_RANK + 1]} has more than {MAX_ELEMENTS} elements or rank over "
                         f"{MAX_RANK}: over the limit", filename, lineno)
    for key in ("distributed", "shared"):
        text = case[key]
        if len(text) > MAX_LAYOUT_CHARS:
            raise EqsatError(f"'{key}' is longer than {MAX_LAYOUT_CHARS} characters", filename, lineno)
        big = next((int(m) for m in _INT.findall(text) if abs(int(m)) > MAX_LAYOUT_PARAM), None)
        if big is not None:
            raise EqsatError(f"'{key}' has the parameter {big}, over the limit of {MAX_LAYOUT_PARAM}",
                             filename, lineno)
    return case


def _access(params: TargetParams, case: dict[str, Any], direction: str, filename: str,
            lineno: int) -> SharedAccess:
    try:
        return shared_access(params, case["distributed"], case["shared"], case["shape"], case["dtype"],
                             direction)
    except EqsatError as err:
        raise EqsatError(err.message, filename, lineno) from None
    except Exception as err:  # noqa: BLE001 - a layout the simulator cannot handle: this line's error
        what = "out of memory" if isinstance(err, MemoryError) else f"{type(err).__name__}: {err}"
        raise EqsatError(f"cannot simulate this case ({' '.join(what.split())[:200]})", filename,
                         lineno) from None


def bank_conflicts_lines(lines: Iterable[str], target: str, filename: str) -> Iterator[str]:
    """For each non-blank input line (a JSON case), one output line: the case plus the four counts."""
    try:
        params = load_params(target)
    except KeyError as err:
        raise EqsatError(str(err.args[0]), filename) from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        case = _case(line, filename, lineno)
        out = dict(case)
        for direction in ("store", "load"):
            acc = _access(params, case, direction, filename, lineno)
            out[f"{direction}_conflicts"] = acc.triton_conflicts
            out[f"{direction}_phase_conflicts"] = acc.phase_conflicts
            out[f"{direction}_wavefronts"] = max(acc.wavefronts_per_instruction, default=0)
        yield json.dumps(out)
