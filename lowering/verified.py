"""Device verification records of guarded versions: `verified.json` in a plan (or bucket) folder.

A version's TTGIR differs from the fallback's only in what the plan changed (a divisibility, a layout),
but LLVM may generate its arithmetic differently once the access shape changes (FMA contraction,
reassociated reductions): measured on an H200, the project LayerNorm's `n_cols%8` version was 1 ulp off
on 113 of 25.3M outputs. The reference interpreter cannot see this, so a version is dispatched only once a
device run has checked it bit-identical (benchmarks/gpu_verify_versions.py) and the record is imported
(`eqsat runs verify-import`). The record:

    {"device": "NVIDIA H200", "triton": "3.6.0",
     "versions": {"<slug>": {"bit_identical": true, "shapes": ["tokens16384_h1544"], "trials": 3,
                             "mismatches": 0, "checked_at": "2026-12-01T21:20:00Z",
                             "ttgir_sha256": "..."}}}

    read_verified(folder) -> VerifiedRecord | None    None where there is no verified.json; a malformed
                                                      file is one `EqsatError` line
    write_verified(folder, record)                    validated, then written
    import_verified(run_dir, report)                  a device report's records written into a run's
                                                      plan folders (`eqsat runs verify-import`)
    VerifiedRecord.status(slug, ttgir_text, triton)   "verified" | "failed" | "unverified" and why:
        verified    bit_identical true, trials > 0, the same TTGIR text (sha256) and Triton version
        failed      bit_identical false after trials > 0 (same TTGIR and Triton)
        unverified  no entry, no trials, another TTGIR text (re-planned) or another Triton version

Standard library only (GPU-safe).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqsat.lowering.rundir import read_json

from eqsat.errors import EqsatError

VERIFIED = "verified.json"
_KIND = {bool: "a boolean", list: "a list", int: "an integer", str: "a string"}
_ENTRY_FIELDS = {"bit_identical": bool, "shapes": list, "trials": int, "mismatches": int, "checked_at": str}


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class VerifiedRecord:
    """A folder's verified.json: the device, the Triton version and one entry per version slug."""

    device: str
    triton: str
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def status(self, slug: str, ttgir_text: str | None = None, triton: str | None = None) -> tuple[str, str]:
        """("verified" | "failed" | "unverified", a few words why) for the version `slug` (module doc)."""
        e = self.versions.get(slug)
        if e is None:
            return "unverified", "no device check recorded"
        if triton is not None and triton != self.triton:
            return "unverified", f"checked with triton {self.triton}, running {triton}"
        sha = e.get("ttgir_sha256")
        if ttgir_text is not None and sha is not None and sha != text_sha256(ttgir_text):
            return "unverified", "its TTGIR changed since the device check"
        if e["trials"] <= 0:
            return "unverified", "no production shape satisfied its guards on the device"
        if not e["bit_identical"]:
            return "failed", f"{e['mismatches']} of {e['trials']} trials differ on {self.device}"
        return "verified", f"{e['trials']} trials bit-identical on {self.device}"

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "triton": self.triton, "versions": self.versions}


def parse_verified(data: Any, label: str) -> VerifiedRecord:
    """A `VerifiedRecord` from its JSON form; anything malformed is one `EqsatError` line."""
    if not isinstance(data, dict):
        raise EqsatError("verified.json must hold a JSON object", file=label)
    for key in ("device", "triton"):
        if not isinstance(data.get(key), str):
            raise EqsatError(f"verified.json: '{key}' must be a string", file=label)
    versions = data.get("versions")
    if not isinstance(versions, dict):
        raise EqsatError("verified.json: 'versions' must be an object (slug -> record)", file=label)
    for slug, e in versions.items():
        if not isinstance(e, dict):
            raise EqsatError(f"verified.json: versions[{slug!r}] must be an object", file=label)
        for key, ty in _ENTRY_FIELDS.items():
            v = e.get(key)
            if not isinstance(v, ty) or (ty is int and isinstance(v, bool)):
                raise EqsatError(f"verified.json: versions[{slug!r}].{key} must be {_KIND[ty]}, got {v!r}",
                                 file=label)
        if "ttgir_sha256" in e and not isinstance(e["ttgir_sha256"], str):
            raise EqsatError(f"verified.json: versions[{slug!r}].ttgir_sha256 must be a string", file=label)
        if e["bit_identical"] and e["mismatches"]:
            raise EqsatError(f"verified.json: versions[{slug!r}] is bit_identical with "
                             f"{e['mismatches']} mismatches", file=label)
    return VerifiedRecord(data["device"], data["triton"], {str(k): dict(v) for k, v in versions.items()})


def read_verified(folder: str | Path) -> VerifiedRecord | None:
    """The folder's verified.json, or None where there is none."""
    path = Path(folder) / VERIFIED
    if not path.is_file():
        return None
    return parse_verified(read_json(path), str(path))


def write_verified(folder: str | Path, record: dict[str, Any] | VerifiedRecord) -> Path:
    """Validate and write a folder's verified.json; returns its path."""
    path = Path(folder) / VERIFIED
    data = record.to_json() if isinstance(record, VerifiedRecord) else record
    parse_verified(data, str(path))
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def import_verified(run_dir: str | Path, report_path: str | Path) -> list[tuple[str, str, str]]:
    """Write the folders' records of a device report (benchmarks/gpu_verify_versions.py's
    `versions_verified.json`: `{"folders": {run-relative plan folder: record}}`) into a run directory.

    Each folder must be a plan folder of the run (an `optimized.ttgir` and a plan.json) and each slug one
    of its plan.json versions (else one error line, nothing written). Returns (folder, slug, status) per
    version as the loader will see it (`VerifiedRecord.status`: a re-planned TTGIR reads unverified)."""
    run, label = Path(run_dir), str(report_path)
    if not (run / "run.json").is_file():
        raise EqsatError("not a run directory: no run.json (made by `eqsat optimize`)", file=str(run_dir))
    data = read_json(report_path, label)
    folders = data.get("folders") if isinstance(data, dict) else None
    if not isinstance(folders, dict) or not folders:
        raise EqsatError("a device verification report needs a non-empty 'folders' object "
                         "(run-relative plan folder -> verified.json record)", file=label)
    todo: list[tuple[Path, VerifiedRecord, dict[str, Path]]] = []
    for rel, rec in folders.items():
        d = (run / rel).resolve()
        if not d.is_relative_to(run.resolve()) or not (d / "optimized.ttgir").is_file() \
                or not (d / "plan.json").is_file():
            raise EqsatError(f"folders[{rel!r}] is not a plan folder of {run_dir}", file=label)
        record = parse_verified(rec, f"{label}: folders[{rel!r}]")
        plan = read_json(d / "plan.json")
        entries = [v for v in (plan.get("versions") or [])
                   if isinstance(v, dict) and isinstance(v.get("ttgir"), str)]
        slugs = {str(v.get("slug") or v.get("name") or v["ttgir"]): d / v["ttgir"] for v in entries}
        unknown = sorted(set(record.versions) - set(slugs))
        if unknown:
            raise EqsatError(f"folders[{rel!r}]: no version {', '.join(unknown)} in its plan.json (versions: "
                             f"{', '.join(sorted(slugs)) or 'none'})", file=label)
        todo.append((d, record, slugs))
    out = []
    for d, record, slugs in todo:
        write_verified(d, record)
        rel = str(d.relative_to(run.resolve()))
        for slug in record.versions:
            path = slugs[slug]
            status, why = record.status(slug, path.read_text() if path.is_file() else None)
            out.append((rel, slug, f"{status} ({why})"))
    return out
