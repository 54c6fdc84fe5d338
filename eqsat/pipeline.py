"""The front half of the pipeline as one call per kernel: ingest -> verify -> parse -> round trip -> lift.

`front_end(paths, targets)` yields one `KernelIR` per (kernel, target): the TTGIR text Triton emitted, the
parsed module, the dm graph, the time each stage took, or the one-line error of the stage that failed.
A bad kernel fails alone; the rest go on.

With `buckets=True` (the corpus optimizer), a manifest kernel is yielded once per shape bucket
(`KernelSpec.production_shapes()`: the declared production shapes, else its `bench` table, else its
`launch`), primary first: each with that shape's launch table (what the optimizer prices at), its
`bucket` name and `bucket_dir` (its plan folder under `<kernel>/<target>/`: "" for the primary,
`buckets/<name>` for the others; lowering/rundir.py). The TTGIR is verified and parsed once for all
buckets of a kernel. Without it, one KernelIR per kernel at the manifest's `launch` (the correctness
launch), as `eqsat ingest`, `cost` and `rules` read kernels.

Every IR text passes Triton's own parser and verifier first (`eqsat.ir.verify.triton_verify`: an IR file
as it is read, a manifest kernel's TTGIR as Triton emitted it), then the bounds of `check_limits`, then
eqsat's parser; the round-trip guard then requires Triton's print of eqsat's print to equal Triton's print
of the input, so a kernel eqsat would silently rewrite fails here and is never optimized. Any exception
of a stage that is not an `EqsatError` (a bug, an egglog panic, MemoryError) becomes this kernel's
one-line `internal error`, with the traceback kept on the error (`err.traceback`) for `--debug`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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
    launch: dict[str, Any] | None = None  # the launch table it is priced at (its shape bucket's)
    bucket: str | None = None  # the shape bucket's name (manifest kernels)
    bucket_dir: str = ""  # its plan folder relative to <kernel>/<target>/ ("" for the primary bucket)

    @property
    def ok(self) -> bool:
        return self.error is None


def _file_triton_target(text: str) -> str | None:
    """The `ttg.target` module attribute of a TTGIR text (`cuda:90`, `hip:gfx942`), if any."""
    import re

    m = re.search(r'ttg\.target\s*=\s*"([^"]+)"', text)
    return m.group(1) if m else None


def front_end(paths: list[str], targets: list[str], lift: bool = True, use_cache: bool = True,
              done_before: Callable[[KernelIR], bool] | None = None,
              buckets: bool = False) -> Iterator[KernelIR]:
    """Ingest, parse and (optionally) lift every kernel of every path for every target. A kernel for
    which `done_before(k)` is true (its TTGIR text is set) is yielded before verification and parsing: the
    corpus runner passes the result cache's membership, since a cached result was computed after the
    same text passed them."""
    from eqsat.ingest import ingest
    from eqsat.ir.parser import parse_ttgir
    from eqsat.ir.verify import read_ir_file, triton_verify
    from eqsat.lowering.rundir import bucket_subdir

    tgts: list[Target] = [get_target(t) for t in targets]
    for path in paths:
        p = Path(path)
        if not p.exists():
            yield KernelIR(name=p.stem, target=",".join(targets), source=path,
                           error=EqsatError("no such file", path))
            continue
        if p.suffix == ".ttir":
            # Triton's verifier at the door before ingest compiles the file
            try:
                triton_verify(read_ir_file(p), path, ".ttir")
            except EqsatError as e:
                for tgt in tgts:
                    yield KernelIR(name=p.stem, target=tgt.name, source=path, error=e)
                continue
        if p.suffix == ".ttgir":
            # a TTGIR file is already compiled for one target: read it as it is
            try:
                text = read_ir_file(p)
            except EqsatError as e:
                yield KernelIR(name=p.stem, target=",".join(targets), source=path, error=e)
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
                yield k if done_before is not None and done_before(k) else \
                    _parse_and_lift(k, parse_ttgir, lift, path)
            continue
        for tgt in tgts:
            t0 = time.perf_counter()
            try:
                results = ingest(path, tgt, use_cache=use_cache)
            except EqsatError as e:
                yield KernelIR(name=p.stem, target=tgt.name, source=path, error=e)
                continue
            except BaseException as e:  # noqa: BLE001 - a bug of ingest fails this path alone
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                yield KernelIR(name=p.stem, target=tgt.name, source=path,
                               error=internal_error(e, "ingest", p.stem, tgt.name, path))
                continue
            per_kernel = (time.perf_counter() - t0) / max(1, len(results))
            for r in results:
                shapes = (r.spec.production_shapes() if buckets else [(None, r.spec.launch)]) \
                    if r.spec is not None else []
                parsed: KernelIR | None = None
                for i, (bucket, launch) in enumerate(shapes or [(None, None)]):
                    k = KernelIR(name=r.name, target=tgt.name, source=path, cached=r.cached, launch=launch,
                                 bucket=bucket, bucket_dir=bucket_subdir(i, bucket))
                    k.seconds["ingest"] = per_kernel if i == 0 else 0.0
                    if not r.ok:  # one error row per kernel, not one per bucket
                        k.error = r.error
                        if i == 0:
                            yield k
                        continue
                    k.ttgir = r.ttgir
                    label = f"{path}:{r.name}[{tgt.name}].ttgir"
                    if done_before is not None and done_before(k):
                        yield k
                    elif parsed is not None and parsed.error is not None:
                        continue  # the kernel's error is already the row of its first bucket
                    elif parsed is not None and lift is False:
                        k.module = parsed.module
                        yield k
                    else:
                        parsed = _parse_and_lift(k, parse_ttgir, lift, label)
                        yield parsed


def internal_error(e: BaseException, stage: str, kernel: str, target: str, label: str) -> EqsatError:
    """A one-line EqsatError for an exception that is not one (a bug, a panic, MemoryError); the traceback
    is kept as `err.traceback` for `--debug`."""
    import traceback

    if isinstance(e, MemoryError):
        what = "out of memory (MemoryError)"
    else:
        what = f"{type(e).__name__}: {' '.join(str(e).split())}"[:300]
    err = EqsatError(f"internal error in {stage} of kernel {kernel} [{target}]: {what}", label)
    err.traceback = "".join(traceback.format_exception(e))  # type: ignore[attr-defined]
    return err


def _parse_and_lift(k: KernelIR, parse_ttgir, lift: bool, label: str) -> KernelIR:
    stage = ["verify"]
    try:
        _stages(k, parse_ttgir, lift, label, stage)
    except EqsatError as e:
        if e.file is None:
            e.file = label
        k.error = e
    except BaseException as e:  # noqa: BLE001 - egglog's PanicException is a BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        k.error = internal_error(e, stage[0], k.name, k.target, label)
    return k


def _stages(k: KernelIR, parse_ttgir, lift: bool, label: str, stage: list[str]) -> None:
    from eqsat.ir.printer import print_ttgir
    from eqsat.ir.verify import check_limits, check_module_limits, check_round_trip, triton_verify

    assert k.ttgir is not None
    t0 = time.perf_counter()
    canonical = triton_verify(k.ttgir, label)
    check_limits(canonical, k.ttgir, label)
    k.seconds["verify"] = time.perf_counter() - t0
    stage[0], t0 = "parse", time.perf_counter()
    module = parse_ttgir(k.ttgir, label)
    k.seconds["parse"] = time.perf_counter() - t0
    stage[0], t0 = "print (round trip)", time.perf_counter()
    check_round_trip(canonical, print_ttgir(module), label)
    check_module_limits(module, k.ttgir, label)
    k.module = module
    k.seconds["round_trip"] = time.perf_counter() - t0
    if lift:
        from eqsat.dm.lift import Launch, lift_module

        stage[0], t0 = "lift", time.perf_counter()
        k.dm = lift_module(k.module, kernel=k.name, target=k.target, launch=Launch.from_manifest(k.launch))
        k.seconds["lift"] = time.perf_counter() - t0
