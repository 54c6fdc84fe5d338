"""Decode the SASS of an NVIDIA cubin: instructions with their scoreboard barriers, loops, resource usage.

What the latency model (costmodels/latency.py) needs from the machine code ptxas produced, read from
`cuobjdump -sass` (Triton ships cuobjdump in triton/backends/nvidia/bin) and `cuobjdump
--dump-resource-usage`:

    instruction  = address, predicate, opcode (with modifiers), operands, control bits
    control bits = the high 64-bit word of each 128-bit Volta+ instruction (cuobjdump prints the two
                   words as `/* 0x... */` comments), c = high >> 41:
                       stall    = c & 0xf          cycles before the next instruction issues
                       yield    = (c >> 4) & 1
                       write    = (c >> 5) & 7     scoreboard barrier set when the result is written
                                                   (7 = none: a fixed-latency instruction)
                       read     = (c >> 8) & 7     barrier released once the sources are read
                       wait     = (c >> 11) & 0x3f barriers (bit b = barrier b) this instruction waits on
    loop         = a backward branch `BRA addr` with addr <= its own address: the body is
                   [addr, branch address], nested loops are bodies inside bodies
    resources    = REG (registers per thread), SHARED (static shared bytes), from the resource dump

A variable-latency instruction (global or shared load, S2R, MUFU, ...) names a write barrier; its first
consumer waits on that barrier. `Instruction.global_load` marks the ones that go to global memory (LDG,
generic LD, global atomics ATOMG/ATOM/RED, LDGSTS) whose waits the latency model counts as round trips.

Bad input: `SassError` (an `EqsatError`) with one line when cuobjdump is missing, fails, or prints text
this decoder does not understand (no instruction found, an instruction line without its second word).

AMD (not built): a gfx9 code object would be read with `llvm-objdump -d`; global loads are
`global_load_*` / `buffer_load_*` / `flat_load_*`, and their waits are `s_waitcnt vmcnt(N)` (wait until at
most N vector-memory operations are outstanding, in issue order) instead of scoreboard barriers; a loop
is a backward `s_cbranch_*`; resources are `.vgpr_count`, `.sgpr_count`, `.group_segment_fixed_size` of
the metadata. The round-trip count would follow the same rule with vmcnt's in-order counters.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from eqsat.errors import EqsatError


class SassError(EqsatError):
    """cuobjdump missing or failing, or SASS text this decoder does not understand."""


_INSN = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s*(.*?)\s*;\s*/\*\s*0x([0-9a-f]{16})\s*\*/\s*$")
_HI = re.compile(r"^\s*/\*\s*0x([0-9a-f]{16})\s*\*/\s*$")
_FUNC = re.compile(r"^\s*Function\s*:\s*(\S+)")
_PRED = re.compile(r"^(@!?U?P[T0-9]+)\s+")
_RES = re.compile(r"Function\s+(\S+):\s*\n\s*(.*)")
_BRA_TARGET = re.compile(r"`?\(?\s*(0x[0-9a-f]+)")

# opcodes (first dot-separated part) that read global memory and return data to registers
_GLOBAL_LOADS = {"LDG", "ATOMG", "LDGSTS"}
_GENERIC = {"LD", "ATOM"}  # generic address space: global in Triton's code (shared goes through LDS)


@dataclass(frozen=True)
class Instruction:
    address: int
    predicate: str  # "" or "@P0", "@!P1", ...
    opcode: str  # with modifiers: "LDG.E.128.CONSTANT"
    operands: str
    stall: int
    yield_: int
    write_barrier: int | None  # None: no barrier (7 in the encoding)
    read_barrier: int | None
    wait_mask: int  # bit b set: waits on barrier b

    @property
    def base(self) -> str:
        """The opcode without modifiers ("LDG")."""
        return self.opcode.split(".")[0]

    @property
    def global_load(self) -> bool:
        """A global-memory read whose data comes back through a scoreboard barrier (or, for LDGSTS, a
        DEPBAR wait): LDG, generic LD, global atomics, cp.async (LDGSTS)."""
        return self.base in _GLOBAL_LOADS or self.base in _GENERIC

    def waits_on(self, barrier: int) -> bool:
        return bool(self.wait_mask >> barrier & 1)

    @property
    def branch_target(self) -> int | None:
        """The target address of a BRA (None for other instructions or an indirect branch)."""
        if self.base != "BRA":
            return None
        m = _BRA_TARGET.search(self.operands)
        return int(m.group(1), 16) if m else None


@dataclass(frozen=True)
class Loop:
    """A backward branch's body: instructions [start, end] (addresses, the branch at `end`)."""

    start: int
    end: int
    depth: int = 0  # 0 = outermost


