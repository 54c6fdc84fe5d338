"""Launch descriptions of corpus kernels: argument specs, their consistency with the JIT specialization,
and building the actual arguments (CPU tensors with `launch_tensors`, on a GPU with `build_args`).

A manifest's `[kernel.launch]` table gives the grid and one entry per runtime argument: a tensor
`{shape, dtype, init, offset?, output?}`, a view of another tensor argument
`{view, shape, dtype, offset?, stride?, output?}`, or a plain number. `init` is one of

    randn | rand                 normal / uniform [0, 1) floats
    zeros | ones | full(v)       constants
    arange                       0, 1, 2, ... over the flattened tensor
    randint(lo, hi)              integers in [lo, hi): give the bounds of the dimension an index addresses
    sorted_randint(lo, hi)       the same, sorted ascending over the flattened tensor (sorted expert ids)
    randperm                     a permutation of 0..numel-1 (scatters that must not collide)
    randperm(n)                  numel distinct values of 0..n-1 (n >= numel; slot mappings into a pool)
    randperm(lo, hi)             numel distinct values of [lo, hi); lo < 0 gives distinct indices plus
                                 some negative ones, for kernels that skip negative (padding) entries
    prefix_sum(lo, hi)           x[0] = 0, x[i] = x[i-1] + len_i with len_i in [lo, hi) (cu_seqlens,
                                 kv_indptr); x[-1] <= (numel-1)*(hi-1) is the capacity to size data for
    diff(name)                   x[i] = name[i+1] - name[i] (the lengths of a prefix_sum `name`, which has
                                 numel + 1 elements: seq_lens beside cu_seqlens)
    poison                       an output: every byte 0xFF (NaN for floats, -1 for integers)

`pad = { count = k, value = v }` then sets the last k elements (of the flattened tensor) to v: the
padding entries of a batch padded to a fixed size (sequence length 0 for an empty decode slot, slot -1
for a padding token), after the init made the rest. `offset` shifts the pointer by that many elements
(for deliberately unaligned arguments). A tensor
table whose name is not a parameter is allowed when views name it: the storage they are views of (a
`kv_cache` whose halves are passed as `k_cache` and `v_cache`). A view
`{view = "kv_cache", shape, dtype, offset, stride}` is `torch.as_strided` into the named tensor's
storage (same dtype; `offset` in elements from that tensor's first element; `stride` defaults to
contiguous); it has no `init` of its own and every element it addresses must lie inside the named tensor.
Views are not counted twice in a launch's bytes.

Values are a function of (seed, argument name, the argument's table) alone: each tensor draws from its
own generator seeded by the seed and a CRC of its name, so adding or reordering arguments never changes
another argument's values, and `build_args` on a GPU gives the same values as `launch_tensors` on the CPU.

`check_consistency` says whether a spec's specialization is the one Triton 3.6's JIT would derive from
these arguments: the `launch`, the `bench` and every production shape (torch allocations are 256-byte
aligned, so a pointer is 16-byte aligned unless `offset * itemsize` is not a multiple of 16). This
module imports only the standard library; torch is imported lazily by the functions that build tensors.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

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

INIT_KINDS = ("randn", "rand", "zeros", "ones", "full(v)", "arange", "randint(lo, hi)",
              "sorted_randint(lo, hi)", "randperm", "randperm(n)", "randperm(lo, hi)", "prefix_sum(lo, hi)",
              "diff(name)",
              "poison")
_PLAIN = {"randn", "rand", "zeros", "ones", "arange", "randperm", "poison"}
_INIT_RE = re.compile(r"^([a-z_]+)\s*(?:\((.*)\))?$")
_NUM_RE = re.compile(r"^-?\d+$")
_FLOAT_RE = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-?inf$|^nan$")
TWO_GIB = 2**31
TENSOR_KEYS = {"shape", "dtype", "init", "offset", "output", "pad"}
VIEW_KEYS = {"view", "shape", "dtype", "offset", "stride", "output"}


def parse_init(init: Any) -> tuple[str, tuple[Any, ...]]:
    """`"randint(0, 64)"` -> `("randint", (0, 64))`; raises ValueError for an unknown init."""
    if not isinstance(init, str):
        raise ValueError("'init' must be a string")
    known = ", ".join(INIT_KINDS)
    m = _INIT_RE.match(init.strip())
    if not m:
        raise ValueError(f"unknown init {init!r} ({known})")
    kind, inner = m.group(1), m.group(2)
    parts = [p.strip() for p in inner.split(",")] if inner is not None and inner.strip() else []
    if inner is None and kind in _PLAIN:
        return kind, ()
    if kind in ("randint", "sorted_randint", "prefix_sum") and len(parts) == 2 \
            and all(_NUM_RE.match(p) for p in parts):
        lo, hi = int(parts[0]), int(parts[1])
        if hi <= lo:
            raise ValueError(f"{kind} bounds must satisfy lo < hi, got {init!r}")
        if kind == "prefix_sum" and lo < 0:
            raise ValueError(f"prefix_sum lengths must be non-negative, got {init!r}")
        return kind, (lo, hi)
    if kind == "randperm" and len(parts) in (1, 2) and all(_NUM_RE.match(p) for p in parts):
        lo, hi = (0, int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
        if hi <= lo:
            raise ValueError(f"randperm bounds must satisfy lo < hi, got {init!r}")
        return kind, (lo, hi)
    if kind == "full" and len(parts) == 1 and (_NUM_RE.match(parts[0]) or _FLOAT_RE.match(parts[0])):
        return kind, (int(parts[0]) if _NUM_RE.match(parts[0]) else float(parts[0]),)
    if kind == "diff" and len(parts) == 1 and parts[0].isidentifier():
        return kind, (parts[0],)
    raise ValueError(f"unknown init {init!r} ({known})")


def init_of(arg: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The parsed init of a tensor argument; `("view", (base,))` for a view."""
    if "view" in arg:
        return "view", (arg["view"],)
    return parse_init(arg.get("init", ""))


