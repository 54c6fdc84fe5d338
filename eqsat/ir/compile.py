"""Compile TTGIR text with Triton (on the CPU) and return the target's machine code.

Used to check that a printed module compiles to the same machine code as the text it came from, and by
the lowering stage. Line information is switched off (`TRITON_DISABLE_LINE_INFO=1`) so that locations,
which live only in debug sections, do not make equal code look different.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from eqsat.errors import EqsatError
from eqsat.targets import Target, get_target


@dataclass
class MachineCode:
    target: str
    kind: str  # "ptx" or "amdgcn"
    text: str  # the assembly, debug sections removed
    binary: bytes  # cubin or hsaco
    shared: int = 0  # dynamic shared memory bytes of a launch (Triton's metadata.shared)


def _strip_debug(kind: str, text: str) -> str:
    """Drop what depends on file names/locations only: `.file`/`.loc` lines, debug sections."""
    out = []
    skip = False
    for line in text.splitlines():
        s = line.strip()
        if kind == "ptx":
            if s.startswith((".file", ".loc", "//")):
                continue
            if s.startswith(".section") and ".debug" in s:
                skip = True
            if skip:
                if s == "}":
                    skip = False
                continue
        else:
            if s.startswith((".file", ".loc", ";")):
                continue
            if re.match(r"\s*\.section\s+\.debug", line):
                skip = True
                continue
            if skip and s.startswith((".section", ".text", ".amdgpu_metadata", ".end_amdgpu_metadata")):
                skip = False
            if skip:
                continue
        out.append(line)
    return "\n".join(out)


def compile_ttgir(text: str, target: str | Target, name: str = "kernel") -> MachineCode:
    """Compile TTGIR text for `target` with `triton.compile`; raises `EqsatError` if Triton rejects it."""
    import triton

    tgt = get_target(target) if isinstance(target, str) else target
    old = os.environ.get("TRITON_DISABLE_LINE_INFO")
    os.environ["TRITON_DISABLE_LINE_INFO"] = "1"
    try:
        with tempfile.TemporaryDirectory(prefix="eqsat-") as d:
            path = Path(d) / f"{name}.ttgir"
            path.write_text(text)
            try:
                compiled = triton.compile(str(path), target=tgt.gpu_target())
            except Exception as e:  # noqa: BLE001 - Triton raises many kinds; report one line
                first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
                raise EqsatError(f"Triton does not compile it: {first}", file=name) from None
    finally:
        if old is None:
            os.environ.pop("TRITON_DISABLE_LINE_INFO", None)
        else:
            os.environ["TRITON_DISABLE_LINE_INFO"] = old
    kind = "ptx" if tgt.backend == "cuda" else "amdgcn"
    binary = compiled.asm["cubin" if kind == "ptx" else "hsaco"]
    shared = int(getattr(compiled.metadata, "shared", 0) or 0)
    return MachineCode(tgt.name, kind, _strip_debug(kind, compiled.asm[kind]), binary, shared)
