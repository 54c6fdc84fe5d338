"""Triton's verifier at the door, and the round-trip guard behind eqsat's parser.

    text = read_ir_file(path)                  bytes -> str under the size limit; bad UTF-8 at line:col
    canon = triton_verify(text, label)        libtriton parses + verifies; Triton's print of the module
    check_round_trip(canon, eqsat_text, label) Triton's print of eqsat's print must equal `canon`

Every IR text eqsat reads is first parsed and verified by Triton's own MLIR parser, exactly as
`triton.compile(path)` does for a `.ttgir`/`.ttir` file (`ir.parse_mlir_module` on a context with the
Triton, NVIDIA and AMD dialects loaded; MLIR verifies after parsing). What Triton rejects is rejected
here with one line: `file:line:col: error: Triton rejects the IR: <Triton's diagnostic>`. MLIR writes
its diagnostics to the C++ stderr, and some of Triton's verifiers assert (abort the process) on bad
layouts, so the parse runs in a forked child (bounded: TRITON_TIMEOUT_S, TRITON_MEMORY_BYTES) with file
descriptor 2 redirected to a file; the first `error:` diagnostic (with its continuation lines), or the
failed assertion of a child that aborted, is read back. When the diagnostic
names an op by its own location (a Python source line of the kernel, not the IR file), the text is
parsed once more with every ` loc(...)` suffix blanked out (line and column of every op unchanged), so
that the op's place in the IR file is reported.

Before Triton sees a text, cheap bounds reject what could exhaust a parser: the file size
(`MAX_FILE_BYTES`) and the nesting depth of brackets (`MAX_NESTING`). Triton's print of the verified
module is the canonical form: the round-trip guard compares it with Triton's print of eqsat's own print
of the module, so that eqsat never optimizes a program other than the one it was given.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import resource
import select
import signal
import sys
import tempfile
from pathlib import Path

from eqsat.errors import EqsatError

MAX_FILE_BYTES = 8 << 20  # the largest corpus TTGIR is 26 kB
MAX_NESTING = 200  # brackets ( [ { < open at once; Triton's own output nests about 12 deep
TRITON_TIMEOUT_S = 20.0  # libtriton's parse of one text, in a forked child (26 kB parse in 4 ms)
TRITON_MEMORY_BYTES = 4 << 30  # that child's address-space cap

_DIAG = re.compile(r"^(?:loc\((?P<loc>.*)\)|(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+)): "
                   r"(?P<sev>error|warning|note|remark): (?P<msg>.*)$")
_FILE_LOC = re.compile(r'"((?:[^"\\]|\\.)*)":(\d+):(\d+)')


def read_ir_file(path: str | Path) -> str:
    """The text of an IR file: at most MAX_FILE_BYTES, UTF-8 (a bad byte is reported at its line:col)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise EqsatError(f"file is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes", str(path))
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise EqsatError("no such file", str(path)) from None
    except IsADirectoryError:
        raise EqsatError("is a directory, not an IR file", str(path)) from None
    except OSError as e:
        raise EqsatError(f"cannot read file: {e.strerror or e}", str(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise EqsatError(f"file is over the limit of {MAX_FILE_BYTES} bytes", str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(data, e.start)
        raise EqsatError(f"not UTF-8 text: byte 0x{data[e.start]:02x} ({e.reason})", str(path), line,
                         col) from None


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    nl = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(nl, 0, offset) + 1
    return line, offset - (data.rfind(nl, 0, offset) + 1) + 1


def check_bounds(text: str, label: str) -> None:
    """Reject texts that could exhaust a parser before any parser sees them: size, NUL bytes, nesting."""
    if len(text) > MAX_FILE_BYTES:
        raise EqsatError(f"IR text is {len(text)} characters, over the limit of {MAX_FILE_BYTES}", label)
    nul = text.find("\0")
    if nul >= 0:
        raise EqsatError("NUL byte in the IR text", label, *_line_col(text, nul))
    depth, in_str, i, n = 0, False, 0, len(text)
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"' or c == "\n":
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "([{<":
            depth += 1
            if depth > MAX_NESTING:
                raise EqsatError(f"brackets nested more than {MAX_NESTING} deep", label, *_line_col(text, i))
        elif c in ")]}>" and depth > 0:
            if not (c == ">" and i > 0 and text[i - 1] == "-"):  # `->` is no bracket
                depth -= 1
        i += 1


def _context():
    from triton._C.libtriton import amd, ir, nvidia

    ctx = ir.context()
    ir.load_dialects(ctx)
    nvidia.load_dialects(ctx)
    amd.load_dialects(ctx)
    return ctx


def _triton_child(path: str, out_path: str, err_path: str, memory_bytes: int) -> None:
    """In the forked child: parse `path` with libtriton, write its print (or the error) to `out_path`,
    with fd 2 (MLIR's diagnostics, an assertion's message) going to `err_path`. Never returns."""
    code = 1
    try:
        faulthandler.disable()  # an abort here is the expected rejection, not a dump on the parent's stderr
        fd = os.open(err_path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(fd, 2)
        os.close(fd)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, resource.getrlimit(resource.RLIMIT_AS)[1]))
        except (ValueError, OSError):
            pass
        from triton._C.libtriton import ir

        ctx = _context()
        try:
            module = ir.parse_mlir_module(path, ctx)
            name = module.get_entry_func_name()
            result = {"printed": str(module)} if name else {"error": "no tt.func in the module"}
        except Exception as e:  # noqa: BLE001 - libtriton raises RuntimeError("Parse MLIR file failed.")
            result = {"error": " ".join(str(e).split()) or type(e).__name__}
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump(result, f)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent reports the missing result
        code = 3
    finally:
        os._exit(code)


def _run_triton_parse(path: str, d: str) -> tuple[dict | None, str, str | None]:
    """(result, stderr, why it died) of libtriton's parse of `path` in a forked child, bounded in time
    and memory: an assertion of Triton's verifier aborts that child, not eqsat."""
    from triton._C.libtriton import amd, ir, nvidia  # noqa: F401 - loaded once here, inherited by the child

    out_path, err_path = os.path.join(d, "result.json"), os.path.join(d, "stderr.txt")
    open(err_path, "w").close()
    sys.stdout.flush()
    sys.stderr.flush()
    done_r, done_w = os.pipe()  # the child holds the write end: EOF when it exits, however it exits
    pid = os.fork()
    if pid == 0:
        os.close(done_r)
        _triton_child(path, out_path, err_path, TRITON_MEMORY_BYTES)
    os.close(done_w)
    try:
        ready, _, _ = select.select([done_r], [], [], TRITON_TIMEOUT_S)
    finally:
        os.close(done_r)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None, _read(err_path), f"did not finish within {TRITON_TIMEOUT_S:g} s"
    _, status = os.waitpid(pid, 0)
    err = _read(err_path)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        return None, err, f"crashed ({name})"
    try:
        with open(out_path, encoding="utf-8") as f:
            return json.load(f), err, None
    except (OSError, ValueError):
        return None, err, f"stopped without a result (exit status {os.WEXITSTATUS(status)})"


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return ""


_ASSERT = re.compile(r"(?:^|: )(?P<file>[\w/.\-]+\.(?:cpp|h)):(?P<line>\d+): .*?(?P<what>Assertion .*)$",
                     re.M)
_Loc = tuple[str, int, int]


def _parse_with_triton(text: str, fake_name: str) -> tuple[str | None, str | None, _Loc | None]:
    """(Triton's print or None, first error diagnostic, its file location) for `text`."""
    with tempfile.TemporaryDirectory(prefix="eqsat-verify-") as d:
        path = os.path.join(d, fake_name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        result, err, died = _run_triton_parse(path, d)
        if result is not None and "printed" in result:
            # an op without a location gets its place in this temporary file: not part of the program
            printed = result["printed"]
            quoted = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
            printed = re.sub(re.escape(quoted) + r":\d+:\d+", '"<input>":0:0', printed)
            return printed, None, None
        message, loc = _first_error(err)
        if died is not None:
            m = _ASSERT.search(err)
            why = f"{os.path.basename(m.group('file'))}:{m.group('line')}: {m.group('what')}" if m else \
                (message or " ".join(err.split())[-200:] or "no diagnostic")
            message = f"Triton's parser {died}: {why}"
        elif message is None:
            message = (result or {}).get("error") or "Parse MLIR file failed."
        if loc is not None and os.path.basename(loc[0]) == fake_name:
            loc = ("<self>", loc[1], loc[2])
        return None, message[:400], loc


def _first_error(stderr: str) -> tuple[str | None, tuple[str, int, int] | None]:
    """The first `error:` diagnostic of MLIR's stderr, continuation lines joined, and its file location."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        m = _DIAG.match(line)
        if not m or m.group("sev") != "error":
            continue
        parts = [m.group("msg").strip()]
        for more in lines[i + 1:]:
            if _DIAG.match(more) or not more.strip():
                break
            parts.append(more.strip())
        msg = " ".join(p for p in parts if p)
        if m.group("loc") is not None:
            locs = _FILE_LOC.findall(m.group("loc"))
            loc = (locs[-1][0], int(locs[-1][1]), int(locs[-1][2])) if locs else None
        else:
            loc = (m.group("file"), int(m.group("line")), int(m.group("col")))
        return msg[:400], loc
    return None, None


def blank_locations(text: str) -> str:
    """Every ` loc(...)` suffix of an op or argument replaced by nothing; `#loc` lines kept, so every line
    keeps its number and every op its column."""
    from eqsat.lowering.irtext import drop_loc_suffixes

    return "\n".join(line if line.lstrip().startswith("#loc") else drop_loc_suffixes(line)
                     for line in text.split("\n"))


def triton_verify(text: str, label: str, suffix: str = ".ttgir") -> str:
    """Parse and verify `text` with libtriton; return Triton's print of the module (the canonical form).
    Raises `EqsatError` with Triton's first diagnostic at the place in `label` it names."""
    check_bounds(text, label)
    fake = "input" + suffix
    printed, message, loc = _parse_with_triton(text, fake)
    if printed is not None:
        if suffix == ".ttgir" and not re.search(r'"?ttg\.num-warps"?\s*=', printed):
            raise EqsatError("Triton rejects the IR: no ttg.num-warps module attribute "
                             "(triton.compile needs it for a .ttgir file)", label)
        return printed
    assert message is not None
    line = col = None
    where = ""
    if loc is not None and loc[0] == "<self>":
        line, col = loc[1], loc[2]
    else:
        # the diagnostic names an op by its source location: find the op in this file
        _, message2, loc2 = _parse_with_triton(blank_locations(text), fake)
        if loc2 is not None and loc2[0] == "<self>" and message2 == message:
            line, col = loc2[1], loc2[2]
        elif loc is not None:
            where = f" (at {loc[0]}:{loc[1]}:{loc[2]})"
    raise EqsatError(f"Triton rejects the IR: {message}{where}", label, line, col)


def triton_print(text: str, label: str, suffix: str = ".ttgir") -> str:
    """Triton's print of a text eqsat produced (its own failure to parse is reported, not raised as bug)."""
    printed, message, loc = _parse_with_triton(text, "input" + suffix)
    if printed is None:
        place = f" at line {loc[1]}:{loc[2]}" if loc and loc[0] == "<self>" else ""
        raise EqsatError(f"eqsat's print of the module is not valid IR for Triton{place}: {message}; "
                         "the kernel is not optimized", label)
    return printed


def check_round_trip(canonical: str, eqsat_text: str, label: str, suffix: str = ".ttgir") -> None:
    """Triton's print of eqsat's print must equal `canonical` (Triton's print of the input)."""
    again = triton_print(eqsat_text, label, suffix)
    if again == canonical:
        return
    a, b = canonical.split("\n"), again.split("\n")
    k = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    want = a[k].strip()[:120] if k < len(a) else "end of module"
    got = b[k].strip()[:120] if k < len(b) else "end of module"
    raise EqsatError(f"round trip is not exact (eqsat would rewrite the program): Triton prints line {k + 1} "
                     f"of the input as '{want}' but eqsat's print as '{got}'; the kernel is not optimized",
                     label)


__all__ = ["MAX_FILE_BYTES", "MAX_NESTING", "blank_locations", "check_bounds", "check_round_trip",
           "read_ir_file", "triton_print", "triton_verify"]


# ------------------------------------------------------------------------------------------ limits

MAX_TENSOR_ELEMENTS = 1 << 20  # per tensor or memdesc type; the corpus' largest is 24,576
MAX_LAYOUT_PARAM = 1 << 16  # any integer of a layout encoding (sizePerThread, instrShape, bases, ...)
MAX_NUM_WARPS = 64
THREADS_PER_WARP = (32, 64)
MAX_NUM_CTAS = 16

_SHAPED = re.compile(r"\b(tensor|memdesc|vector)<((?:\d+x)+)")
_ENCODING = re.compile(r"#(?:ttg|ttng|amdg|amdgpu|nvidia_gpu|triton_gpu)\.\w+<")
_INT = re.compile(r"(?<![\w.#%\"])-?\d+\b")
_POSITIVE_FIELD = re.compile(r"\b(sizePerThread|threadsPerWarp|warpsPerCTA|instrShape|CTAsPerCGA|CTASplitNum|"
                             r"tilesPerWarp) = \[([-\d, ]*)\]")
_MODULE_INT = re.compile(r'"?(ttg\.num-warps|ttg\.threads-per-warp|ttg\.num-ctas)"?\s*=\s*(-?\d+)\s*:')


def _place(original: str, needle: str) -> tuple[int | None, int | None]:
    at = original.find(needle)
    return _line_col(original, at) if at >= 0 else (None, None)


def check_limits(canonical: str, original: str, label: str) -> None:
    """Bounds on what eqsat's analyses enumerate, checked on Triton's print of a verified module: tensor
    and memdesc elements, every integer of a layout encoding, warps, threads per warp, CTAs."""
    for m in _SHAPED.finditer(canonical):
        n = 1
        for d in m.group(2).split("x")[:-1]:
            n *= int(d)
        if n > MAX_TENSOR_ELEMENTS:
            text = m.group(0)
            raise EqsatError(f"{text[:60]}...> has {n} elements, over the limit of {MAX_TENSOR_ELEMENTS}",
                             label, *_place(original, text))
    for m in _MODULE_INT.finditer(canonical):
        key, value = m.group(1), int(m.group(2))
        bad = (key == "ttg.num-warps" and not 1 <= value <= MAX_NUM_WARPS) or \
              (key == "ttg.threads-per-warp" and value not in THREADS_PER_WARP) or \
              (key == "ttg.num-ctas" and not 1 <= value <= MAX_NUM_CTAS)
        if bad:
            raise EqsatError(f"{key} = {value} is outside what eqsat supports (num-warps 1..{MAX_NUM_WARPS}, "
                             f"threads-per-warp 32 or 64, num-ctas 1..{MAX_NUM_CTAS})",
                             label, *_place(original, key))
    for m in _POSITIVE_FIELD.finditer(canonical):
        values = [int(v) for v in re.findall(r"-?\d+", m.group(2))]
        if any(v <= 0 for v in values):
            raise EqsatError(f"{m.group(1)} = [{m.group(2)}] of a layout encoding must be positive",
                             label, *_place(original, m.group(0)))
    for m in _ENCODING.finditer(canonical):
        depth, j = 1, m.end()
        while j < len(canonical) and depth:
            c = canonical[j]
            depth += (c == "<") - (c == ">")
            j += 1
        body = canonical[m.end():j]
        for num in _INT.finditer(body):
            v = int(num.group(0))
            if abs(v) > MAX_LAYOUT_PARAM:
                raise EqsatError(f"layout parameter {v} of {m.group(0)}...> is over the limit of "
                                 f"{MAX_LAYOUT_PARAM}", label, *_place(original, num.group(0)))


_NEW_AXIS_OPS = {"tt.expand_dims", "tt.join", "tt.split"}  # their axis may be one past the operand's rank


def check_module_limits(module, original: str, label: str) -> None:
    """Bounds Triton's verifier leaves open but eqsat's analyses index by: an `axis` attribute (tt.reduce,
    tt.scan, tt.histogram, ...) must name a dimension of the op's first tensor operand."""
    from xdsl.dialects.builtin import IntegerAttr, TensorType

    for op in module.walk():
        axis = op.attributes.get("axis")
        if not isinstance(axis, IntegerAttr) or not op.operands:
            continue
        ty = op.operands[0].type
        if isinstance(ty, TensorType):
            rank = len(ty.get_shape())
            value = axis.value.data
            top = rank if op.name in _NEW_AXIS_OPS else rank - 1
            if not 0 <= value <= top:
                raise EqsatError(f"{op.name} has axis = {value}, not a dimension of its rank-{rank} operand",
                                 label, *_place(original, f"axis = {value} "))
