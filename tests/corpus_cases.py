"""Every (corpus kernel, target) pair of the bundled manifests, for parametrized tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted((ROOT / "corpora").glob("*.toml"))
TARGETS = ("h100", "mi300x")


@cache
def corpus_cases() -> list[tuple[str, str, str]]:
    """(manifest path, kernel name, target) for every kernel each target supports."""
    from eqsat.ingest import load_manifest

    cases = []
    for manifest in MANIFESTS:
        m = load_manifest(manifest)
        for spec in m.kernels:
            for target in TARGETS:
                if spec.supports(target):
                    cases.append((str(manifest), spec.name, target))
    return cases


@cache
def ingested(manifest: str, target: str) -> dict[str, object]:
    """name -> IngestResult for one manifest and target (compiles are cached on disk too)."""
    from eqsat.ingest import ingest

    return {r.name: r for r in ingest(manifest, target)}
