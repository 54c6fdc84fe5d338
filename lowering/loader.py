"""The runtime loader: a plan folder's `optimized.ttgir` compiled by Triton, called like the original kernel.

    k = load("run/copy_2d/h100")              # triton.compile(optimized.ttgir, target=GPUTarget(...))
    k(x, y, 1024, 1024, grid=(16, 8, 1))      # the ORIGINAL kernel's runtime arguments, in order

The original kernel's runtime parameters are its signature's non-constexpr ones (`spec.json`). The JIT
folds some of them into the code: integers equal to 1 (`equal_to_1`) become constants, and constexpr
parameters (also those passed as None) are never runtime arguments. The compiled TTGIR takes the rest,
in order; `load` checks that count, names (where the TTGIR keeps them) and types agree with the spec.
A call may pass arguments by position or by name, may repeat constexprs by name (they must equal the
compiled values), and is checked against the specialization: a folded argument must be 1, and an
argument compiled as 16-divisible must be (pointer address or integer value). Without `spec.json` (IR-file
kernels) the runtime arguments are the TTGIR function's arguments.

Dispatch at call time. `load` compiles every kernel the plan folder holds and picks one per call:

    bucket   = the shape bucket whose production shape equals the call's integer arguments and grid, else
               the nearest in log2 distance over them (ties to the earlier bucket; primary first);
               one bucket when the kernel was planned at one shape (lowering/rundir.py, plan_buckets)
    version  = the first of the bucket's plan.json `versions` whose guards all hold on the call's
               arguments (lowering/specialize.py guards_hold: divisible, equal, at_most, aligned; as
               Triton's JIT checks divisibility, on the integer value or the tensor's data_ptr())
    fallback = the bucket's `optimized.ttgir` (unguarded) when no version's guards hold

Device verification (lowering/verified.py). A version's compiled arithmetic can differ from the fallback's
(LLVM contracts and schedules a vectorized body differently: the project LayerNorm's `n_cols%8` version
was 1 ulp off on 113 of 25.3M outputs on an H200), and nothing on the CPU can prove it identical. So
`load(plan_dir, versions=...)` takes a policy:

    "verified" (default)   a version is dispatched only where its folder's `verified.json` says
                           `bit_identical: true` for its slug (same TTGIR text, same Triton version);
                           otherwise its calls take the next version or the fallback, and `select()`'s
                           `reason` says why: `version n_cols%8 unverified (...)` / `... failed device check`
    "all"                  every version whose guards hold (benchmarking unverified candidates)
    "none"                 the fallback always

Every choice is correct for every call (a version is only taken under its guards; every bucket's plan is
valid at any shape); the choice only decides speed. `k.select(*args, grid=...)` says what a call would
launch without launching it (a `Selection`: bucket, version, kernel, bound arguments, reason); identical TTGIR
texts are compiled once.

Kernels that need a global scratch buffer (in-kernel TMA descriptors) get a torch allocator through
`triton.set_allocator` unless one is set. Imports only the standard library, triton and (at call time)
torch, plus `eqsat.ingest`: never xdsl or egglog, so it runs on GPU machines.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from eqsat.lowering.irtext import entry_arguments, triton_target
from eqsat.lowering.rundir import REPO_ROOT, plan_buckets, read_json, read_spec
from eqsat.lowering.specialize import GUARD_KINDS, guards_hold
from eqsat.lowering.verified import read_verified

from eqsat.errors import EqsatError
from eqsat.ingest.compile import constexpr_value
from eqsat.ingest.manifest import KernelSpec
from eqsat.targets import get_target

# MLIR element type names (IRSource signatures) -> Triton's (JIT signatures, manifests)
_MLIR_TO_TRITON = {"f16": "fp16", "bf16": "bf16", "f32": "fp32", "f64": "fp64",
                   "f8E4M3FN": "fp8e4nv", "f8E5M2": "fp8e5"}


def triton_type(ty: str) -> str:
    """`*f32` -> `*fp32`, `f16` -> `fp16`; Triton names and integer types stay as they are."""
    ptr = ty.startswith("*")
    base = ty[1:] if ptr else ty
    return ("*" if ptr else "") + _MLIR_TO_TRITON.get(base, base)


@dataclass(frozen=True)
class ArgumentMap:
    """How the original kernel's runtime arguments map onto the compiled kernel's arguments."""

    runtime: tuple[str, ...]  # the original kernel's runtime parameters, in signature order
    passed: tuple[str, ...]  # the compiled kernel's arguments (a subsequence of `runtime`)
    folded: dict[str, Any] = field(default_factory=dict)  # runtime parameters the JIT folded -> value
    constexprs: dict[str, Any] = field(default_factory=dict)  # constexpr parameters -> compiled value
    divisible: frozenset[str] = frozenset()
    types: dict[str, str] = field(default_factory=dict)  # passed parameter -> Triton type

    def bind(self, args: Sequence[Any], kwargs: dict[str, Any], label: str) -> list[Any]:
        """The compiled kernel's argument list for a call `k(*args, **kwargs)`; raises `EqsatError`."""
        values = self.values(args, kwargs, label)
        return [values[n] for n in self.passed]

    def values(self, args: Sequence[Any], kwargs: dict[str, Any], label: str) -> dict[str, Any]:
        """Every runtime argument of a call by name, checked against the specialization."""
        if len(args) > len(self.runtime):
            raise EqsatError(f"takes {len(self.runtime)} runtime argument(s) "
                             f"({', '.join(self.runtime)}), got {len(args)}", file=label)
        if not args and kwargs.keys() == self._runtime_set:  # all by name, nothing else: the common call
            values = dict(kwargs)
        else:
            values = self._general(args, kwargs, label)
        for name, folded in self.folded.items():
            if not _same(values[name], folded):
                raise EqsatError(f"'{name}' was folded to {folded!r} when the kernel was compiled, "
                                 f"got {values[name]!r}", file=label)
        for name in self.divisible:
            if name in values and not _divisible_by_16(values[name]):
                raise EqsatError(f"'{name}' was compiled as 16-divisible (tt.divisibility = 16), got "
                                 f"{_describe(values[name])}", file=label)
        return values

    @functools.cached_property
    def _runtime_set(self) -> frozenset[str]:
        return frozenset(self.runtime)

    def _general(self, args: Sequence[Any], kwargs: dict[str, Any], label: str) -> dict[str, Any]:
        values = dict(zip(self.runtime, args, strict=False))
        for name, value in kwargs.items():
            if name in self.constexprs:
                if not _same(value, self.constexprs[name]):
                    raise EqsatError(f"constexpr '{name}' was compiled as {self.constexprs[name]!r}, "
                                     f"got {value!r}", file=label)
                continue
            if name not in self._runtime_set:
                raise EqsatError(f"unknown argument '{name}' (runtime arguments: "
                                 f"{', '.join(self.runtime)})", file=label)
            if name in values:
                raise EqsatError(f"argument '{name}' given twice", file=label)
            values[name] = value
        missing = [n for n in self.runtime if n not in values]
        if missing:
            raise EqsatError(f"missing runtime argument(s) {', '.join(missing)}", file=label)
        return values


