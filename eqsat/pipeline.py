"""The front half of the pipeline as one call per kernel: ingest -> parse -> lift.

`front_end(paths, targets)` yields one `KernelIR` per (kernel, target): the TTGIR text Triton emitted, the
parsed module, the dm graph, the time each stage took, or the one-line error of the stage that failed.
A bad kernel fails alone; the rest go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.targets import Target, get_target, target_for_triton_name


@dataclass
class KernelIR:
    name: str
    target: str
    source: str  # manifest or file it came from
    ttgir: str | None = None
    module: Any = None  # eqsat.ir.parser.TTModule
    dm: Any = None  # the lifted dm module
    error: EqsatError | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # ingest, parse, lift
    cached: bool = False
    launch: dict[str, Any] | None = None  # the manifest's [kernel.launch] table, if any

    @property
    def ok(self) -> bool:
        return self.error is None


def _file_triton_target(text: str) -> str | None:
    """The `ttg.target` module attribute of a TTGIR text (`cuda:90`, `hip:gfx942`), if any."""
    import re

    m = re.search(r'ttg\.target\s*=\s*"([^"]+)"', text)
    return m.group(1) if m else None


def front_end(paths: list[str], targets: list[str], lift: bool = True,
              use_cache: bool = True) -> Iterator[KernelIR]:
    """Ingest, parse and (optionally) lift every kernel of every path for every target."""
    from eqsat.ingest import ingest
    from eqsat.ir.parser import parse_ttgir

    tgts: list[Target] = [get_target(t) for t in targets]
    for path in paths:
        p = Path(path)
        if not p.exists():
            yield KernelIR(name=p.stem, target=",".join(targets), source=path,
                           error=EqsatError("no such file", path))
            continue
        if p.suffix == ".ttgir":
            # a TTGIR file is already compiled for one target: read it as it is
            try:
                text = p.read_text()
            except (OSError, UnicodeDecodeError) as e:
                yield KernelIR(name=p.stem, target=",".join(targets), source=path,
                               error=EqsatError(f"cannot read file: {e}", path))
                continue
            file_target = _file_triton_target(text)
            for tgt in tgts:
                k = KernelIR(name=p.stem, target=tgt.name, source=path)
                if file_target is not None and file_target != tgt.triton_name:
                    known = target_for_triton_name(file_target)
                    k.error = EqsatError(f"file is compiled for {known.name if known else file_target}, "
                                         f"not {tgt.name}", path)
                    yield k
                    continue
                k.ttgir = text
                yield _parse_and_lift(k, parse_ttgir, lift, path)
            continue
        for tgt in tgts:
            t0 = time.perf_counter()
            try:
                results = ingest(path, tgt, use_cache=use_cache)
            except EqsatError as e:
                yield KernelIR(name=p.stem, target=tgt.name, source=path, error=e)
                continue
            per_kernel = (time.perf_counter() - t0) / max(1, len(results))
            for r in results:
                k = KernelIR(name=r.name, target=tgt.name, source=path, cached=r.cached,
                             launch=r.spec.launch if r.spec is not None else None)
                k.seconds["ingest"] = per_kernel
                if not r.ok:
                    k.error = r.error
                    yield k
                    continue
                k.ttgir = r.ttgir
                label = f"{path}:{r.name}[{tgt.name}].ttgir"
                yield _parse_and_lift(k, parse_ttgir, lift, label)


def _parse_and_lift(k: KernelIR, parse_ttgir, lift: bool, label: str) -> KernelIR:
    t0 = time.perf_counter()
    try:
        k.module = parse_ttgir(k.ttgir, label)
    except EqsatError as e:
        k.error = e
        return k
    k.seconds["parse"] = time.perf_counter() - t0
    if lift:
        from eqsat.dm.lift import Launch, lift_module

        t0 = time.perf_counter()
        try:
            k.dm = lift_module(k.module, kernel=k.name, target=k.target,
                               launch=Launch.from_manifest(k.launch))
        except EqsatError as e:
            k.error = e
            return k
        k.seconds["lift"] = time.perf_counter() - t0
    return k
