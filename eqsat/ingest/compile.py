"""Compile one `KernelSpec` for one target on the CPU, the way Triton's JIT would, with a disk cache.

`compile_spec` builds `ASTSource(fn, signature, constexprs, attrs)` from the spec's specialization
(16-divisible arguments get `tt.divisibility = 16`; integers equal to 1 become constexprs with the value
1 and signature "constexpr"; on AMD, pointers to tensors under 2 GiB get `tt.pointer_range = 32`, as the
JIT does with `AMDGCN_USE_BUFFER_OPS` on by default) and runs `triton.compile(..., target=GPUTarget)`.
A `.ttir`/`.ttgir` file spec is compiled from the file. Every failure becomes an `EqsatError` with one
line naming the manifest, the entry and the problem (for a Triton compile error, its first meaningful
line and the kernel source line it points at).

`compile_spec(..., upto="ttgir")` (what `ingest` uses) stops after Triton's TTGIR stage: the backend's
stages up to `ttgir` run exactly as `triton.compile` runs them (same passes, options and metadata), and
LLVM, PTX/AMDGCN and the binary are never made, so its `asm` is empty. `upto="asm"` (the default) is a
full `triton.compile` with PTX or AMDGCN, for callers that read machine code. The two are cached under
different keys. A compile that runs past `PROGRESS_AFTER_S` seconds prints one line on stderr saying
what is being compiled, and one more when it ends.

Results are cached as JSON under `$EQSAT_CACHE_DIR` (default `~/.cache/eqsat`)/`ingest/`, keyed by a hash
of the kernel function's source and its dependencies (`JITFunction.cache_key`), the spec's parameters,
the target, the Triton version and Triton's cache-invalidating environment variables. Imports only the
standard library and triton (this stage runs on GPU machines without the rest of eqsat's dependencies).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.ingest.manifest import KernelSpec
from eqsat.targets import Target

CACHE_FORMAT = 2
PROGRESS_AFTER_S = 10.0
STAGES = ("ttgir", "asm")
_import_lock = threading.Lock()
_modules: dict[str, Any] = {}


@dataclass
class CompiledArtifacts:
    """The IR of one compiled kernel: TTIR, TTGIR and the target assembly (PTX or AMDGCN) as text."""

    name: str  # the kernel entry's name
    target: str  # our target name (h100, mi300x, ...)
    ttir: str
    ttgir: str
    asm: str  # PTX for cuda targets, AMDGCN for hip targets
    asm_kind: str  # "ptx" or "amdgcn"
    metadata: dict[str, Any] = field(default_factory=dict)  # num_warps, num_stages, shared, function, ...
    cache_key: str = ""
    cached: bool = False
    upto: str = "asm"  # "ttgir": the compile stopped after TTGIR (asm is ""); "asm": full compile

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cached")
        return d


def cache_dir() -> Path:
    """The root of eqsat's disk cache: `$EQSAT_CACHE_DIR` or `~/.cache/eqsat`."""
    return Path(os.environ.get("EQSAT_CACHE_DIR") or Path.home() / ".cache" / "eqsat")


# --------------------------------------------------------------------------------------------- loading


def load_function(spec: KernelSpec) -> Any:
    """Import the spec's module or file and return its `JITFunction` (autotune/heuristics unwrapped)."""
    from triton.runtime.jit import JITFunction

    if spec.path is not None:
        mod = _import_path(spec)
        where = Path(spec.path).name
    else:
        assert spec.module is not None
        where = spec.module
        try:
            with _import_lock:
                mod = importlib.import_module(spec.module)
        except ModuleNotFoundError as e:
            if e.name and spec.module.startswith(e.name):
                raise spec.error(f"module '{spec.module}' is not installed") from None
            raise spec.error(f"importing '{spec.module}' failed: {_first_line(e)}") from None
        except Exception as e:  # noqa: BLE001 - any import-time failure is the kernel's problem
            raise spec.error(f"importing '{spec.module}' failed: {_first_line(e)}") from None
    obj = getattr(mod, spec.function or "", None)
    if obj is None:
        raise spec.error(f"function '{spec.function}' not found in {where}")
    seen = 0
    while not isinstance(obj, JITFunction) and hasattr(obj, "fn") and seen < 8:
        obj = obj.fn  # Autotuner / Heuristics wrap the JITFunction
        seen += 1
    if not isinstance(obj, JITFunction):
        raise spec.error(f"'{spec.function}' in {where} is not a @triton.jit function")
    return obj