@dataclass
class Sass:
    """One function of a cubin: its instructions in address order, loops and resource usage."""

    function: str
    instructions: list[Instruction]
    registers: int = 0
    static_shared: int = 0
    loops: list[Loop] = field(default_factory=list)

    def index_of(self, address: int) -> int:
        for i, ins in enumerate(self.instructions):
            if ins.address >= address:
                return i
        return len(self.instructions)


def cuobjdump() -> str:
    """Path of cuobjdump: Triton's bundled copy, else one on PATH; SassError if neither exists."""
    try:
        import triton

        bundled = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
        if os.access(bundled, os.X_OK):
            return bundled
    except ImportError:
        pass
    found = shutil.which("cuobjdump")
    if found:
        return found
    raise SassError("cuobjdump not found (neither triton/backends/nvidia/bin/cuobjdump nor on PATH)")


def _dump(binary: bytes, flag: str, name: str) -> str:
    with tempfile.TemporaryDirectory(prefix="eqsat-sass-") as d:
        path = os.path.join(d, "kernel.cubin")
        with open(path, "wb") as f:
            f.write(binary)
        try:
            proc = subprocess.run([cuobjdump(), flag, path], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SassError(f"cuobjdump {flag} failed: {e}", file=name) from None
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if ln.strip()), f"exit {proc.returncode}")
        raise SassError(f"cuobjdump {flag} failed: {first}", file=name)
    return proc.stdout


def parse_sass(text: str, name: str = "sass") -> list[tuple[str, list[Instruction]]]:
    """The functions of `cuobjdump -sass` text: [(function name, instructions)]."""
    funcs: list[tuple[str, list[Instruction]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fm = _FUNC.match(line)
        if fm:
            funcs.append((fm.group(1), []))
            i += 1
            continue
        m = _INSN.match(line)
        if m:
            if not funcs:
                funcs.append(("?", []))
            hi = _HI.match(lines[i + 1]) if i + 1 < len(lines) else None
            if hi is None:
                raise SassError("instruction without its control word (second /* 0x... */ line)",
                                file=name, line=i + 1)
            funcs[-1][1].append(_instruction(int(m.group(1), 16), m.group(2), int(hi.group(1), 16)))
            i += 2
            continue
        i += 1
    if not any(ins for _, ins in funcs):
        raise SassError("no SASS instruction found in cuobjdump's output", file=name)
    return funcs


def _instruction(address: int, text: str, high: int) -> Instruction:
    pred = ""
    pm = _PRED.match(text)
    if pm:
        pred = pm.group(1)
        text = text[pm.end():]
    opcode, _, operands = text.partition(" ")
    c = high >> 41
    wr, rd = (c >> 5) & 7, (c >> 8) & 7
    return Instruction(address, pred, opcode, operands.strip(), c & 0xF, (c >> 4) & 1,
                       None if wr == 7 else wr, None if rd == 7 else rd, (c >> 11) & 0x3F)


def find_loops(instructions: list[Instruction]) -> list[Loop]:
    """Backward branches as loop bodies, sorted by start (outer before inner), with nesting depths."""
    spans = []
    for ins in instructions:
        t = ins.branch_target
        if t is not None and t <= ins.address:
            spans.append((t, ins.address))
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[Loop] = []
    for s, e in spans:
        depth = sum(1 for o in out if o.start <= s and e <= o.end)
        out.append(Loop(s, e, depth))
    return out


def parse_resources(text: str, name: str = "sass") -> dict[str, dict[str, int]]:
    """`cuobjdump --dump-resource-usage` text: {function: {"REG": n, "SHARED": bytes, ...}}."""
    out: dict[str, dict[str, int]] = {}
    for m in _RES.finditer(text):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+(?:\[\d+\])?):(\d+)", m.group(2))}
    if not out:
        raise SassError("no 'Function NAME:' line in cuobjdump --dump-resource-usage output", file=name)
    return out


def decode_cubin(binary: bytes, name: str = "kernel") -> Sass:
    """The first (Triton: the only) function of a cubin, decoded."""
    funcs = parse_sass(_dump(binary, "-sass", name), name)
    resources = parse_resources(_dump(binary, "--dump-resource-usage", name), name)
    fname, ins = next((f, i) for f, i in funcs if i)
    res = resources.get(fname) or next(iter(resources.values()))
    return Sass(fname, ins, int(res.get("REG", 0)), int(res.get("SHARED", 0)), find_loops(ins))
