"""Run directories of `eqsat optimize`: reading `run.json`, the per-kernel plan folders and `spec.json`.

A run directory holds `run.json` (a list of {"kernel", "target", "status", "cost_before", "cost_after",
"changed", "egraph_nodes", "seconds", "error"}) and, per kernel and target, `<kernel>/<target>/` with
`input.ttgir`, `optimized.ttgir`, `plan.json` and, for Python kernels, `spec.json`: the kernel's
`eqsat.ingest.KernelSpec` as `dataclasses.asdict`, with its paths (`manifest`, `path`, `file`) relative
to the repository root. `spec_to_json` writes that form and `spec_from_json` reads it back.

Shape buckets: a kernel planned at several production shapes (`KernelSpec.production_shapes()`) has one
plan folder per bucket. The primary bucket (the first shape) is `<kernel>/<target>/` itself, so every
reader of plan folders keeps working; bucket i > 0 is `<kernel>/<target>/buckets/<name>/` with the same
files (`bucket_subdir`). run.json keeps one row per kernel x target (the primary bucket's), with
`"bucket"` (its name) and `"buckets"`: one `{"bucket", "dir", "status", "cost_before", "cost_after",
"changed", "error"}` per bucket, primary first (`fold_buckets`). `plan_buckets(plan_dir)` lists a plan
folder's buckets with their launch tables, as the loader picks among them.

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
BUCKETS = "buckets"  # the folder of a plan folder's non-primary shape buckets
_BUCKET_ROW_FIELDS = ("status", "cost_before", "cost_after", "changed", "error")


def bucket_subdir(index: int, name: str | None) -> str:
    """The plan folder of bucket `index` relative to `<kernel>/<target>/`: "" for the primary (index 0)."""
    return "" if index == 0 or name is None else f"{BUCKETS}/{name}"


def fold_buckets(rows: list[dict[str, Any]], buckets: list[tuple[str | None, str] | None]
                 ) -> list[dict[str, Any]]:
    """run.json rows with the rows of non-primary buckets folded into their primary row.

    `buckets[i]` is (bucket name, subdir from `bucket_subdir`) of `rows[i]`, None for a row of no bucket
    (an IR file, a front-end failure). A primary row gets `bucket` and `buckets` (every bucket's status
    and costs, primary first); a non-primary row is dropped from the list once folded (it is kept, as a
    row of its own, when its primary is missing)."""
    out: list[dict[str, Any]] = []
    primary: dict[tuple[str, str], dict[str, Any]] = {}
    pending: list[tuple[int, dict[str, Any], str, str]] = []
    for row, b in zip(rows, buckets, strict=True):
        if b is None or b[0] is None:
            out.append(row)
            continue
        name, sub = b
        if sub == "":
            row = {**row, "bucket": name, "buckets": [_bucket_row(row, name, "")]}
            primary[(row["kernel"], row["target"])] = row
            out.append(row)
        else:
            pending.append((len(out), row, name, sub))
    for _, row, name, sub in pending:
        head = primary.get((row["kernel"], row["target"]))
        if head is None:
            out.append({**row, "bucket": name})
        else:
            head["buckets"].append(_bucket_row(row, name, sub))
    return out


def _bucket_row(row: dict[str, Any], name: str, sub: str) -> dict[str, Any]:
    return {"bucket": name, "dir": sub, **{k: row.get(k) for k in _BUCKET_ROW_FIELDS}}


def plan_buckets(plan_dir: str | Path, spec: KernelSpec | None
                 ) -> list[tuple[str, Path, dict[str, Any] | None]]:
    """(bucket name, plan folder, launch table) of every bucket of a primary plan folder, primary first.

    The buckets are the spec's production shapes whose folders exist (`buckets/<name>/` with an
    `optimized.ttgir`); a plan folder of no spec, or of one shape, is its one bucket."""
    d = Path(plan_dir)
    shapes = spec.production_shapes() if spec is not None else []
    if not shapes:
        return [("launch", d, spec.launch if spec is not None else None)]
    out = [(shapes[0][0], d, shapes[0][1])]
    for i, (name, launch) in enumerate(shapes[1:], start=1):
        sub = d / bucket_subdir(i, name)
        if (sub / "optimized.ttgir").is_file():
            out.append((name, sub, launch))
    return out


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
    if isinstance(fields.get("shapes"), list):
        fields["shapes"] = tuple(fields["shapes"])
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
    bucket: str | None = None  # the primary bucket's name (kernels planned per production shape)
    buckets: list[dict[str, Any]] | None = None  # every bucket: bucket, dir, status, costs (fold_buckets)

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


def read_json(path: str | Path, label: str | None = None) -> Any:
    """The JSON in `path`; a missing or malformed file is one `EqsatError` line naming it (`label`, else
    the path) and, for malformed JSON, the line and column."""
    name = label or str(path)
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise EqsatError("no such file", file=name) from None
    except json.JSONDecodeError as e:
        raise EqsatError(f"malformed JSON: {e.msg}", file=name, line=e.lineno, column=e.colno) from None


def read_run(run_dir: str | Path) -> list[RunEntry]:
    """The entries of `run_dir/run.json`; a missing directory or a malformed file raises `EqsatError`."""
    d = Path(run_dir)
    if not d.is_dir():
        raise EqsatError("run directory not found", file=str(run_dir))
    path = d / "run.json"
    if not path.is_file():
        raise EqsatError("not a run directory: no run.json (made by `eqsat optimize`)", file=str(run_dir))
    data = read_json(path)
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
            seconds=item.get("seconds"), error=item.get("error"),
            bucket=item.get("bucket") if isinstance(item.get("bucket"), str) else None,
            buckets=item.get("buckets") if isinstance(item.get("buckets"), list) else None))
    return entries


def read_spec(plan_dir: str | Path, root: Path = REPO_ROOT, target: str | None = None) -> KernelSpec | None:
    """The `spec.json` of a plan folder as a `KernelSpec`, or None where there is none (IR-file kernels).

    The plan folder is `<kernel>/<target>` (or a bucket folder under it: give `target`): the spec's
    `per_target` overrides for that target are applied (`KernelSpec.for_target`), so the launch,
    constexprs and options are the ones compiled for it."""
    path = Path(plan_dir) / "spec.json"
    if not path.is_file():
        return None
    spec = spec_from_json(read_json(path), str(path), root)
    return spec.for_target(target or Path(plan_dir).resolve().name)
