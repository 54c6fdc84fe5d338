"""Run directories of `eqsat optimize`: reading `run.json`, the per-kernel plan folders and `spec.json`.

A run directory holds `run.json` (a list of {"kernel", "target", "status", "cost_before", "cost_after",
"changed", "egraph_nodes", "seconds", "error"}) and, per kernel and target, `<kernel>/<target>/` with
`input.ttgir`, `optimized.ttgir`, `plan.json` and, for Python kernels, `spec.json`: the kernel's
`eqsat.ingest.KernelSpec` as `dataclasses.asdict`, with its paths (`manifest`, `path`, `file`) relative
to the repository root. `spec_to_json` writes that form and `spec_from_json` reads it back.

Imports only the standard library and `eqsat.ingest`/`eqsat.errors` (it runs on GPU machines that have
neither xdsl nor egglog).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.ingest.manifest import KernelSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
_PATH_FIELDS = ("manifest", "path", "file")
_TUPLE_FIELDS = ("divisible", "equal_to_1", "none", "large_tensors", "tags")


def spec_to_json(spec: KernelSpec, root: Path = REPO_ROOT) -> dict[str, Any]:
    """`dataclasses.asdict(spec)` with paths under `root` made relative to it (others stay absolute)."""
    data = dataclasses.asdict(spec)
    for key in _PATH_FIELDS:
        value = data.get(key)
        if isinstance(value, str) and Path(value).is_absolute():
            try:
                data[key] = str(Path(value).resolve().relative_to(root.resolve()))
            except ValueError:
                pass
    return data


def spec_from_json(data: Any, label: str, root: Path = REPO_ROOT) -> KernelSpec:
    """A `KernelSpec` from its `spec.json` form; relative paths resolve against `root`."""
    if not isinstance(data, dict):
        raise EqsatError("spec.json must hold a JSON object (a KernelSpec)", file=label)
    known = {f.name for f in dataclasses.fields(KernelSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise EqsatError(f"spec.json: unknown field(s) {', '.join(unknown)}", file=label)
    for key in ("name", "signature"):
        if key not in data:
            raise EqsatError(f"spec.json: missing field '{key}'", file=label)
    fields = dict(data)
    for key in _TUPLE_FIELDS:
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    if fields.get("targets") is not None:
        fields["targets"] = tuple(fields["targets"])
    for key in _PATH_FIELDS:
        value = fields.get(key)
        if isinstance(value, str) and value and not value.startswith("<") and not Path(value).is_absolute():
            fields[key] = str((root / value).resolve())
    fields.setdefault("manifest", label)
    try:
        return KernelSpec(**fields)
    except TypeError as e:
        raise EqsatError(f"spec.json: {e}", file=label) from None


@dataclass
class RunEntry:
    """One line of `run.json`: a kernel on a target and what the optimizer did with it."""

    kernel: str
    target: str
    status: str
    cost_before: float | None = None  # predicted ns (a number, or a Cost's `total_ns`)
    cost_after: float | None = None
    changed: bool = False
    egraph_nodes: int | None = None
    seconds: float | None = None
    error: str | None = None

    def plan_dir(self, run_dir: Path) -> Path:
        return Path(run_dir) / self.kernel / self.target


def cost_ns(value: Any) -> float | None:
    """A predicted cost in ns from run.json: a number, or a `Cost.to_json()` dict (`total_ns`)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        if "total_ns" in value:
            return cost_ns(value["total_ns"])
        if isinstance(value.get("ns"), dict):
            return float(sum(v for v in value["ns"].values() if isinstance(v, (int, float))))
    return None


def read_run(run_dir: str | Path) -> list[RunEntry]:
    """The entries of `run_dir/run.json`; a missing directory or a malformed file raises `EqsatError`."""
    d = Path(run_dir)
    if not d.is_dir():
        raise EqsatError("run directory not found", file=str(run_dir))
    path = d / "run.json"
    if not path.is_file():
        raise EqsatError("not a run directory: no run.json (made by `eqsat optimize`)", file=str(run_dir))
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EqsatError(f"malformed JSON: {e.msg}", file=str(path), line=e.lineno, column=e.colno) from None
    if not isinstance(data, list):
        raise EqsatError("run.json must hold a list of kernel entries", file=str(path))
    entries: list[RunEntry] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("kernel"), str) \
                or not isinstance(item.get("target"), str):
            raise EqsatError(f"entry {i + 1} needs string 'kernel' and 'target'", file=str(path))
        entries.append(RunEntry(
            kernel=item["kernel"], target=item["target"], status=str(item.get("status", "")),
            cost_before=cost_ns(item.get("cost_before")), cost_after=cost_ns(item.get("cost_after")),
            changed=bool(item.get("changed", False)), egraph_nodes=item.get("egraph_nodes"),
            seconds=item.get("seconds"), error=item.get("error")))
    return entries


def read_spec(plan_dir: str | Path, root: Path = REPO_ROOT) -> KernelSpec | None:
    """The `spec.json` of a plan folder as a `KernelSpec`, or None where there is none (IR-file kernels).

    The plan folder is `<kernel>/<target>`: the spec's `per_target` overrides for that target are applied
    (`KernelSpec.for_target`), so the launch, constexprs and options are the ones compiled for it."""
    path = Path(plan_dir) / "spec.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EqsatError(f"malformed JSON: {e.msg}", file=str(path), line=e.lineno, column=e.colno) from None
    spec = spec_from_json(data, str(path), root)
    return spec.for_target(Path(plan_dir).resolve().name)