def is_output(arg: dict[str, Any]) -> bool:
    """Whether a tensor argument is written by the kernel (compared after a run)."""
    return bool(arg.get("output", init_of(arg)[0] == "poison"))


def is_view(arg: Any) -> bool:
    return isinstance(arg, dict) and "view" in arg


def numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def contiguous_strides(shape: list[int]) -> list[int]:
    out = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        out[i] = out[i + 1] * shape[i + 1]
    return out


def view_extent(arg: Mapping[str, Any]) -> tuple[int, int]:
    """(lowest, highest) element index a view addresses, relative to its base's first element."""
    stride = arg.get("stride") or contiguous_strides(arg["shape"])
    off = arg.get("offset", 0)
    lo = off + sum((s - 1) * st for s, st in zip(arg["shape"], stride, strict=True) if st < 0)
    hi = off + sum((s - 1) * st for s, st in zip(arg["shape"], stride, strict=True) if st > 0)
    return lo, hi


def element_offset(name: str, args: Mapping[str, Any]) -> int:
    """Elements between the allocation's start and the pointer passed for tensor `name` (alignment)."""
    v = args[name]
    if is_view(v):
        base = args[v["view"]]
        return base.get("offset", 0) + v.get("offset", 0)
    return v.get("offset", 0)


def tensor_problems(args: Mapping[str, Any]) -> list[str]:
    """Structural problems of the tensor tables of a launch's `args` (one message each, no torch)."""
    problems: list[str] = []
    for name, v in args.items():
        if not isinstance(v, dict):
            continue
        keys = VIEW_KEYS if "view" in v else TENSOR_KEYS
        bad = set(v) - keys
        if bad:
            what = "a view" if "view" in v else "a tensor"
            problems.append(f"'{name}': unknown key(s) {', '.join(sorted(bad))} for {what} "
                            f"(keys: {', '.join(sorted(keys))})")
            continue
        shape = v.get("shape")
        if not isinstance(shape, list) or not shape or \
                not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape):
            problems.append(f"'{name}': 'shape' must be a non-empty list of positive integers")
            continue
        if v.get("dtype") not in TORCH_DTYPES:
            problems.append(f"'{name}': unknown dtype {v.get('dtype')!r} (known: {', '.join(TORCH_DTYPES)})")
            continue
        off = v.get("offset", 0)
        if not isinstance(off, int) or isinstance(off, bool) or off < 0:
            problems.append(f"'{name}': 'offset' must be a non-negative integer (elements)")
            continue
        if not isinstance(v.get("output", False), bool):
            problems.append(f"'{name}': 'output' must be true or false")
            continue
        if "view" in v:
            problems += _view_problems(name, v, args)
            continue
        try:
            kind, params = parse_init(v.get("init", ""))
        except ValueError as e:
            problems.append(f"'{name}': {e}")
            continue
        integer = TORCH_DTYPES[v["dtype"]][0].startswith(("i", "u"))
        n = numel(shape)
        pad = v.get("pad")
        if pad is not None:
            count, value = (pad.get("count"), pad.get("value")) if isinstance(pad, dict) else (None, None)
            if not isinstance(pad, dict) or set(pad) != {"count", "value"} \
                    or not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= n \
                    or not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or (integer and not isinstance(value, int)):
                problems.append(f"'{name}': 'pad' must be {{ count = K, value = V }} with 0 <= K <= {n} and "
                                f"V a{'n integer' if integer else ' number'}")
                continue
            if kind == "diff" or any(isinstance(o, dict) and o.get("init", "").replace(" ", "")
                                     == f"diff({name})" for o in args.values()):
                problems.append(f"'{name}': 'pad' does not combine with diff()")
                continue
        if kind in ("randint", "sorted_randint", "randperm", "prefix_sum", "diff") and not integer:
            problems.append(f"'{name}': {kind} init needs an integer dtype")
        elif kind == "randperm" and params and params[1] - params[0] < n:
            problems.append(f"'{name}': {v['init']} cannot give {n} distinct values")
        elif kind == "prefix_sum" and n < 2:
            problems.append(f"'{name}': prefix_sum needs at least 2 elements")
        elif kind == "diff":
            src = args.get(params[0])
            if not isinstance(src, dict) or "view" in src:
                problems.append(f"'{name}': diff({params[0]}) needs a tensor argument '{params[0]}' "
                                "(not a view) of this launch")
            elif numel(src.get("shape") or [0]) != n + 1:
                problems.append(f"'{name}': diff({params[0]}) has {n} elements, so '{params[0]}' needs "
                                f"{n + 1}")
            elif TORCH_DTYPES.get(src.get("dtype", ""), ("fp",))[0][0] not in "iu":
                problems.append(f"'{name}': diff({params[0]}) needs '{params[0]}' of an integer dtype")
            elif str(src.get("init", "")).strip().startswith("diff"):
                problems.append(f"'{name}': diff({params[0]}) of a diff is not supported")
    return problems


