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

Kernels that need a global scratch buffer (in-kernel TMA descriptors) get a torch allocator through
`triton.set_allocator` unless one is set. Imports only the standard library, triton and (at call time)
torch, plus `eqsat.ingest`: never xdsl or egglog, so it runs on GPU machines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqsat.lowering.irtext import entry_arguments, triton_target
from eqsat.lowering.rundir import REPO_ROOT, read_spec

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
        if len(args) > len(self.runtime):
            raise EqsatError(f"takes {len(self.runtime)} runtime argument(s) "
                             f"({', '.join(self.runtime)}), got {len(args)}", file=label)
        values = dict(zip(self.runtime, args, strict=False))
        for name, value in kwargs.items():
            if name in self.constexprs:
                if not _same(value, self.constexprs[name]):
                    raise EqsatError(f"constexpr '{name}' was compiled as {self.constexprs[name]!r}, "
                                     f"got {value!r}", file=label)
                continue
            if name not in self.runtime:
                raise EqsatError(f"unknown argument '{name}' (runtime arguments: "
                                 f"{', '.join(self.runtime)})", file=label)
            if name in values:
                raise EqsatError(f"argument '{name}' given twice", file=label)
            values[name] = value
        missing = [n for n in self.runtime if n not in values]
        if missing:
            raise EqsatError(f"missing runtime argument(s) {', '.join(missing)}", file=label)
        for name, folded in self.folded.items():
            if not _same(values[name], folded):
                raise EqsatError(f"'{name}' was folded to {folded!r} when the kernel was compiled, "
                                 f"got {values[name]!r}", file=label)
        for name in self.divisible:
            if name in values and not _divisible_by_16(values[name]):
                raise EqsatError(f"'{name}' was compiled as 16-divisible (tt.divisibility = 16), got "
                                 f"{_describe(values[name])}", file=label)
        return [values[n] for n in self.passed]


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

    def __repr__(self) -> str:
        return f"OptimizedKernel({self.name!r}, {self.target}, ({', '.join(self.args.runtime)}))"

    def launcher(self, *args: Any, grid: Sequence[int], **kwargs: Any) -> Callable[[], None]:
        """Check and bind a call once; the returned function launches it (for timing loops)."""
        grid3 = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
        if len(grid3) != 3 or any(g < 1 for g in grid3):
            raise EqsatError(f"grid must be 1 to 3 positive integers, got {tuple(grid)}", file=str(self.path))
        bound = self.args.bind(args, kwargs, str(self.path))
        if getattr(self.compiled.metadata, "global_scratch_size", 0):
            ensure_allocator()
        runner = self.compiled[grid3]
        return lambda: runner(*bound)

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


def load(plan_dir: str | Path, root: Path = REPO_ROOT, ttgir: str = "optimized.ttgir") -> OptimizedKernel:
    """Compile `plan_dir/optimized.ttgir` (or `ttgir`) and map the original kernel's arguments onto it.

    The target is the plan folder's name (`.../<kernel>/<target>`); `spec.json` beside it, if any, gives
    the original kernel's signature and specialization (its paths relative to `root`).
    """
    d = Path(plan_dir)
    if not d.is_dir():
        raise EqsatError("plan directory not found", file=str(plan_dir))
    path = d / ttgir
    if not path.is_file():
        raise EqsatError(f"no {ttgir} in the plan directory", file=str(plan_dir))
    target_name = d.name
    get_target(target_name)
    spec = read_spec(d, root)
    compiled = compile_ttgir(path, target_name, spec)
    amap = argument_map(spec, path.read_text(), list(compiled.src.signature.values()), str(path))
    name = spec.name if spec is not None else d.parent.name
    return OptimizedKernel(name, target_name, path, compiled, amap, spec)