def _same(a: Any, b: Any) -> bool:
    return a is b or (a is not None and b is not None and a == b)


def _divisible_by_16(value: Any) -> bool:
    if hasattr(value, "data_ptr"):
        return value.data_ptr() % 16 == 0
    if isinstance(value, bool) or not isinstance(value, int):
        return True  # floats are never specialized
    return value % 16 == 0


def _describe(value: Any) -> str:
    if hasattr(value, "data_ptr"):
        return f"a pointer at 0x{value.data_ptr():x}"
    return repr(value)


def argument_map(spec: KernelSpec | None, ttgir: str, ir_types: Sequence[str], label: str) -> ArgumentMap:
    """Map the original runtime arguments (`spec`, or the TTGIR function's without one) onto the compiled
    kernel's (`ir_types`: its IRSource signature); raises `EqsatError` where the two disagree."""
    try:
        _, ir_names = entry_arguments(ttgir)
    except ValueError as e:
        raise EqsatError(str(e), file=label) from None
    types = [triton_type(t) for t in ir_types]
    if len(ir_names) != len(types):
        raise EqsatError(f"the TTGIR function has {len(ir_names)} arguments but Triton reads "
                         f"{len(types)}", file=label)
    if spec is None:
        return ArgumentMap(runtime=tuple(ir_names), passed=tuple(ir_names), types=dict(zip(ir_names, types,
                                                                                            strict=True)))
    runtime = tuple(n for n, ty in spec.signature.items() if ty != "constexpr")
    folded = {n: 1 for n in runtime if n in spec.equal_to_1}
    passed = tuple(n for n in runtime if n not in folded)
    constexprs = {n: (None if n in spec.none else constexpr_value(spec.constexprs.get(n)))
                  for n, ty in spec.signature.items() if ty == "constexpr"}
    if len(passed) != len(types):
        raise EqsatError(f"kernel '{spec.name}': the spec has {len(passed)} runtime argument(s) after "
                         f"folding ({', '.join(passed)}) but the TTGIR function takes {len(types)} "
                         f"({', '.join(ir_names)})", file=label)
    generic = all(n.startswith("arg") and n[3:].isdigit() for n in ir_names)
    if not generic and list(passed) != ir_names:
        raise EqsatError(f"kernel '{spec.name}': the TTGIR function's arguments ({', '.join(ir_names)}) "
                         f"are not the spec's runtime arguments ({', '.join(passed)})", file=label)
    for name, ty in zip(passed, types, strict=True):
        want = spec.signature[name]
        if ty != want:
            raise EqsatError(f"kernel '{spec.name}': argument '{name}' is {want} in the spec but {ty} in "
                             "the TTGIR", file=label)
    return ArgumentMap(runtime=runtime, passed=passed, folded=folded, constexprs=constexprs,
                       divisible=frozenset(spec.divisible), types=dict(zip(passed, types, strict=True)))


