"""Kernel manifests: TOML files that list the kernels of a corpus, read into `KernelSpec` values.

A manifest is a TOML file with an optional `[defaults]` table and an array of `[[kernel]]` tables
(the format is documented in `corpora/README.md`). Each entry is either an IR file (`file = "k.ttgir"`
or `.ttir`) or a Python `@triton.jit` function, named by a file relative to the manifest (`path`) or an
installed module (`module`), plus `function`. A Python entry carries everything Triton's JIT would
specialize a launch on (signature, constexprs, which arguments are 16-divisible, which integers equal 1)
and a `launch` table that says how to build the arguments and grid for running it on a GPU. An optional
`bench` table (same schema as `launch`) gives a larger launch that fills a GPU, for `eqsat bench`; it
must keep the specialization (tests check it with `launch.check_consistency`).

Production shapes (`[[kernel.shapes]]`, optional, several): the sizes the kernel runs at in production,
each `{name?, grid?, args}` with `grid` replacing and `args` merged argument by argument over the
`launch` table, under the same specialization. The optimizer prices and plans one shape bucket per
production shape (`KernelSpec.production_shapes()`: the declared shapes, else the `bench` table, else
`launch`); the first is the primary bucket (see eqsat/shape_buckets.py).

Loading never stops at a bad entry: `load_manifest` returns the entries that validated and, separately,
one `EqsatError` per bad entry, each naming the manifest, the entry's line and the problem. Only a file
that cannot be read or parsed as TOML at all raises. This module imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.ingest.launch import TORCH_DTYPES, TRITON_TO_DTYPE, tensor_problems
from eqsat.targets import TARGETS

KNOWN_TARGETS = tuple(TARGETS)  # built-ins + parameter files (eqsat.targets)
MAX_MANIFEST_BYTES = 8 << 20

_PYTHON_KEYS = {
    "name", "path", "module", "function", "signature", "constexprs", "divisible", "equal_to_1",
    "large_tensors", "none", "num_warps", "num_stages", "num_ctas", "options", "targets", "tags", "launch",
    "bench", "description", "per_target", "shapes",
}
_FILE_KEYS = {"name", "file", "num_warps", "num_stages", "num_ctas", "options", "targets", "tags",
              "description"}
_DEFAULT_KEYS = {"num_warps", "num_stages", "num_ctas", "targets", "tags", "options"}
_INT_TYPES = {"i1", "i8", "i16", "i32", "i64", "u1", "u8", "u16", "u32", "u64"}
_FLOAT_TYPES = {"fp16", "bf16", "fp32", "fp64"}
# constexpr strings that name a Triton dtype; compile.constexpr_value turns them into tl.dtype values
DTYPE_CONSTEXPRS = ("tl.float16", "tl.bfloat16", "tl.float32", "tl.float64", "tl.int1", "tl.int8",
                    "tl.int16", "tl.int32", "tl.int64", "tl.uint8", "tl.uint16", "tl.uint32", "tl.uint64",
                    "tl.float8e4nv", "tl.float8e5", "tl.float8e4b8", "tl.float8e5b16", "tl.float8e4b15")
# what a [kernel.per_target.<target>] table may change, and how: replaced, or merged key by key
OVERRIDE_REPLACE = ("num_warps", "num_stages", "num_ctas", "divisible", "equal_to_1", "large_tensors", "none")
OVERRIDE_MERGE = ("constexprs", "options")
OVERRIDE_LAUNCH = ("launch", "bench")
OVERRIDE_SHAPES = ("shapes",)  # a per-target `shapes` list replaces the entry's
SHAPE_KEYS = {"name", "grid", "args"}
_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class KernelSpec:
    """One kernel of a corpus: where its source is and how to compile it like Triton's JIT would.

    For a Python kernel, `signature` maps every parameter to a Triton type string (`*fp32`, `i32`,
    `fp32`, `constexpr`), `constexprs` gives the constexpr values, `divisible` the parameters the JIT
    marks `tt.divisibility = 16`, `equal_to_1` the integer parameters the JIT folds to the constant 1,
    and `large_tensors` the pointer parameters whose tensors exceed 2 GiB (which, unlike all others, get
    no `tt.pointer_range = 32` on AMD targets).
    """

    name: str
    manifest: str  # path of the manifest (or "<inline>")
    line: int | None = None  # line of the entry in the manifest
    file: str | None = None  # absolute path of a .ttgir/.ttir file
    path: str | None = None  # absolute path of a Python file
    module: str | None = None  # an installed module
    function: str | None = None
    signature: dict[str, str] = field(default_factory=dict)
    constexprs: dict[str, Any] = field(default_factory=dict)
    divisible: tuple[str, ...] = ()
    equal_to_1: tuple[str, ...] = ()
    none: tuple[str, ...] = ()  # parameters passed as None (constexpr None, as the JIT specializes them)
    large_tensors: tuple[str, ...] = ()
    num_warps: int = 4
    num_stages: int = 3
    num_ctas: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] | None = None  # None: every target
    tags: tuple[str, ...] = ()
    launch: dict[str, Any] | None = None
    description: str = ""
    bench: dict[str, Any] | None = None  # optional larger launch (same schema) for timing on a GPU
    per_target: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> overrides (for_target)
    column: int | None = None  # column of the entry's `[[kernel]]` header
    shapes: tuple[dict[str, Any], ...] = ()  # production shapes: resolved launch tables, each with "name"

    def production_shapes(self) -> list[tuple[str, dict[str, Any]]]:
        """(bucket name, launch table) per shape the kernel runs at in production, primary first: the
        declared `shapes` (resolved over `launch`), else the `bench` table ("bench"), else `launch`."""
        if self.shapes:
            return [(str(s["name"]), {k: v for k, v in s.items() if k != "name"}) for s in self.shapes]
        if self.bench is not None:
            return [("bench", self.bench)]
        return [("launch", self.launch)] if self.launch is not None else []

    def for_target(self, target_name: str) -> KernelSpec:
        """This spec with its `per_target` overrides for `target_name` applied (another cuda:90 target, h200
        or a calibrated card, falls back to h100's).

        Scalars and lists (`num_warps`, `num_stages`, `divisible`, ...) are replaced; `constexprs` and
        `options` are merged key by key; in `launch`/`bench`, `grid` is replaced and `args` are merged
        argument by argument. The result has no `per_target` left.
        """
        if not self.per_target:
            return self
        over = self.per_target.get(target_name)
        t = TARGETS.get(target_name)
        if over is None and target_name != "h100" and t is not None and t.triton_name == "cuda:90":
            over = self.per_target.get("h100")
        if not over:
            return dataclasses.replace(self, per_target={})
        base = {k: getattr(self, k) for k in (*OVERRIDE_REPLACE, *OVERRIDE_MERGE, *OVERRIDE_LAUNCH)}
        merged = merge_override(base, {k: v for k, v in over.items() if k not in OVERRIDE_SHAPES})
        for k in ("divisible", "equal_to_1", "large_tensors", "none"):
            merged[k] = tuple(merged[k])
        if "shapes" in over:  # replaced, and resolved over this target's launch
            merged["shapes"] = tuple(resolve_shapes(over["shapes"], merged["launch"]))
        return dataclasses.replace(self, per_target={}, **merged)

    @property
    def kind(self) -> str:
        """`file` for an IR file, `python` for a `@triton.jit` function."""
        return "file" if self.file is not None else "python"

    @property
    def source_label(self) -> str:
        """Where the kernel comes from, for messages: `gather.py:fn`, `pkg.mod:fn` or the file name."""
        if self.file is not None:
            return Path(self.file).name
        if self.path is not None:
            return f"{Path(self.path).name}:{self.function}"
        return f"{self.module}:{self.function}"

    def supports(self, target_name: str) -> bool:
        """Whether this kernel is meant to compile for `target_name` (`targets` unset: all)."""
        return self.targets is None or target_name in self.targets

    def error(self, problem: str) -> EqsatError:
        """An `EqsatError` that names the manifest, this entry and the problem."""
        return EqsatError(f"kernel '{self.name}': {problem}", file=self.manifest, line=self.line,
                          column=self.column if self.line is not None else None)

    def params(self) -> dict[str, Any]:
        """Everything that decides the compiled code apart from the source, as plain JSON data."""
        return {
            "name": self.name,
            "function": self.function,
            "module": self.module,
            "signature": self.signature,
            "constexprs": {k: repr(v) for k, v in self.constexprs.items()},
            "divisible": list(self.divisible),
            "equal_to_1": list(self.equal_to_1),
            "none": list(self.none),
            "large_tensors": list(self.large_tensors),
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
            "num_ctas": self.num_ctas,
            "options": {k: repr(v) for k, v in sorted(self.options.items())},
        }


@dataclass
class Manifest:
    """A loaded manifest: the entries that validated and one error per entry that did not."""

    path: str
    kernels: list[KernelSpec]
    errors: list[tuple[str, EqsatError]]  # (entry name or "#<index>", error)


def merge_override(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` (entry fields) with a per-target override applied (the rules of `KernelSpec.for_target`)."""
    out = dict(base)
    for k, v in over.items():
        if k in OVERRIDE_MERGE:
            out[k] = {**(base.get(k) or {}), **v}
        elif k in OVERRIDE_LAUNCH:
            b = base.get(k)
            if b is None or not isinstance(v, dict) or not isinstance(b, dict):
                out[k] = v
                continue
            merged = {**b, **{kk: vv for kk, vv in v.items() if kk != "args"}}
            if isinstance(v.get("args"), dict) and isinstance(b.get("args"), dict):
                merged["args"] = {**b["args"], **v["args"]}
            out[k] = merged
        else:
            out[k] = v
    return out


class _Source:
    """The manifest's text, to point errors at the line and column of a key inside an entry."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str, entry_lines: list[int]) -> None:
        self.lines = text.splitlines()
        self.entry_lines = entry_lines

    def span(self, index: int) -> tuple[int, int]:
        """1-based [first, last) lines of entry `index`."""
        if index >= len(self.entry_lines):
            return (0, 0)
        end = self.entry_lines[index + 1] if index + 1 < len(self.entry_lines) else len(self.lines) + 1
        return self.entry_lines[index], end

    def find(self, index: int, table: str, key: str, sub: str | None = None) -> tuple[int, int] | None:
        """(line, column) of `key = ...` in `[table]` of entry `index` (of `sub` inside that line if given);
        inline tables (`args = { key = ... }`) are searched on the parent table's lines too."""
        start, end = self.span(index)
        current = "kernel"
        key_re = re.compile(r'(^|[\s{,])("?)' + re.escape(key) + r'\2\s*=')
        fallback: tuple[int, int] | None = None
        for no in range(start, end):
            text = self.lines[no - 1]
            m = self._HEADER.match(text)
            if m:
                current = re.sub(r"\s+", "", m.group(1))
                if current == table and fallback is None:
                    fallback = (no, text.index("[") + 1)
                continue
            if current != table and not table.startswith(current + "."):
                continue
            km = key_re.search(text)
            if km is None:
                continue
            if current != table:  # an inline table: the line must name the rest of the path
                rest = table[len(current) + 1:].split(".")
                if not all(re.search(r'(^|[\s{,])"?' + re.escape(r) + r'"?\s*=', text) for r in rest):
                    continue
            col = km.start(2) + 1 if km.group(1) == "" else km.start(1) + 2
            if sub is not None:
                j = text.find(sub, km.end())
                if j >= 0:
                    col = j + 1
            return no, col
        return fallback


def _entry_lines(text: str) -> list[int]:
    """1-based line numbers of each `[[kernel]]` header, in order."""
    return [i + 1 for i, line in enumerate(text.splitlines()) if re.match(r"\s*\[\[\s*kernel\s*\]\]", line)]


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest. Raises `EqsatError` only if the file is unreadable or not TOML."""
    p = Path(path)
    label = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise EqsatError("manifest not found", file=label) from None
    except IsADirectoryError:
        raise EqsatError("manifest is a directory, not a TOML file", file=label) from None
    except OSError as e:
        raise EqsatError(f"cannot read manifest: {e.strerror}", file=label) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise EqsatError(f"manifest is {len(raw)} bytes; the limit is {MAX_MANIFEST_BYTES}", file=label,
                         line=1, column=1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise EqsatError(f"not a UTF-8 text file (byte 0x{raw[e.start]:02x}): a manifest is TOML text",
                         file=label, line=line, column=column) from None
    if "\x00" in text:
        at = text.index("\x00")
        raise EqsatError("not a text file (NUL byte): a manifest is TOML text", file=label,
                         line=text.count("\n", 0, at) + 1, column=at - (text.rfind("\n", 0, at) + 1) + 1)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise EqsatError(f"malformed TOML: {msg}", file=label,
                         line=int(m.group(1)) if m else None,
                         column=int(m.group(2)) if m else None) from None
    return parse_manifest(data, label, base_dir=p.resolve().parent, entry_lines=_entry_lines(text), text=text)


def parse_manifest(data: dict[str, Any], label: str, base_dir: Path,
                   entry_lines: list[int] | None = None, text: str | None = None) -> Manifest:
    """Validate already-parsed manifest data (`label` names it in messages, paths resolve from `base_dir`)."""
    unknown = set(data) - {"defaults", "kernel", "description"}
    if unknown:
        raise EqsatError(f"unknown top-level key(s): {', '.join(sorted(unknown))} "
                         "(expected [defaults] and [[kernel]] tables)", file=label)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise EqsatError("[defaults] must be a table", file=label)
    bad = set(defaults) - _DEFAULT_KEYS
    if bad:
        raise EqsatError(f"[defaults]: unknown key(s) {', '.join(sorted(bad))}", file=label)
    entries = data.get("kernel", [])
    if not isinstance(entries, list):
        raise EqsatError("'kernel' must be an array of tables ([[kernel]])", file=label)
    lines = entry_lines or []
    source = _Source(text, lines) if text is not None else None
    kernels: list[KernelSpec] = []
    errors: list[tuple[str, EqsatError]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        line = lines[i] if i < len(lines) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        label_name = name if isinstance(name, str) else f"#{i + 1}"
        try:
            spec = _parse_entry(entry, dict(defaults), label, line, base_dir, i, source)
            if spec.name in seen:
                raise spec.error("duplicate name")
            seen.add(spec.name)
            kernels.append(spec)
        except EqsatError as e:
            errors.append((label_name, e))
    return Manifest(label, kernels, errors)


def _parse_entry(entry: Any, defaults: dict[str, Any], label: str, line: int | None, base_dir: Path,
                 index: int, source: _Source | None = None, per_target_of: str | None = None) -> KernelSpec:
    column = None
    if source is not None and line is not None and line <= len(source.lines):
        column = source.lines[line - 1].index("[") + 1 if "[" in source.lines[line - 1] else 1
    prefix = f"kernel.per_target.{per_target_of}." if per_target_of else "kernel."

    def fail(problem: str, at: tuple[str, str, str | None] | None = None) -> EqsatError:
        """The entry's error; `at` = (table, key, sub) points it at that key's line and column."""
        who = f"kernel '{entry['name']}'" if isinstance(entry, dict) and isinstance(entry.get("name"), str) \
            else f"kernel entry #{index + 1}"
        if per_target_of:
            problem = f"per_target.{per_target_of}: {problem}"
        where = None
        if at is not None and source is not None:
            table, key, sub = at
            where = source.find(index, prefix + table if table else prefix.rstrip("."), key, sub)
            if where is None and per_target_of:
                where = source.find(index, "kernel." + table if table else "kernel", key, sub)
        if where is not None:
            return EqsatError(f"{who}: {problem}", file=label, line=where[0], column=where[1])
        return EqsatError(f"{who}: {problem}", file=label, line=line, column=column if line else None)

    if not isinstance(entry, dict):
        raise fail("must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name):
        raise fail("needs a 'name' (letters, digits, '_', '-', '.')")
    merged = {**defaults, **entry}
    if "tags" in defaults and "tags" in entry:
        merged["tags"] = list(defaults["tags"]) + list(entry["tags"])

    common = _common_fields(merged, fail)
    if "file" in entry:
        bad = set(entry) - _FILE_KEYS
        if bad:
            raise fail(f"unknown key(s) for a file entry: {', '.join(sorted(bad))}")
        f = entry["file"]
        if not isinstance(f, str) or not (f.endswith(".ttgir") or f.endswith(".ttir")):
            raise fail("'file' must name a .ttgir or .ttir file")
        fp = (base_dir / f).resolve()
        if not fp.is_file():
            raise fail(f"file not found: {f}")
        return KernelSpec(name=name, manifest=label, line=line, file=str(fp), **common)

    bad = set(entry) - _PYTHON_KEYS
    if bad:
        raise fail(f"unknown key(s): {', '.join(sorted(bad))}")
    if ("path" in entry) == ("module" in entry):
        raise fail("needs exactly one of 'file', 'path' or 'module'")
    path = module = None
    if "path" in entry:
        if not isinstance(entry["path"], str) or not entry["path"].endswith(".py"):
            raise fail("'path' must name a .py file relative to the manifest")
        pp = (base_dir / entry["path"]).resolve()
        if not pp.is_file():
            raise fail(f"file not found: {entry['path']}")
        path = str(pp)
    else:
        module = entry["module"]
        if not isinstance(module, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", module):
            raise fail("'module' must be a dotted module name")
    function = entry.get("function")
    if not isinstance(function, str) or not function.isidentifier():
        raise fail("needs a 'function' (the @triton.jit function's name)")

    signature = entry.get("signature")
    if not isinstance(signature, dict) or not signature:
        raise fail("needs a 'signature' table (parameter -> Triton type such as "
                   "\"*fp32\", \"i32\", \"constexpr\")")
    for arg, ty in signature.items():
        if not isinstance(ty, str) or not _valid_type(ty):
            raise fail(f"signature: '{arg}' has unknown type {ty!r}")
    constexprs = entry.get("constexprs", {})
    if not isinstance(constexprs, dict):
        raise fail("'constexprs' must be a table")
    for k in constexprs:
        if k not in signature:
            raise fail(f"constexprs: '{k}' is not in the signature")
        if signature[k] != "constexpr":
            raise fail(f"constexprs: '{k}' has signature type {signature[k]!r}, not \"constexpr\"")
        v = constexprs[k]
        if isinstance(v, str) and v.strip().startswith(("tl.", "triton.language.")) \
                and v.strip() not in DTYPE_CONSTEXPRS:
            raise fail(f"constexprs: '{k}' = {v!r} is not a Triton dtype "
                       f"(known: {', '.join(DTYPE_CONSTEXPRS)})", at=("", "constexprs", k))
        if not isinstance(v, (int, float, bool, str)):
            raise fail(f"constexprs: '{k}' must be a number, a bool or a string (\"tl.float16\" for a dtype)",
                       at=("", "constexprs", k))
    divisible = _name_list(entry, "divisible", fail)
    equal_to_1 = _name_list(entry, "equal_to_1", fail)
    large = _name_list(entry, "large_tensors", fail)
    none = _name_list(entry, "none", fail)
    for k in none:
        if signature.get(k) != "constexpr":
            raise fail(f"none: '{k}' must have signature type \"constexpr\" "
                       "(the JIT passes None as a constexpr)")
        if k in constexprs:
            raise fail(f"'{k}' is listed in both 'none' and 'constexprs'")
    for k in divisible:
        if k not in signature:
            raise fail(f"divisible: '{k}' is not in the signature")
        if not (signature[k].startswith("*") or signature[k] in _INT_TYPES):
            raise fail(f"divisible: '{k}' is {signature[k]!r}; only pointers and integers "
                       "can be 16-divisible")
    for k in equal_to_1:
        if k not in signature:
            raise fail(f"equal_to_1: '{k}' is not in the signature")
        if signature[k] not in _INT_TYPES:
            raise fail(f"equal_to_1: '{k}' is {signature[k]!r}; only integers are folded to 1")
        if k in divisible:
            raise fail(f"'{k}' cannot be both divisible by 16 and equal to 1")
    for k in large:
        if k not in signature or not signature[k].startswith("*"):
            raise fail(f"large_tensors: '{k}' is not a pointer parameter")

    launch = entry.get("launch")
    if launch is None:
        raise fail("needs a [kernel.launch] table (grid and args) to be runnable")
    _check_launch(launch, signature, fail)
    bench = entry.get("bench")
    if bench is not None:
        _check_launch(bench, signature, fail, key="bench")
    shapes = _parse_shapes(entry.get("shapes"), launch, signature, fail)

    per_target = entry.get("per_target", {})
    if per_target_of is not None:
        per_target = {}
    if not isinstance(per_target, dict):
        raise fail("'per_target' must be a table of target name -> overrides")
    for t, over in per_target.items():
        if t not in KNOWN_TARGETS:
            raise fail(f"per_target: unknown target {t!r} (known: {', '.join(KNOWN_TARGETS)})",
                       at=(f"per_target.{t}", "", None))
        if common["targets"] is not None and t not in common["targets"]:
            raise fail(f"per_target: '{t}' is not one of the entry's targets")
        if not isinstance(over, dict):
            raise fail(f"per_target.{t} must be a table")
        bad = set(over) - set(OVERRIDE_REPLACE) - set(OVERRIDE_MERGE) - set(OVERRIDE_LAUNCH) \
            - set(OVERRIDE_SHAPES)
        if bad:
            raise fail(f"per_target.{t}: unknown key(s) {', '.join(sorted(bad))} (it may set "
                       f"{', '.join(OVERRIDE_REPLACE + OVERRIDE_MERGE + OVERRIDE_LAUNCH + OVERRIDE_SHAPES)})")
        for k in (*OVERRIDE_MERGE, *OVERRIDE_LAUNCH):
            if k in over and not isinstance(over[k], dict):
                raise fail(f"per_target.{t}.{k} must be a table")
        resolved = merge_override({k: v for k, v in merged.items() if k != "per_target"}, over)
        _parse_entry(resolved, {}, label, line, base_dir, index, source, per_target_of=t)

    return KernelSpec(name=name, manifest=label, line=line, path=path, module=module, function=function,
                      signature=dict(signature), constexprs=dict(constexprs), divisible=divisible,
                      equal_to_1=equal_to_1, none=none, large_tensors=large, launch=launch, bench=bench,
                      per_target={t: dict(o) for t, o in per_target.items()}, column=column, shapes=shapes,
                      **common)


def resolve_shapes(shapes: Any, launch: dict[str, Any]) -> list[dict[str, Any]]:
    """Declared production shapes as full launch tables over `launch` (grid replaced, args merged argument
    by argument), each with its bucket `name` (default `shape<i>`). No validation: `_parse_shapes`."""
    out = []
    for i, s in enumerate(shapes or []):
        s = s if isinstance(s, dict) else {}
        table: dict[str, Any] = {"name": s.get("name", f"shape{i}"),
                                 "grid": s.get("grid", launch.get("grid"))}
        args = s.get("args", {})
        table["args"] = {**launch.get("args", {}), **(args if isinstance(args, dict) else {})}
        if "allocator" in launch:
            table["allocator"] = launch["allocator"]
        out.append(table)
    return out


def _parse_shapes(shapes: Any, launch: dict[str, Any], signature: dict[str, str], fail: Any
                  ) -> tuple[dict[str, Any], ...]:
    """Validate `[[kernel.shapes]]`: a list of tables with `name`, `grid`, `args`; unique names and
    shapes; each resolved table is checked like a launch table."""
    if shapes is None:
        return ()
    if not isinstance(shapes, list) or not shapes or not all(isinstance(s, dict) for s in shapes):
        raise fail("'shapes' must be a non-empty array of tables ([[kernel.shapes]] with grid and args)",
                   at=("", "shapes", None))
    for i, s in enumerate(shapes):
        bad = set(s) - SHAPE_KEYS
        if bad:
            raise fail(f"shapes[{i}]: unknown key(s) {', '.join(sorted(bad))} (a shape has "
                       f"{', '.join(sorted(SHAPE_KEYS))})", at=("shapes", sorted(bad)[0], None))
        name = s.get("name", f"shape{i}")
        if not isinstance(name, str) or not _SLUG_RE.fullmatch(name) or name in ("buckets", "versions"):
            raise fail(f"shapes[{i}].name must be 1 to 64 letters, digits, '_', '-', '.' (a folder name), "
                       f"not {name!r}", at=("shapes", "name", None))
        if "args" in s and not isinstance(s["args"], dict):
            raise fail(f"shapes[{i}].args must be a table", at=("shapes", "args", None))
    resolved = resolve_shapes(shapes, launch)
    seen: dict[str, int] = {}
    for i, table in enumerate(resolved):
        if table["name"] in seen:
            raise fail(f"shapes[{i}]: duplicate name {table['name']!r}", at=("shapes", "name", None))
        seen[table["name"]] = i
        _check_launch({k: v for k, v in table.items() if k != "name"}, signature, fail, key=f"shapes[{i}]")
        same = next((j for j, other in enumerate(resolved[:i])
                     if {k: v for k, v in other.items() if k != "name"}
                     == {k: v for k, v in table.items() if k != "name"}), None)
        if same is not None:
            raise fail(f"shapes[{i}] is the same launch as shapes[{same}]", at=("shapes", "grid", None))
    return tuple(resolved)


def _common_fields(merged: dict[str, Any], fail: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in (("num_warps", 4), ("num_stages", 3), ("num_ctas", 1)):
        v = merged.get(key, default)
        low = 0 if key == "num_stages" else 1  # num_stages = 0: tuned MI300X configs use it
        if not isinstance(v, int) or isinstance(v, bool) or v < low or v > 64:
            raise fail(f"'{key}' must be an integer in [{low}, 64]", at=("", key, None))
        out[key] = v
    if out["num_warps"] & (out["num_warps"] - 1):
        raise fail("'num_warps' must be a power of two", at=("", "num_warps", None))
    options = merged.get("options", {})
    if not isinstance(options, dict):
        raise fail("'options' must be a table", at=("", "options", None))
    out["options"] = dict(options)
    targets = merged.get("targets")
    if targets is not None:
        if not isinstance(targets, list) or not targets:
            raise fail("'targets' must be a non-empty list of target names", at=("", "targets", None))
        for t in targets:
            if t not in KNOWN_TARGETS:
                raise fail(f"targets: unknown target {t!r} (known: {', '.join(KNOWN_TARGETS)})",
                           at=("", "targets", t))
        targets = tuple(targets)
        if "h100" in targets and "h200" not in targets:
            targets += ("h200",)  # same Triton target
    out["targets"] = targets
    tags = merged.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise fail("'tags' must be a list of strings", at=("", "tags", None))
    out["tags"] = tuple(dict.fromkeys(tags))
    desc = merged.get("description", "")
    if not isinstance(desc, str):
        raise fail("'description' must be a string")
    out["description"] = desc
    return out


def _name_list(entry: dict[str, Any], key: str, fail: Any) -> tuple[str, ...]:
    v = entry.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise fail(f"'{key}' must be a list of parameter names")
    return tuple(v)


def _valid_type(ty: str) -> bool:
    if ty == "constexpr":
        return True
    base = ty.lstrip("*")
    return base in _INT_TYPES or base in _FLOAT_TYPES or base in TRITON_TO_DTYPE


def _check_launch(launch: Any, signature: dict[str, str], fail: Any, key: str = "launch") -> None:
    """Shape and type checks of a launch table (tensor tables, views, inits; every tensor's dtype against
    its parameter's element type). Alignment and divisibility against the specialization need the
    function's JIT flags: `launch.check_consistency`."""
    if not isinstance(launch, dict):
        raise fail(f"'{key}' must be a table")
    bad = set(launch) - {"grid", "args", "allocator"}
    if bad:
        raise fail(f"{key}: unknown key(s) {', '.join(sorted(bad))}", at=(key, sorted(bad)[0], None))
    grid = launch.get("grid")
    if (not isinstance(grid, list) or not 1 <= len(grid) <= 3
            or not all(isinstance(g, int) and not isinstance(g, bool) and 1 <= g < 2**31 for g in grid)):
        raise fail(f"{key}.grid must be a list of 1 to 3 positive integers (below 2**31)",
                   at=(key, "grid", None))
    args = launch.get("args")
    if not isinstance(args, dict):
        raise fail(f"{key}.args must be a table (runtime parameter -> tensor table or scalar)")
    runtime = [k for k, ty in signature.items() if ty != "constexpr"]
    missing = [k for k in runtime if k not in args]
    if missing:
        raise fail(f"{key}.args: missing runtime argument(s) {', '.join(missing)}",
                   at=(f"{key}.args", "", None))
    table = f"{key}.args"
    viewed = {v["view"] for v in args.values() if isinstance(v, dict) and isinstance(v.get("view"), str)}
    for k, v in args.items():
        if k not in signature and isinstance(v, dict) and "view" not in v and k in viewed:
            continue  # a storage tensor that only views of it are passed from (kv_cache -> k, v)
        if k not in signature:
            raise fail(f"{table}: '{k}' is not in the signature", at=(table, k, None))
        ty = signature[k]
        if ty == "constexpr":
            raise fail(f"{table}: '{k}' is a constexpr; give it in 'constexprs'", at=(table, k, None))
        if isinstance(v, dict):
            if not ty.startswith("*"):
                raise fail(f"{table}: '{k}' is a tensor but the signature says {ty!r}", at=(table, k, None))
        elif isinstance(v, (int, float, bool)):
            if ty.startswith("*"):
                raise fail(f"{table}: '{k}' is a number but the signature says {ty!r} (a tensor table)",
                           at=(table, k, None))
            if isinstance(v, float) and not isinstance(v, bool) and ty not in _FLOAT_TYPES:
                raise fail(f"{table}: '{k}' = {v!r} is a float but the signature says {ty!r}",
                           at=(table, k, None))
            if isinstance(v, int) and not isinstance(v, bool) and ty in _FLOAT_TYPES:
                raise fail(f"{table}: '{k}' = {v!r} is an int but the signature says {ty!r} (write {v}.0)",
                           at=(table, k, None))
        else:
            raise fail(f"{table}: '{k}' must be a tensor table or a number", at=(table, k, None))
    for problem in tensor_problems(args):
        k = problem.split("'")[1] if problem.startswith("'") else ""
        sub = next((w for w in ("view", "init", "dtype", "shape", "stride", "offset") if w in problem), None)
        rest = problem[len(k) + 4:] if problem.startswith(f"'{k}': ") else problem
        raise fail(f"{table}.{k}: {rest}" if k else f"{table}: {problem}", at=(table, k, sub))
    for k, v in args.items():
        if isinstance(v, dict) and k in signature:
            elem = TORCH_DTYPES[v["dtype"]][0]
            if signature[k][1:] != elem:
                raise fail(f"{table}: '{k}' has dtype {v['dtype']} ({elem}) but the signature says "
                           f"{signature[k]!r}", at=(table, k, "dtype"))