def _view_problems(name: str, v: dict[str, Any], args: Mapping[str, Any]) -> list[str]:
    base_name = v["view"]
    base = args.get(base_name)
    if not isinstance(base_name, str) or not isinstance(base, dict):
        return [f"'{name}': view {base_name!r} names no tensor argument of this launch"]
    if "view" in base:
        return [f"'{name}': view of '{base_name}', which is itself a view (name the tensor it views)"]
    if base.get("dtype") != v["dtype"]:
        return [f"'{name}': a view has its base's dtype: '{base_name}' is {base.get('dtype')}, "
                f"the view says {v['dtype']}"]
    stride = v.get("stride")
    if stride is not None and (not isinstance(stride, list) or len(stride) != len(v["shape"])
                               or not all(isinstance(s, int) and not isinstance(s, bool) for s in stride)):
        return [f"'{name}': 'stride' must be a list of {len(v['shape'])} integers (elements)"]
    if not isinstance(base.get("shape"), list):
        return []
    lo, hi = view_extent(v)
    size = numel(base["shape"])
    if lo < 0 or hi >= size:
        return [f"'{name}': view addresses elements {lo}..{hi} of '{base_name}', which has {size}"]
    return []


def int_type(v: int) -> str:
    """The Triton type the JIT gives a Python int."""
    if -(2**31) <= v < 2**31:
        return "i32"
    if -(2**63) <= v < 2**63:
        return "i64"
    return "u64"


def check_consistency(spec: KernelSpec, no_specialize: frozenset[str] = frozenset(),
                      no_align: frozenset[str] = frozenset(),
                      annotations: Mapping[str, str] | None = None) -> list[str]:
    """Problems where the spec's specialization differs from what the JIT derives from `launch` args.

    `no_specialize` and `no_align` are the function's `do_not_specialize` and
    `do_not_specialize_on_alignment` parameters, `annotations` its parameters' Triton type annotations
    (`x: tl.int64` -> `i64`; see `compile.jit_flags` and `compile.jit_annotations`): the JIT never marks
    the first divisible or equal to 1, never marks the second divisible, and types an annotated parameter
    by its annotation, never folding it to 1 (and never specializing annotated floats or bools).
    """
    problems: list[str] = []
    if spec.launch is None:
        return problems
    ann = dict(annotations or {})
    tables = [("launch", spec.launch), ("bench", spec.bench)]
    tables += [(f"shapes.{s.get('name')}", {k: v for k, v in s.items() if k != "name"}) for s in spec.shapes]
    for launch_key, launch in tables:
        if launch is None:
            continue
        where = "" if launch_key == "launch" else f"{launch_key}: "
        problems += [where + p for p in _launch_consistency(spec, launch["args"], no_specialize, no_align,
                                                              ann)]
    return problems