class OptimizedKernel:
    """A compiled `optimized.ttgir`, launched with the original kernel's runtime arguments and a grid."""

    def __init__(self, name: str, target: str, path: Path, compiled: Any, args: ArgumentMap,
                 spec: KernelSpec | None) -> None:
        self.name = name
        self.target = target
        self.path = path
        self.compiled = compiled  # triton.compiler.CompiledKernel
        self.args = args
        self.spec = spec
        self._runners: dict[tuple[int, int, int], Callable[..., None]] = {}

    def __repr__(self) -> str:
        return f"OptimizedKernel({self.name!r}, {self.target}, ({', '.join(self.args.runtime)}))"

    def launcher(self, *args: Any, grid: Sequence[int], **kwargs: Any) -> Callable[[], None]:
        """Check and bind a call once; the returned function launches it (for timing loops)."""
        grid3 = _grid3(grid, str(self.path))
        bound = self.args.bind(args, kwargs, str(self.path))
        runner = self.runner(grid3)
        return lambda: runner(*bound)

    def runner(self, grid3: tuple[int, int, int]) -> Callable[..., None]:
        """`compiled[grid]` (needs a GPU), kept per grid so that repeated calls do not rebuild it."""
        got = self._runners.get(grid3)
        if got is None:
            if getattr(self.compiled.metadata, "global_scratch_size", 0):
                ensure_allocator()
            got = self._runners[grid3] = self.compiled[grid3]
        return got

    def __call__(self, *args: Any, grid: Sequence[int], **kwargs: Any) -> None:
        self.launcher(*args, grid=grid, **kwargs)()


def ensure_allocator() -> None:
    """Give Triton a torch allocator for kernels' global scratch (TMA descriptors) unless one is set."""
    import triton
    from triton.runtime import _allocation

    if isinstance(_allocation._allocator.get(), _allocation.NullAllocator):
        triton.set_allocator(torch_allocator)


def torch_allocator(size: int, alignment: int, stream: Any) -> Any:
    import torch

    return torch.empty(size, device="cuda", dtype=torch.int8)


def compile_ttgir(path: Path, target_name: str, spec: KernelSpec | None) -> Any:
    """`triton.compile` of a TTGIR file for our target name; one `EqsatError` line on failure."""
    import triton

    target = get_target(target_name)
    text = path.read_text()
    stated = triton_target(text)
    if stated is not None and stated != target.triton_name:
        raise EqsatError(f"TTGIR is for {stated}, not {target.triton_name} ({target_name})", file=str(path))
    options: dict[str, Any] = {}
    if spec is not None:
        options = {"num_stages": spec.num_stages, **spec.options}
    try:
        compiled = triton.compile(str(path), target=target.gpu_target(), options=options)
    except Exception as e:  # noqa: BLE001 - any compile failure is one line
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise EqsatError(f"does not compile: {type(e).__name__}: {first[:300]}", file=str(path)) from None
    # The launcher reads `src.signature`; MLIR scalar names (f16, f64) are not all known to it.
    compiled.src.signature = {k: triton_type(v) for k, v in compiled.src.signature.items()}
    return compiled


_GRIDS: dict[Any, tuple[int, int, int]] = {}  # checked grids (a call's grid is usually one seen before)


