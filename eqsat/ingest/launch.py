"""Launch descriptions of corpus kernels: argument specs, their consistency with the JIT specialization,
and (on a GPU machine, with torch) building the actual arguments.

A manifest's `[kernel.launch]` table gives the grid and one entry per runtime argument: a tensor
`{shape, dtype, init, offset?, output?}` or a plain number. `init` is one of `randn`, `rand`, `zeros`,
`ones`, `arange`, `randint(lo, hi)` (values in [lo, hi): give the bounds of the dimension an index
addresses), `randperm` (a permutation of 0..numel-1, for scatters that must not collide) or `poison`
(an output: every byte 0xFF, NaN for floats and -1 for integers, so unwritten elements show). `offset`
shifts the pointer by that many elements (for deliberately unaligned arguments).

`check_consistency` says whether a spec's specialization is the one Triton 3.6's JIT would derive from
these arguments (torch allocations are 256-byte aligned, so a pointer is 16-byte aligned unless
`offset * itemsize` is not a multiple of 16). Only `build_args` needs torch, and imports it lazily.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eqsat.ingest.manifest import KernelSpec

# torch dtype name -> (Triton element type, item size in bytes)
TORCH_DTYPES: dict[str, tuple[str, int]] = {
    "float32": ("fp32", 4),
    "float16": ("fp16", 2),
    "bfloat16": ("bf16", 2),
    "float64": ("fp64", 8),
    "int8": ("i8", 1),
    "int16": ("i16", 2),
    "int32": ("i32", 4),
    "int64": ("i64", 8),
    "uint8": ("u8", 1),
    "bool": ("i1", 1),
    "float8_e4m3fn": ("fp8e4nv", 1),
    "float8_e5m2": ("fp8e5", 1),
}
TRITON_TO_DTYPE: dict[str, str] = {v[0]: k for k, v in TORCH_DTYPES.items()}

_INIT_RE = re.compile(r"^(randn|rand|zeros|ones|arange|randperm|poison)$"
                      r"|^randint\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)$")
TWO_GIB = 2**31


def parse_init(init: Any) -> tuple[str, tuple[int, ...]]:
    """`"randint(0, 64)"` -> `("randint", (0, 64))`; raises ValueError for an unknown init."""
    if not isinstance(init, str):
        raise ValueError("'init' must be a string")
    m = _INIT_RE.match(init.strip())
    if not m:
        raise ValueError(f"unknown init {init!r} (randn, rand, zeros, ones, arange, randint(lo, hi), "
                         "randperm, poison)")
    if m.group(1):
        return m.group(1), ()
    lo, hi = int(m.group(2)), int(m.group(3))
    if hi <= lo:
        raise ValueError(f"randint bounds must satisfy lo < hi, got {init!r}")
    return "randint", (lo, hi)


def is_output(arg: dict[str, Any]) -> bool:
    """Whether a tensor argument is written by the kernel (compared after a run)."""
    return bool(arg.get("output", parse_init(arg.get("init", ""))[0] == "poison"))


def numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def int_type(v: int) -> str:
    """The Triton type the JIT gives a Python int."""
    if -(2**31) <= v < 2**31:
        return "i32"
    if -(2**63) <= v < 2**63:
        return "i64"
    return "u64"


def check_consistency(spec: KernelSpec, no_specialize: frozenset[str] = frozenset(),
                      no_align: frozenset[str] = frozenset()) -> list[str]:
    """Problems where the spec's specialization differs from what the JIT derives from `launch` args.

    `no_specialize` and `no_align` are the function's `do_not_specialize` and
    `do_not_specialize_on_alignment` parameters (see `compile.jit_flags`): the JIT never marks the former
    divisible or equal to 1, and never marks the latter divisible.
    """
    problems: list[str] = []
    if spec.launch is None:
        return problems
    args = spec.launch["args"]
    for name, ty in spec.signature.items():
        if ty == "constexpr":
            if name not in spec.constexprs and name not in spec.none:
                problems.append(f"constexpr '{name}' has no value in 'constexprs'")
            continue
        v = args.get(name)
        div = name in spec.divisible
        one = name in spec.equal_to_1
        if isinstance(v, dict):
            if not ty.startswith("*"):
                problems.append(f"'{name}' is a tensor in launch but {ty!r} in the signature")
                continue
            elem, size = TORCH_DTYPES[v["dtype"]]
            if ty[1:] != elem:
                problems.append(f"'{name}': launch dtype {v['dtype']} is {elem}, signature says {ty}")
            aligned = (v.get("offset", 0) * size) % 16 == 0
            aligned = aligned and name not in no_align and name not in no_specialize
            if aligned != div:
                problems.append(f"'{name}': pointer {'is' if aligned else 'is not'} 16-byte aligned but "
                                f"{'not ' if not div else ''}listed in 'divisible'")
            nbytes = (numel(v["shape"]) + v.get("offset", 0)) * size
            if (nbytes > TWO_GIB) != (name in spec.large_tensors):
                problems.append(f"'{name}': tensor of {nbytes} bytes vs 'large_tensors'")
            kind, bounds = parse_init(v.get("init", ""))
            if kind == "randint" and not elem.startswith(("i", "u")):
                problems.append(f"'{name}': randint init needs an integer dtype")
            if kind == "randperm" and not elem.startswith(("i", "u")):
                problems.append(f"'{name}': randperm init needs an integer dtype")
        elif isinstance(v, bool):
            if ty not in ("i1", "u1"):
                problems.append(f"'{name}': launch value is a bool, signature says {ty}")
            if div or one:
                problems.append(f"'{name}': bools are never specialized")
        elif isinstance(v, int):
            if ty != int_type(v):
                problems.append(f"'{name}': launch value {v} is {int_type(v)}, signature says {ty}")
            if name in no_specialize:
                if div or one:
                    problems.append(f"'{name}' is do_not_specialize: it is never divisible or equal to 1")
                continue
            if name in no_align and v != 1:
                if div:
                    problems.append(f"'{name}' is do_not_specialize_on_alignment: never divisible")
                continue
            if (v == 1) != one:
                problems.append(f"'{name}': launch value {v} {'equals' if v == 1 else 'does not equal'} 1 "
                                f"but is {'' if one else 'not '}listed in 'equal_to_1'")
            if v != 1 and (v % 16 == 0) != div:
                problems.append(f"'{name}': launch value {v} {'is' if v % 16 == 0 else 'is not'} "
                                f"divisible by 16 but is {'' if div else 'not '}listed in 'divisible'")
        elif isinstance(v, float):
            if ty not in ("fp32", "fp64", "fp16", "bf16"):
                problems.append(f"'{name}': launch value is a float, signature says {ty}")
            if div or one:
                problems.append(f"'{name}': floats are never specialized")
        else:
            problems.append(f"'{name}': no launch argument")
    return problems


def grid3(spec: KernelSpec) -> tuple[int, int, int]:
    """The launch grid padded to three dimensions."""
    g = list(spec.launch["grid"]) if spec.launch else [1]
    return tuple(g + [1] * (3 - len(g)))  # type: ignore[return-value]


def build_args(spec: KernelSpec, device: str = "cuda", seed: int = 0) -> dict[str, Any]:
    """Build the runtime arguments (torch tensors and scalars) of `spec.launch`, in signature order.

    Tensors with an `offset` are views into a larger allocation. Needs torch (imported here only).
    """
    import torch

    assert spec.launch is not None
    gen = torch.Generator(device="cpu").manual_seed(seed)
    out: dict[str, Any] = {}
    for name, ty in spec.signature.items():
        if ty == "constexpr":
            continue
        v = spec.launch["args"][name]
        if not isinstance(v, dict):
            out[name] = v
            continue
        dtype = getattr(torch, v["dtype"])
        shape = list(v["shape"])
        n = numel(shape)
        off = v.get("offset", 0)
        kind, bounds = parse_init(v.get("init", ""))
        if kind == "randn":
            flat = torch.randn(n + off, generator=gen).to(dtype)
        elif kind == "rand":
            flat = torch.rand(n + off, generator=gen).to(dtype)
        elif kind == "zeros":
            flat = torch.zeros(n + off, dtype=dtype)
        elif kind == "ones":
            flat = torch.ones(n + off, dtype=dtype)
        elif kind == "arange":
            flat = torch.arange(n + off).to(dtype)
        elif kind == "randint":
            flat = torch.randint(bounds[0], bounds[1], (n + off,), generator=gen).to(dtype)
        elif kind == "randperm":
            perm = torch.randperm(n, generator=gen)
            flat = torch.cat([torch.zeros(off, dtype=torch.int64), perm]).to(dtype)
        else:  # poison
            flat = torch.empty(n + off, dtype=dtype)
            flat.view(torch.uint8).fill_(0xFF)
        out[name] = flat.to(device)[off:].view(shape)
    return out