def _import_path(spec: KernelSpec) -> Any:
    assert spec.path is not None
    key = spec.path
    with _import_lock:
        if key in _modules:
            return _modules[key]
        stem = re.sub(r"\W", "_", Path(key).stem)
        modname = f"eqsat_corpus_{hashlib.sha1(key.encode()).hexdigest()[:10]}_{stem}"
        try:
            loader_spec = importlib.util.spec_from_file_location(modname, key)
            if loader_spec is None or loader_spec.loader is None:
                raise spec.error(f"cannot import {Path(key).name}")
            mod = importlib.util.module_from_spec(loader_spec)
            sys.modules[modname] = mod
            loader_spec.loader.exec_module(mod)
        except EqsatError:
            raise
        except SyntaxError as e:
            sys.modules.pop(modname, None)
            raise EqsatError(f"kernel '{spec.name}': syntax error in {Path(key).name}: {e.msg}",
                             file=key, line=e.lineno) from None
        except Exception as e:  # noqa: BLE001
            sys.modules.pop(modname, None)
            raise spec.error(f"importing {Path(key).name} failed: {_first_line(e)}") from None
        _modules[key] = mod
        return mod


# --------------------------------------------------------------------------------------------- keys


def _env_key() -> dict[str, str]:
    try:
        from triton._C.libtriton import get_cache_invalidating_env_vars

        return dict(sorted(get_cache_invalidating_env_vars().items()))
    except Exception:  # noqa: BLE001 - older/newer tritons: fall back to nothing
        return {}