def _grid3(grid: Sequence[int], label: str) -> tuple[int, int, int]:
    if type(grid) is tuple:
        known = _GRIDS.get(grid)
        if known is not None:
            return known
    grid3 = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
    if len(grid3) != 3 or any(g < 1 for g in grid3):
        raise EqsatError(f"grid must be 1 to 3 positive integers, got {tuple(grid)}", file=label)
    if type(grid) is tuple and all(type(g) is int for g in grid) and len(_GRIDS) < 4096:
        _GRIDS[grid] = grid3  # type: ignore[assignment]
    return grid3  # type: ignore[return-value]


def load_ttgir(path: Path, target_name: str, spec: KernelSpec | None, name: str,
               compiled_by_text: dict[str, Any] | None = None) -> OptimizedKernel:
    """One TTGIR file compiled and mapped onto the original kernel's arguments (identical texts compiled
    once through `compiled_by_text`)."""
    text = path.read_text()
    cache = compiled_by_text if compiled_by_text is not None else {}
    compiled = cache.get(text)
    if compiled is None:
        compiled = cache[text] = compile_ttgir(path, target_name, spec)
    amap = argument_map(spec, text, list(compiled.src.signature.values()), str(path))
    return OptimizedKernel(name, target_name, path, compiled, amap, spec)


@dataclass(frozen=True)
class Version:
    """A guarded version of a plan: its kernel runs when every guard holds on the call's arguments."""

    name: str
    guards: tuple[dict[str, Any], ...]
    kernel: OptimizedKernel
    predicted_ns: float | None = None
    fallback_ns: float | None = None
    slug: str = ""
    check: str = "unverified"  # the device check (lowering/verified.py): verified | failed | unverified
    check_why: str = ""
    dispatched: bool = True  # taken when its guards hold, under the load's `versions` policy
    skip_reason: str = ""  # the Selection reason when its guards hold but it is not dispatched


@dataclass
class Bucket:
    """One shape bucket of a plan folder: its production shape, versions and unguarded fallback."""

    name: str
    plan_dir: Path
    launch: dict[str, Any] | None
    versions: list[Version]
    fallback: OptimizedKernel
    no_version_reason: str = "no version's guards hold"

    def shape(self) -> tuple[dict[str, int], tuple[int, ...]]:
        """(integer arguments, grid) of its production shape."""
        if not self.launch:
            return {}, ()
        ints = {k: v for k, v in self.launch.get("args", {}).items()
                if isinstance(v, int) and not isinstance(v, bool)}
        grid = tuple(self.launch.get("grid", [])) + (1,) * (3 - len(self.launch.get("grid", [])))
        return ints, grid


class Selection(NamedTuple):
    """What one call launches: the bucket, the version (None: the fallback), the kernel, its arguments."""

    bucket: str
    version: str | None
    kernel: OptimizedKernel
    bound: list[Any]
    grid: tuple[int, int, int]
    reason: str = ""  # why this kernel: the version's device check, or why the fallback runs


def _log_distance(a: int, b: int) -> float:
    return abs(math.log2(max(1, abs(a))) - math.log2(max(1, abs(b)))) + (0.0 if a == b else 1e-9)


def pick_bucket(buckets: Sequence[Bucket], values: dict[str, Any], grid3: tuple[int, int, int]) -> Bucket:
    """The bucket whose production shape is nearest the call (module doc); the first on ties."""
    if len(buckets) == 1:
        return buckets[0]
    best, best_d = buckets[0], math.inf
    for b in buckets:
        ints, grid = b.shape()
        d = sum(_log_distance(int(values[k]), v) for k, v in ints.items()
                if isinstance(values.get(k), int) and not isinstance(values.get(k), bool))
        d += sum(_log_distance(g, h) for g, h in zip(grid3, grid, strict=False))
        if d < best_d:
            best, best_d = b, d
    return best