def _launch_consistency(spec: KernelSpec, args: Mapping[str, Any], no_specialize: frozenset[str],
                        no_align: frozenset[str], ann: dict[str, str]) -> list[str]:
    problems = list(tensor_problems(args))
    for name, ty in spec.signature.items():
        if ty == "constexpr":
            if name not in spec.constexprs and name not in spec.none:
                problems.append(f"constexpr '{name}' has no value in 'constexprs'")
            continue
        v = args.get(name)
        div = name in spec.divisible
        one = name in spec.equal_to_1
        a = ann.get(name, "")
        if isinstance(v, dict):
            if not ty.startswith("*"):
                problems.append(f"'{name}' is a tensor in launch but {ty!r} in the signature")
                continue
            if v.get("dtype") not in TORCH_DTYPES:
                continue
            elem, size = TORCH_DTYPES[v["dtype"]]
            if ty[1:] != elem:
                problems.append(f"'{name}': launch dtype {v['dtype']} is {elem}, signature says {ty}")
            aligned = (element_offset(name, args) * size) % 16 == 0
            aligned = aligned and name not in no_align and name not in no_specialize
            if aligned != div:
                problems.append(f"'{name}': pointer {'is' if aligned else 'is not'} 16-byte aligned but "
                                f"{'not ' if not div else ''}listed in 'divisible'")
            if is_view(v):
                base = args.get(v["view"], {})
                nbytes = (numel(base.get("shape", [1])) + base.get("offset", 0)) * size
            else:
                nbytes = (numel(v["shape"]) + v.get("offset", 0)) * size
            if (nbytes > TWO_GIB) != (name in spec.large_tensors):
                problems.append(f"'{name}': tensor of {nbytes} bytes vs 'large_tensors'")
        elif isinstance(v, bool):
            if ty not in ("i1", "u1"):
                problems.append(f"'{name}': launch value is a bool, signature says {ty}")
            if div or one:
                problems.append(f"'{name}': bools are never specialized")
        elif isinstance(v, int):
            want = a if a and not a.startswith("*") else int_type(v)
            if ty != want:
                why = f"annotated {a}" if a else f"is {int_type(v)}"
                problems.append(f"'{name}': launch value {v} {why}, signature says {ty}")
            if a in ("u1",) or a[:2] in ("fp", "bf"):
                if div or one:
                    problems.append(f"'{name}': annotated {a}: the JIT never specializes it")
                continue
            if name in no_specialize:
                if div or one:
                    problems.append(f"'{name}' is do_not_specialize: it is never divisible or equal to 1")
                continue
            if name in no_align and v != 1:
                if div:
                    problems.append(f"'{name}' is do_not_specialize_on_alignment: never divisible")
                continue
            folds = v == 1 and not a
            if folds != one:
                if a and one:
                    problems.append(f"'{name}' is annotated {a}: the JIT never folds it to 1, so it must not "
                                    "be listed in 'equal_to_1'")
                else:
                    problems.append(f"'{name}': launch value {v} {'equals' if v == 1 else 'does not equal'} "
                                    f"1 but is {'' if one else 'not '}listed in 'equal_to_1'")
            if v != 1 and (v % 16 == 0) != div:
                problems.append(f"'{name}': launch value {v} {'is' if v % 16 == 0 else 'is not'} "
                                f"divisible by 16 but is {'' if div else 'not '}listed in 'divisible'")
            if v == 1 and a and div:
                problems.append(f"'{name}': launch value 1 is not divisible by 16 but is listed in "
                                "'divisible'")
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


# --------------------------------------------------------------------------------------------- tensors


def _generator(seed: int, name: str) -> torch.Generator:
    import torch

    return torch.Generator(device="cpu").manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)