def cache_key(spec: KernelSpec, target: Target, fn: Any | None = None, upto: str = "asm") -> str:
    """Content hash of everything that decides the compiled IR of `spec` on `target`, and of how far the
    compile went (`upto`: a TTGIR-only artifact never answers a request for machine code)."""
    import triton

    if spec.file is not None:
        try:
            src_key = hashlib.sha256(Path(spec.file).read_bytes()).hexdigest()
        except OSError as e:
            raise spec.error(f"cannot read {spec.file}: {e.strerror}") from None
    else:
        fn = fn if fn is not None else load_function(spec)
        src_key = fn.cache_key
    payload = {
        "format": CACHE_FORMAT,
        "triton": triton.__version__,
        "target": target.triton_name,
        "src": src_key,
        "spec": spec.params() if spec.file is None else {
            "num_warps": spec.num_warps, "num_stages": spec.num_stages, "num_ctas": spec.num_ctas,
            "options": {k: repr(v) for k, v in sorted(spec.options.items())}},
        "env": _env_key(),
        "upto": upto,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _cache_path(key: str) -> Path:
    return cache_dir() / "ingest" / key[:2] / f"{key}.json"


def _cache_get(key: str) -> CompiledArtifacts | None:
    p = _cache_path(key)
    try:
        data = json.loads(p.read_text())
        return CompiledArtifacts(**data, cached=True)
    except (OSError, ValueError, TypeError):
        return None


def _cache_put(art: CompiledArtifacts) -> None:
    p = _cache_path(art.cache_key)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(art.to_json(), f)
        os.replace(tmp, p)
    except OSError:
        pass  # a cache that cannot be written is only slower


# --------------------------------------------------------------------------------------------- compile


def ast_source_args(spec: KernelSpec, fn: Any, target: Target) -> tuple[dict[str, str], dict[str, Any],
                                                                         dict[tuple[int, ...], list[Any]]]:
    """`(signature, constexprs, attrs)` for `ASTSource`, exactly as Triton 3.6's JIT specializes a launch."""
    names = list(fn.arg_names)
    missing = [n for n in names if n not in spec.signature]
    extra = [n for n in spec.signature if n not in names]
    if extra:
        raise spec.error(f"signature names unknown parameter(s) {', '.join(extra)} of '{spec.function}' "
                         f"(parameters: {', '.join(names)})")
    signature: dict[str, str] = {}
    constexprs: dict[str, Any] = {}
    attrs: dict[tuple[int, ...], list[Any]] = {}
    params = {p.name: p for p in fn.params}
    flags = jit_flags(fn)
    annotations = jit_annotations(fn)
    for n, a in annotations.items():
        if n in spec.equal_to_1:
            raise spec.error(f"'{n}' is listed in 'equal_to_1' but '{spec.function}' annotates it {a}: the "
                             "JIT never folds an annotated parameter")
        if n in spec.signature and spec.signature[n] != a:
            raise spec.error(f"'{n}' is annotated {a} in '{spec.function}' (the JIT types it so) but the "
                             f"signature says {spec.signature[n]!r}")
    for n in spec.divisible:
        if n in flags["no_specialize"] or n in flags["no_align"]:
            raise spec.error(f"'{n}' is listed in 'divisible' but '{spec.function}' marks it "
                             "do_not_specialize(_on_alignment): the JIT never does")
    for n in spec.equal_to_1:
        if n in flags["no_specialize"]:
            raise spec.error(f"'{n}' is listed in 'equal_to_1' but '{spec.function}' marks it "
                             "do_not_specialize: the JIT never does")
    for i, n in enumerate(names):
        ty = spec.signature.get(n)
        if ty is None:
            p = params.get(n)
            if p is not None and p.is_constexpr and p.has_default:
                ty = "constexpr"
            else:
                raise spec.error(f"signature is missing parameter(s) {', '.join(missing)} "
                                 f"of '{spec.function}'")
        if ty == "constexpr":
            signature[n] = "constexpr"
            if n in spec.none:
                constexprs[n] = None
            elif n in spec.constexprs:
                constexprs[n] = constexpr_value(spec.constexprs[n])
            elif params[n].has_default:
                d = params[n].default
                constexprs[n] = getattr(d, "value", d)
            else:
                raise spec.error(f"constexpr '{n}' has no value in 'constexprs'")
            continue
        if n in spec.equal_to_1:
            signature[n] = "constexpr"
            constexprs[n] = 1
            continue
        signature[n] = ty
        a: list[Any] = []
        if n in spec.divisible:
            a.append(["tt.divisibility", 16])
        if target.backend == "hip" and ty.startswith("*") and n not in spec.large_tensors:
            a.append(["tt.pointer_range", 32])
        if a:
            attrs[(i,)] = a
    return signature, constexprs, attrs


def constexpr_value(value: Any) -> Any:
    """A manifest constexpr as the JIT receives it: `"tl.bfloat16"` -> `triton.language.bfloat16` (the
    names in `manifest.DTYPE_CONSTEXPRS`); every other value as it is."""
    if isinstance(value, str):
        from eqsat.ingest.manifest import DTYPE_CONSTEXPRS

        name = value.strip()
        if name.startswith("triton.language."):
            name = "tl." + name[len("triton.language."):]
        if name in DTYPE_CONSTEXPRS:
            import triton.language as tl

            return getattr(tl, name[3:])
    return value


def constexpr_values(spec: KernelSpec) -> dict[str, Any]:
    """The spec's constexprs as the JIT receives them (dtype names made `tl.dtype`), plus None ones."""
    out = {k: constexpr_value(v) for k, v in spec.constexprs.items()}
    out.update({k: None for k in spec.none})
    return out


def jit_annotations(fn: Any) -> dict[str, str]:
    """Runtime parameters a JITFunction annotates with a Triton type (`x: tl.int64` -> `"i64"`,
    `p: "*fp32"`): the JIT types them by the annotation and never folds them to 1."""
    out: dict[str, str] = {}
    for p in fn.params:
        if p.is_constexpr:
            continue
        a = getattr(p, "annotation_type", "")
        if isinstance(a, str) and a:
            out[p.name] = a
    return out


def jit_flags(fn: Any) -> dict[str, frozenset[str]]:
    """The parameters a JITFunction marks `do_not_specialize` / `do_not_specialize_on_alignment`."""
    return {
        "no_specialize": frozenset(p.name for p in fn.params if p.do_not_specialize),
        "no_align": frozenset(p.name for p in fn.params if p.do_not_specialize_on_alignment),
    }


def compile_spec(spec: KernelSpec, target: Target, use_cache: bool = True,
                 upto: str = "asm") -> CompiledArtifacts:
    """Compile `spec` for `target` (no GPU needed); raises `EqsatError` with one clear line on failure.

    `upto="ttgir"` stops after the TTGIR stage (no LLVM, no PTX/AMDGCN: `asm` is ""); `upto="asm"` is a
    full `triton.compile`."""
    if upto not in STAGES:
        raise ValueError(f"upto must be one of {STAGES}, got {upto!r}")
    if not spec.supports(target.name):
        raise spec.error(f"not meant for target '{target.name}' (targets: {', '.join(spec.targets or ())})")
    spec = spec.for_target(target.name)
    fn = load_function(spec) if spec.file is None else None
    key = cache_key(spec, target, fn, upto)
    if use_cache:
        hit = _cache_get(key)
        if hit is not None and hit.upto == upto:
            return hit
    with _Progress(spec, target, upto):
        art = _compile(spec, target, fn, upto)
    art.cache_key = key
    if use_cache:
        _cache_put(art)
    return art


class _Progress:
    """One stderr line when a compile is still running after `PROGRESS_AFTER_S`, one when it ends."""

    def __init__(self, spec: KernelSpec, target: Target, upto: str) -> None:
        how = "TTGIR only" if upto == "ttgir" else "to PTX" if target.backend == "cuda" else "to AMDGCN"
        self.what = f"eqsat: compiling kernel '{spec.name}' ({spec.source_label}) for {target.name} ({how})"
        self.timer: threading.Timer | None = None
        self.fired = False
        self.t0 = 0.0

    def _fire(self) -> None:
        self.fired = True
        print(f"{self.what}: still running after {PROGRESS_AFTER_S:.0f} s ...", file=sys.stderr, flush=True)

    def __enter__(self) -> _Progress:
        self.t0 = time.monotonic()
        if PROGRESS_AFTER_S >= 0:
            self.timer = threading.Timer(PROGRESS_AFTER_S, self._fire)
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.fired:
            how = "failed" if exc[0] is not None else "done"
            print(f"{self.what}: {how} after {time.monotonic() - self.t0:.1f} s", file=sys.stderr, flush=True)


def compile_to_ttgir(src: Any, target: Any, options: dict[str, Any]) -> dict[str, str]:
    """Triton 3.6's `compiler.compile` up to and including the TTGIR stage: `{"ttir": ..., "ttgir": ...}`.

    The same backend, option parsing, `make_ir` and stage functions as `triton.compile` (the stages dict
    that `backend.add_stages` fills, run in order, stopping after `ttgir`); no Triton cache is read or
    written. `src` is an `ASTSource` or the path of a `.ttir`/`.ttgir` file.
    """
    from triton import __version__
    from triton._C.libtriton import ir
    from triton.compiler.compiler import ASTSource, IRSource, make_backend

    backend = make_backend(target)
    ir_source = not isinstance(src, ASTSource)
    context = ir.context()
    if ir_source:
        src = IRSource(str(src), context, backend)
    else:
        ir.load_dialects(context)
        backend.load_dialects(context)
    opts = backend.parse_options(dict(options or {}, **src.parse_options()))
    stages: dict[str, Any] = {}
    backend.add_stages(stages, opts, src.language)
    names = list(stages)
    first = names.index(src.ext) + (1 if ir_source else 0)
    metadata: dict[str, Any] = {"hash": "", "target": target, **opts.__dict__, **_env_key(),
                                "triton_version": __version__}
    module = src.make_ir(target, opts, backend.get_codegen_implementation(opts), backend.get_module_map(),
                         context)
    texts: dict[str, str] = {}
    if ir_source:
        texts[src.ext] = str(module)
    if "ttgir" in names and names.index("ttgir") >= first:
        for ext in names[first:names.index("ttgir") + 1]:
            module = stages[ext](module, metadata)
            texts[ext] = str(module)
    texts["_num_warps"] = str(metadata.get("num_warps", opts.num_warps))
    texts["_num_stages"] = str(opts.num_stages)
    texts["_num_ctas"] = str(opts.num_ctas)
    return texts


def _compile(spec: KernelSpec, target: Target, fn: Any | None, upto: str = "asm") -> CompiledArtifacts:
    import triton
    from triton.compiler import ASTSource

    options: dict[str, Any] = {"num_warps": spec.num_warps, "num_stages": spec.num_stages,
                               "num_ctas": spec.num_ctas, **spec.options}
    if spec.file is not None:
        src: Any = spec.file
        if spec.file.endswith(".ttgir"):
            text = Path(spec.file).read_text()
            m = re.search(r'"?ttg\.target"?\s*=\s*"([^"]+)"', text)
            if m and m.group(1) != target.triton_name:
                raise spec.error(f"{Path(spec.file).name} is TTGIR for {m.group(1)}, "
                                 f"not {target.triton_name} ({target.name})")
            options = {k: v for k, v in options.items() if k not in ("num_warps", "num_ctas")}
    else:
        signature, constexprs, attrs = ast_source_args(spec, fn, target)
        src = ASTSource(fn, signature, constexprs, attrs)
    if upto == "ttgir":
        return _ttgir_only(spec, target, src, options)
    try:
        compiled = triton.compile(src, target=target.gpu_target(), options=options)
    except Exception as e:  # noqa: BLE001 - every compile failure becomes one line
        raise _compile_error(spec, e) from None
    asm = compiled.asm
    asm_kind = "ptx" if target.backend == "cuda" else "amdgcn"
    md = compiled.metadata
    metadata = {
        "function": getattr(md, "name", None),
        "num_warps": getattr(md, "num_warps", None),
        "num_stages": getattr(md, "num_stages", None),
        "num_ctas": getattr(md, "num_ctas", None),
        "shared": getattr(md, "shared", None),
        "triton_version": triton.__version__,
        "triton_target": target.triton_name,
        "source": spec.source_label,
    }
    ttgir = asm.get("ttgir")
    if ttgir is None and spec.file is not None:
        ttgir = Path(spec.file).read_text()
    return CompiledArtifacts(name=spec.name, target=target.name, ttir=_text(asm.get("ttir", "")),
                             ttgir=_text(ttgir or ""), asm=_text(asm.get(asm_kind, "")), asm_kind=asm_kind,
                             metadata=metadata, upto="asm")


def _ttgir_only(spec: KernelSpec, target: Target, src: Any, options: dict[str, Any]) -> CompiledArtifacts:
    import triton

    try:
        texts = compile_to_ttgir(src, target.gpu_target(), options)
    except Exception as e:  # noqa: BLE001 - every compile failure becomes one line
        raise _compile_error(spec, e) from None
    ttgir = texts.get("ttgir")
    if ttgir is None and spec.file is not None:
        ttgir = Path(spec.file).read_text()
    m = re.search(r"tt\.func\s+(?:public\s+|private\s+)?@([\w.$-]+)", ttgir or "")
    metadata = {
        "function": m.group(1) if m else None,
        "num_warps": int(texts["_num_warps"]),
        "num_stages": int(texts["_num_stages"]),
        "num_ctas": int(texts["_num_ctas"]),
        "shared": None,  # decided by shared-memory allocation in the LLVM stage, which never runs here
        "triton_version": triton.__version__,
        "triton_target": target.triton_name,
        "source": spec.source_label,
    }
    asm_kind = "ptx" if target.backend == "cuda" else "amdgcn"
    return CompiledArtifacts(name=spec.name, target=target.name, ttir=texts.get("ttir", ""),
                             ttgir=ttgir or "", asm="", asm_kind=asm_kind, metadata=metadata, upto="ttgir")


def _text(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


# --------------------------------------------------------------------------------------------- errors


def _first_line(e: BaseException) -> str:
    """The first meaningful line of an exception's message (or its type name)."""
    for line in str(e).splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ")) and not re.fullmatch(r"at \d+:\d+:", line):
            return line if len(line) <= 300 else line[:297] + "..."
    return type(e).__name__


def _compile_error(spec: KernelSpec, e: BaseException) -> EqsatError:
    from triton.compiler.errors import CompilationError

    if isinstance(e, CompilationError):
        inner: BaseException = e
        # Errors in called @jit functions nest; the innermost one with a message says what is wrong.
        while True:
            nxt = inner.__cause__ or inner.__context__
            if isinstance(nxt, CompilationError):
                inner = nxt
            else:
                break
        err = e if getattr(e, "error_message", None) and not getattr(inner, "error_message", None) else inner
        msg = getattr(err, "error_message", None)
        if not msg:
            cause = err.__cause__ or err.__context__
            msg = _first_line(cause) if cause is not None else type(err).__name__
        msg = _first_line(Exception(msg))
        where = _source_location(spec, err)
        return spec.error(f"does not compile{where}: {msg}{_string_constexpr_hint(spec, msg)}")
    text = _first_line(e)
    if text == "PassManager::run failed":
        text = "an MLIR pass failed (PassManager::run failed; Triton prints the diagnostic on stderr)"
    return spec.error(f"does not compile: {type(e).__name__}: {text}" if type(e).__name__ not in text
                      else f"does not compile: {text}")


def _string_constexpr_hint(spec: KernelSpec, msg: str) -> str:
    """A hint when a string constexpr was used where Triton wanted a dtype (`'str' object has no ...`)."""
    if "'str' object" not in msg:
        return ""
    names = [k for k, v in spec.constexprs.items() if isinstance(v, str)]
    if not names:
        return ""
    k = names[0]
    return (f" (constexpr '{k}' is the string {spec.constexprs[k]!r}; a Triton dtype is written "
            f"\"tl.<name>\", e.g. \"tl.bfloat16\")")


def _source_location(spec: KernelSpec, err: Any) -> str:
    """` at gather.py:42` for a CompilationError whose function source is found in the kernel's file."""
    node = getattr(err, "node", None)
    src = getattr(err, "src", None)
    lineno = getattr(node, "lineno", None)
    if not src or lineno is None:
        return ""
    path = spec.path
    if path is None and spec.module is not None:
        mod = sys.modules.get(spec.module)
        path = getattr(mod, "__file__", None)
    if not path:
        return ""
    try:
        text = Path(path).read_text()
    except OSError:
        return ""
    first = src.splitlines()[0].strip() if src.splitlines() else ""
    idx = text.find(first) if first else -1
    if idx < 0:
        return ""
    start = text.count("\n", 0, idx) + 1
    return f" at {Path(path).name}:{start + lineno - 1}"
