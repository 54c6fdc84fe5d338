"""Ingest: kernel specs (manifests of Python `@triton.jit` kernels or IR files) -> TTGIR text per target.

    results = ingest("corpora/project.toml", "h100")
    for r in results:
        print(r.name, "ok" if r.ok else r.error)

`ingest` accepts a manifest path (`.toml`), a `.ttgir`/`.ttir` file, a loaded `Manifest`, one
`KernelSpec` or a list of them, and returns one `IngestResult` per kernel: TTGIR text plus metadata (the
compile stops at TTGIR; machine code is made only on request, `upto="asm"`), or the `EqsatError` of that
kernel alone (a bad entry, a missing function or a compile failure does not stop the others). Kernels
whose `targets` exclude the target are left out unless `include_skipped=True`.

This package imports only the standard library and triton, so it also runs on GPU machines that have
triton and torch but none of eqsat's other dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.ingest.compile import CompiledArtifacts, cache_dir, cache_key, compile_spec, load_function
from eqsat.ingest.manifest import KernelSpec, Manifest, load_manifest
from eqsat.targets import Target, get_target

__all__ = [
    "CompiledArtifacts",
    "IngestResult",
    "KernelSpec",
    "Manifest",
    "cache_dir",
    "cache_key",
    "compile_spec",
    "file_spec",
    "ingest",
    "load_function",
    "load_manifest",
    "load_specs",
]


@dataclass
class IngestResult:
    """One kernel's ingest outcome on one target: TTGIR and metadata, or the error (exactly one is set)."""

    name: str
    target: str
    spec: KernelSpec | None = None
    ttgir: str | None = None
    artifacts: CompiledArtifacts | None = None
    error: EqsatError | None = None
    skipped: bool = False  # the kernel's `targets` exclude this target (only with include_skipped)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.ttgir is not None

    @property
    def cached(self) -> bool:
        return bool(self.artifacts and self.artifacts.cached)


def file_spec(path: str | Path, name: str | None = None) -> KernelSpec:
    """A spec for one `.ttgir`/`.ttir` file given on its own (no manifest)."""
    p = Path(path)
    if not p.is_file():
        raise EqsatError("file not found", file=str(path))
    return KernelSpec(name=name or p.stem, manifest=str(path), file=str(p.resolve()))


def load_specs(source: str | Path | Manifest | KernelSpec | list[KernelSpec]
               ) -> tuple[list[KernelSpec], list[tuple[str, EqsatError]]]:
    """Resolve an ingest source into specs plus per-entry errors (a bad manifest file raises)."""
    if isinstance(source, KernelSpec):
        return [source], []
    if isinstance(source, list):
        return list(source), []
    if isinstance(source, Manifest):
        return list(source.kernels), list(source.errors)
    p = Path(source)
    if p.suffix in (".ttgir", ".ttir"):
        return [file_spec(p)], []
    if p.suffix != ".toml":
        raise EqsatError("expected a manifest (.toml) or an IR file (.ttgir, .ttir)", file=str(source))
    m = load_manifest(p)
    return m.kernels, m.errors


def ingest(source: str | Path | Manifest | KernelSpec | list[KernelSpec], target: str | Target,
           use_cache: bool = True, names: list[str] | None = None,
           include_skipped: bool = False, upto: str = "ttgir") -> list[IngestResult]:
    """Compile every kernel of `source` for `target`; one result per kernel, in manifest order.

    The compile stops after TTGIR (`upto="ttgir"`: the artifacts' `asm` is empty); `upto="asm"` also
    makes PTX / AMDGCN. Each result's `spec` is the entry with its `per_target` overrides for `target`.

    Raises `EqsatError` only when `source` itself cannot be read (missing or malformed manifest file,
    unknown target); every per-kernel problem is reported in that kernel's result.
    """
    tgt = get_target(target) if isinstance(target, str) else target
    specs, errors = load_specs(source)
    results: list[IngestResult] = [IngestResult(name=n, target=tgt.name, error=e) for n, e in errors]
    for spec in specs:
        if names is not None and spec.name not in names:
            continue
        spec = spec.for_target(tgt.name)  # per-target launch values, constexprs, num_stages...
        if not spec.supports(tgt.name):
            if include_skipped:
                results.append(IngestResult(name=spec.name, target=tgt.name, spec=spec, skipped=True))
            continue
        try:
            art = compile_spec(spec, tgt, use_cache=use_cache, upto=upto)
        except EqsatError as e:
            results.append(IngestResult(name=spec.name, target=tgt.name, spec=spec, error=e))
            continue
        except Exception as e:  # noqa: BLE001 - a kernel fails alone, never the run
            results.append(IngestResult(name=spec.name, target=tgt.name, spec=spec,
                                        error=spec.error(f"internal error: {type(e).__name__}: {e}")))
            continue
        results.append(IngestResult(name=spec.name, target=tgt.name, spec=spec, ttgir=art.ttgir,
                                    artifacts=art, metadata=dict(art.metadata)))
    if names is not None:
        results = [r for r in results if r.name in names]
    # keep manifest order: entries that failed validation sit where they were listed
    order = {n: i for i, n in enumerate(_entry_order(source))}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    return results


def _entry_order(source: Any) -> list[str]:
    if isinstance(source, (str, Path)) and Path(source).suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(Path(source).read_text())
            return [e.get("name", "") for e in data.get("kernel", []) if isinstance(e, dict)]
        except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
            return []
    return []