def _flat(name: str, v: dict[str, Any], seed: int, done: dict[str, torch.Tensor]) -> torch.Tensor:
    """The flat CPU allocation of a (non-view) tensor argument: `offset` leading elements, then its data."""
    import torch

    dtype = getattr(torch, v["dtype"])
    n = numel(v["shape"])
    off = v.get("offset", 0)
    kind, params = parse_init(v.get("init", ""))
    gen = _generator(seed, name)
    if kind == "randn":
        data = torch.randn(n + off, generator=gen).to(dtype)[off:]
    elif kind == "rand":
        data = torch.rand(n + off, generator=gen).to(dtype)[off:]
    elif kind == "zeros":
        data = torch.zeros(n, dtype=dtype)
    elif kind == "ones":
        data = torch.ones(n, dtype=dtype)
    elif kind == "full":
        data = torch.full((n,), params[0]).to(dtype)
    elif kind == "arange":
        data = torch.arange(n).to(dtype)
    elif kind == "randint":
        data = torch.randint(params[0], params[1], (n + off,), generator=gen).to(dtype)[off:]
    elif kind == "sorted_randint":
        data = torch.randint(params[0], params[1], (n,), generator=gen).sort().values.to(dtype)
    elif kind == "randperm":
        lo, hi = params if params else (0, n)
        data = (torch.randperm(hi - lo, generator=gen)[:n] + lo).to(dtype)
    elif kind == "prefix_sum":
        lengths = torch.randint(params[0], params[1], (n - 1,), generator=gen)
        data = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)]).to(dtype)
    elif kind == "diff":
        src = done[params[0]].reshape(-1).to(torch.int64)
        data = (src[1:] - src[:-1]).to(dtype)
    else:  # poison
        data = torch.empty(n, dtype=dtype)
        data.view(torch.uint8).fill_(0xFF)
    pad = v.get("pad")
    if pad and pad["count"]:
        data = data.clone()
        data[n - pad["count"]:] = pad["value"]
    if off:
        data = torch.cat([torch.zeros(off, dtype=dtype), data])
    return data


def _materialize(args: Mapping[str, Any], seed: int, device: str) -> dict[str, torch.Tensor]:
    """Every tensor argument of `args` on `device`: allocations built on the CPU, then views into them."""
    problems = tensor_problems(args)
    if problems:
        raise ValueError(problems[0])
    tensors = {k: v for k, v in args.items() if isinstance(v, dict)}
    flats: dict[str, torch.Tensor] = {}
    done: dict[str, torch.Tensor] = {}  # CPU values of finished non-view tensors (for diff)
    # diffs read their source, so they come after every other allocation
    order = sorted((k for k, v in tensors.items() if "view" not in v),
                   key=lambda k: parse_init(tensors[k].get("init", ""))[0] == "diff")
    for name in order:
        v = tensors[name]
        flat = _flat(name, v, seed, done)
        off = v.get("offset", 0)
        done[name] = flat[off:].view(v["shape"])
        flats[name] = flat
    out: dict[str, torch.Tensor] = {}
    moved = {k: (f if device == "cpu" else f.to(device)) for k, f in flats.items()}
    for name, v in tensors.items():
        if "view" in v:
            base = tensors[v["view"]]
            flat = moved[v["view"]]
            stride = v.get("stride") or contiguous_strides(v["shape"])
            start = base.get("offset", 0) + v.get("offset", 0)
            out[name] = flat.as_strided(v["shape"], stride, flat.storage_offset() + start)
        else:
            off = v.get("offset", 0)
            out[name] = moved[name][off:].view(v["shape"])
    return out


def build_tensors(launch: dict[str, Any], device: str = "cuda", seed: int = 0) -> dict[str, torch.Tensor]:
    """Every tensor of a launch table on `device` (storage tensors that only views are passed from, too)."""
    return _materialize(launch["args"], seed, device)


def launch_tensors(launch: dict[str, Any], seed: int = 0) -> dict[str, torch.Tensor]:
    """The CPU tensors of a `[kernel.launch]` table's tensor arguments, in the table's order.

    Deterministic for a seed; `build_args` gives the same values on a GPU. Views share storage with the
    tensor they view (as on the GPU). Raises ValueError for a table the manifest check would reject.
    """
    return _materialize(launch["args"], seed, "cpu")


def build_args(spec: KernelSpec, device: str = "cuda", seed: int = 0) -> dict[str, Any]:
    """Build the runtime arguments (torch tensors and scalars) of `spec.launch`, in signature order.

    Tensors with an `offset` are views into a larger allocation; `view` arguments share their base's
    storage. The values are `launch_tensors(spec.launch, seed)`'s, moved to `device`.
    """
    assert spec.launch is not None
    args = spec.launch["args"]
    tensors = _materialize(args, seed, device)
    out: dict[str, Any] = {}
    for name, ty in spec.signature.items():
        if ty == "constexpr":
            continue
        out[name] = tensors[name] if name in tensors else args[name]
    return out