class DispatchingKernel:
    """The kernels of a plan folder (every shape bucket's versions and fallback), one picked per call."""

    def __init__(self, name: str, target: str, spec: KernelSpec | None, buckets: list[Bucket]) -> None:
        self.name = name
        self.target = target
        self.spec = spec
        self.buckets = buckets
        primary = buckets[0].fallback
        self.path = primary.path
        self.compiled = primary.compiled  # the primary bucket's fallback (unguarded optimized.ttgir)
        self.args = primary.args
        self.label = str(self.path)
        # the integer arguments a bucket's shape names: the bucket pick is a function of them and the grid
        self._int_args = tuple(sorted({n for bk in buckets for n in bk.shape()[0]}))
        self._picked: dict[tuple[Any, ...], Bucket] = {}

    def __repr__(self) -> str:
        versions = sum(len(b.versions) for b in self.buckets)
        return (f"DispatchingKernel({self.name!r}, {self.target}, ({', '.join(self.args.runtime)}), "
                f"{len(self.buckets)} bucket(s), {versions} version(s))")

    def select(self, *args: Any, grid: Sequence[int], **kwargs: Any) -> Selection:
        """The bucket, version and kernel a call `k(*args, grid=grid, **kwargs)` launches (no launch)."""
        grid3 = _grid3(grid, self.label)
        values = self.args.values(args, kwargs, self.label)
        if len(self.buckets) == 1:
            return self._in_bucket(self.buckets[0], values, grid3)
        key = (grid3, *(values.get(n) for n in self._int_args))
        bucket = self._picked.get(key)
        if bucket is None:
            if len(self._picked) >= 4096:
                self._picked.clear()
            bucket = self._picked[key] = pick_bucket(self.buckets, values, grid3)
        return self._in_bucket(bucket, values, grid3)

    def select_in(self, bucket_name: str, *args: Any, grid: Sequence[int], **kwargs: Any) -> Selection:
        """`select` within the named bucket (its versions' guards, else its fallback), whatever the call's
        shape: how a bench exercises both sides of a bucket's guards."""
        bucket = next((b for b in self.buckets if b.name == bucket_name), None)
        if bucket is None:
            names = ", ".join(b.name for b in self.buckets)
            raise EqsatError(f"no bucket {bucket_name!r} (buckets: {names})", file=self.label)
        grid3 = _grid3(grid, self.label)
        return self._in_bucket(bucket, self.args.values(args, kwargs, self.label), grid3)

    def _in_bucket(self, bucket: Bucket, values: dict[str, Any], grid3: tuple[int, int, int]) -> Selection:
        skipped = ""
        for v in bucket.versions:
            if guards_hold(v.guards, values):
                if not v.dispatched:
                    skipped = skipped or v.skip_reason
                    continue
                bound = [values[n] for n in v.kernel.args.passed]
                why = f"{v.check_why}; skipped {skipped}" if skipped else v.check_why
                return Selection(bucket.name, v.name, v.kernel, bound, grid3, why)
        fb = bucket.fallback
        return Selection(bucket.name, None, fb, [values[n] for n in fb.args.passed], grid3,
                         skipped or bucket.no_version_reason)

    def launcher(self, *args: Any, grid: Sequence[int], **kwargs: Any) -> Callable[[], None]:
        """Dispatch a call once; the returned function launches the picked kernel (for timing loops)."""
        return self.launch_of(self.select(*args, grid=grid, **kwargs))

    @staticmethod
    def launch_of(sel: Selection) -> Callable[[], None]:
        """A function that launches a selection (prebound: no dispatch per launch)."""
        runner, bound = sel.kernel.runner(sel.grid), sel.bound
        return lambda: runner(*bound)

    def __call__(self, *args: Any, grid: Sequence[int], **kwargs: Any) -> Selection:
        """Dispatch and launch; returns what was launched."""
        sel = self.select(*args, grid=grid, **kwargs)
        sel.kernel.runner(sel.grid)(*sel.bound)
        return sel


POLICIES = ("verified", "all", "none")


def _triton_version() -> str | None:
    try:
        import triton
    except ImportError:  # pragma: no cover - the loader needs triton anyway
        return None
    return str(triton.__version__)


