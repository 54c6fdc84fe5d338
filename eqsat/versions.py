"""Versions that decide what a run computes, recorded with every run and part of every result-cache key.

    versions() -> {"eqsat", "triton", "egglog", "xdsl", "z3",                 package versions
                   "rules": H, "costmodels": H, "code": H}                     content hashes (16 hex)

`rules` hashes the rule families (rules/*.py) and the e-graph engine they run in (eqsat/egraph/*.py);
`costmodels` the cost-model code and its parameter files (costmodels/**/*.py, params/*.toml); `code` every
source file of the distribution, so a cached result is never reused by different code, even where a
change looks unrelated. Hashes are of file names and bytes in sorted order, computed once per process.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _installed_folder(name: str) -> Path:
    """Where the `eqsat.<name>` package really lives (editable installs map it to the repository)."""
    import importlib

    mod = importlib.import_module(f"eqsat.{name}")
    return Path(mod.__file__).resolve().parent  # type: ignore[arg-type]


def _hash_files(folders: list[Path], patterns: tuple[str, ...] = ("*.py", "*.toml")) -> str:
    h = hashlib.sha256()
    for folder in folders:
        files = sorted({f for p in patterns for f in folder.rglob(p) if "__pycache__" not in f.parts})
        for f in files:
            h.update(str(f.relative_to(folder.parent)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _package_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def versions() -> dict[str, str | None]:
    from eqsat import __version__

    rules, egraph = _installed_folder("rules"), PACKAGE / "egraph"
    costmodels, lowering = _installed_folder("costmodels"), _installed_folder("lowering")
    return {
        "eqsat": __version__,
        "triton": _package_version("triton"),
        "egglog": _package_version("egglog"),
        "xdsl": _package_version("xdsl"),
        "z3": _package_version("z3-solver"),
        "rules": _hash_files([rules, egraph]),
        "costmodels": _hash_files([costmodels]),
        "code": _hash_files([PACKAGE, rules, costmodels, lowering]),
    }
