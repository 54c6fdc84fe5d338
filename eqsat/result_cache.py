"""The result cache of corpus runs: a finished kernel x target is never computed twice.

    result_key(name, ttgir, target, launch, spec, options, rule_set) -> KEY
                                                         sha256 of the kernel's name and TTGIR text, its
                                                         target, launch (shapes, argument values, grid) and
                                                         manifest entry, the optimize options, the rule
                                                         set's hash (user rule files' text included), and
                                                         eqsat.versions() (rule-set, cost-model and code
                                                         hashes, package versions)
    ResultCache(root).get(KEY) -> row | None             the run.json row, if this key finished before
    ResultCache(root).restore(KEY, kernel_dir) -> row     the kernel's files copied back into the run
    ResultCache(root).put(KEY, row, kernel_dir)           after a kernel finishes with status "ok"

Entries live in `$EQSAT_CACHE_DIR/results/<KEY[:2]>/<KEY>/` (row.json plus the kernel directory's files:
input.ttgir, optimized.ttgir, plan.json, spec.json, egraph.*). An entry is written to a temporary folder
and renamed into place, so a run killed at any instant leaves either a whole entry or none, and a rerun
into the same place does only what is missing and writes the same rows. Errors are not cached: a timeout
or a memory cap depends on the machine, and bad input fails again in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

KEY_FORMAT = 1
KERNEL_FILES = ("input.ttgir", "optimized.ttgir", "plan.json", "spec.json", "egraph.json", "egraph.dot")


def _jsonable(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return _jsonable(asdict(x))
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and x != x:  # NaN
        return "nan"
    return x


def result_key(name: str, ttgir: str, target: str, launch: dict[str, Any] | None,
               spec: dict[str, Any] | None, options: Any, rule_set: str | None = None) -> str:
    from eqsat.versions import versions

    payload = {"format": KEY_FORMAT, "name": name, "ttgir": hashlib.sha256(ttgir.encode()).hexdigest(),
               "target": target, "launch": _jsonable(launch), "spec": _jsonable(spec),
               "options": _jsonable(options), "rule_set": rule_set, "versions": versions()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_root() -> Path:
    from eqsat.ingest.compile import cache_dir

    return cache_dir() / "results"


class ResultCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            row = json.loads((self._entry(key) / "row.json").read_text())
        except (OSError, ValueError):
            return None
        return row if isinstance(row, dict) and row.get("status") == "ok" else None

    def restore(self, key: str, kernel_dir: Path) -> dict[str, Any] | None:
        row = self.get(key)
        if row is None:
            return None
        entry = self._entry(key)
        kernel_dir.mkdir(parents=True, exist_ok=True)
        for name in KERNEL_FILES:
            if (entry / name).is_file():
                shutil.copyfile(entry / name, kernel_dir / name)
        return row

    def put(self, key: str, row: dict[str, Any], kernel_dir: Path) -> None:
        if row.get("status") != "ok":
            return
        entry = self._entry(key)
        if entry.exists():
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=entry.parent))
        try:
            for name in KERNEL_FILES:
                if (kernel_dir / name).is_file():
                    shutil.copyfile(kernel_dir / name, tmp / name)
            # key order kept, so that a restored row prints into run.json exactly as it was written
            (tmp / "row.json").write_text(json.dumps(row, indent=1) + "\n")
            os.rename(tmp, entry)  # atomic; a concurrent writer of the same key loses the race harmlessly
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