def _versions(plan_dir: Path, target: str, spec: KernelSpec | None, name: str, fallback: OptimizedKernel,
              compiled: dict[str, Any], policy: str = "verified") -> list[Version]:
    """The plan.json `versions` of a plan folder, each compiled and marked with its device check and
    whether `policy` dispatches it; malformed entries (or verified.json) are one error line."""
    plan_path = plan_dir / "plan.json"
    if not plan_path.is_file():
        return []
    plan = read_json(plan_path)
    entries = plan.get("versions") if isinstance(plan, dict) else None
    if not entries:
        return []
    if not isinstance(entries, list):
        raise EqsatError("plan.json: 'versions' must be a list", file=str(plan_path))
    record = read_verified(plan_dir)
    triton_version = _triton_version()
    out = []
    for i, v in enumerate(entries):
        where = f"plan.json: versions[{i}]"
        if not isinstance(v, dict) or not isinstance(v.get("ttgir"), str) \
                or not isinstance(v.get("guards"), list) or not v["guards"]:
            raise EqsatError(f"{where} needs 'ttgir' (a path) and a non-empty 'guards' list",
                             file=str(plan_path))
        for g in v["guards"]:
            kind = g.get("kind") if isinstance(g, dict) else None
            if kind not in GUARD_KINDS or not isinstance(g.get(GUARD_KINDS[kind]), int) \
                    or isinstance(g.get(GUARD_KINDS[kind]), bool):
                raise EqsatError(f"{where}: bad guard {g!r} (kinds: "
                                 f"{', '.join(f'{k} {{{f}}}' for k, f in GUARD_KINDS.items())})",
                                 file=str(plan_path))
            if g.get("arg") not in fallback.args.runtime:
                raise EqsatError(f"{where}: guard on {g.get('arg')!r}, which is not a runtime argument "
                                 f"({', '.join(fallback.args.runtime)})", file=str(plan_path))
        path = (plan_dir / v["ttgir"]).resolve()
        if not path.is_relative_to(plan_dir.resolve()) or not path.is_file():
            raise EqsatError(f"{where}: no TTGIR file {v['ttgir']!r} in the plan folder", file=str(plan_path))
        kernel = load_ttgir(path, target, spec, name, compiled)
        if kernel.args.passed != fallback.args.passed:
            raise EqsatError(f"{where}: the version takes ({', '.join(kernel.args.passed)}), the fallback "
                             f"({', '.join(fallback.args.passed)})", file=str(path))
        vname = str(v.get("name") or v["ttgir"])
        slug = str(v.get("slug") or vname)
        check, why = ("unverified", "no verified.json") if record is None else \
            record.status(slug, path.read_text(), triton_version)
        dispatched = policy == "all" or (policy == "verified" and check == "verified")
        if policy == "all":
            why = f"versions='all' ({check}: {why})"
        skip = "" if dispatched else (f"versions='none': version {vname} not dispatched" if policy == "none"
                                      else f"version {vname} failed device check ({why})" if check == "failed"
                                      else f"version {vname} unverified ({why})")
        out.append(Version(vname, tuple(dict(g) for g in v["guards"]), kernel,
                           _float(v.get("predicted_ns")), _float(v.get("fallback_ns")), slug, check, why,
                           dispatched, skip))
    return out


def _float(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def load(plan_dir: str | Path, root: Path = REPO_ROOT, ttgir: str = "optimized.ttgir",
         versions: str = "verified") -> DispatchingKernel:
    """Compile every kernel of a plan folder and dispatch calls among them (module doc).

    The target is the plan folder's name (`.../<kernel>/<target>`); `spec.json` beside it, if any, gives
    the original kernel's signature, specialization and production shapes (its paths relative to `root`).
    Per shape bucket: its `ttgir` (default `optimized.ttgir`: the fallback) and plan.json's `versions`.
    With `ttgir` other than the default, that file alone is loaded (no versions, no other buckets).
    `versions`: which versions may be dispatched ("verified": those a device check found bit-identical,
    "all", "none"; module doc).
    """
    if versions not in POLICIES:
        raise EqsatError(f"versions must be one of {', '.join(POLICIES)}, got {versions!r}",
                         file=str(plan_dir))
    d = Path(plan_dir)
    if not d.is_dir():
        raise EqsatError("plan directory not found", file=str(plan_dir))
    path = d / ttgir
    if not path.is_file():
        raise EqsatError(f"no {ttgir} in the plan directory", file=str(plan_dir))
    target_name = d.name
    get_target(target_name)
    spec = read_spec(d, root)
    name = spec.name if spec is not None else d.parent.name
    compiled: dict[str, Any] = {}
    if ttgir != "optimized.ttgir":
        only = load_ttgir(path, target_name, spec, name, compiled)
        return DispatchingKernel(name, target_name, spec, [Bucket("launch", d, spec.launch if spec else None,
                                                                  [], only)])
    buckets = []
    for bucket, bdir, launch in plan_buckets(d, spec):
        fallback = load_ttgir(bdir / ttgir, target_name, spec, name, compiled)
        vs = _versions(bdir, target_name, spec, name, fallback, compiled, versions)
        buckets.append(Bucket(bucket, bdir, launch, vs, fallback,
                              "no versions" if not vs else "no version's guards hold"))
    return DispatchingKernel(name, target_name, spec, buckets)
