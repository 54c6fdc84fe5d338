"""Legality of data-movement choices per target: `legality(params, kind, **choice) -> None | reason`.

Rules (facts/hardware.md; numbers from the target's parameter file):

* `tma` (Hopper only; "CDNA3 has no TMA"): rank 1..5; global base 16-B aligned; global strides
  (bytes, all but the innermost) multiples of 16 and < 2^40; innermost stride 1 element; box dims 1..256;
  inner box bytes a multiple of 16 and, with a swizzle, <= the swizzle span; Triton block dims powers of
  two and inner block >= 16 bytes. Params: `rank`, `box` (block shape, outermost first), `elem_bytes`,
  `base_align` (bytes), `strides` (elements, outermost first; None = unknown), `swizzle` (bytes, 0 none).
* `cp_async` (Hopper; CDNA3 has none: direct-to-LDS instead): `bytes` per lane in {4, 8, 16}; `cache`
  "cg" only with 16.
* `direct_to_lds` (gfx942 `buffer_load ... lds`): `bytes` per lane in {1, 2, 4}; the shared encoding
  (`encoding` text) must be unswizzled (the write is contiguous); NVIDIA has no such instruction.
* `shared_encoding`: `encoding` text; nvmma_shared is NVIDIA only, amd_rotating_shared AMD only.
* `shared_capacity`: `bytes` (all live allocations of one CTA) <= the per-block capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eqsat.costmodels.base import TargetParams

KINDS = ("tma", "cp_async", "direct_to_lds", "shared_encoding", "shared_capacity")


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _is_amd(params: TargetParams) -> bool:
    return params.model == "amd"


def tma(params: TargetParams, box: Sequence[int], elem_bytes: int, rank: int | None = None,
        base_align: int | None = 16, strides: Sequence[int | None] | None = None, swizzle: int = 0,
        **_: Any) -> str | None:
    t = params.get("tma", {}) or {}
    if not t.get("supported", False):
        return "CDNA3 has no TMA" if _is_amd(params) else f"target {params.name} has no TMA"
    rank = len(box) if rank is None else rank
    if not int(t.get("rank_min", 1)) <= rank <= int(t.get("rank_max", 5)):
        return f"TMA rank {rank} outside {t.get('rank_min', 1)}..{t.get('rank_max', 5)}"
    align = int(t.get("global_align_bytes", 16))
    if base_align is not None and base_align % align:
        return f"TMA global address aligned to {base_align} B, needs {align} B"
    if strides is not None:
        if strides and strides[-1] not in (1, None):
            return f"TMA innermost stride is {strides[-1]} elements, must be 1"
        mult = int(t.get("global_stride_multiple_bytes", 16))
        for s in strides[:-1]:
            if s is None:
                continue
            nbytes = int(s) * elem_bytes
            if nbytes % mult:
                return f"TMA global stride of {nbytes} B is not a multiple of {mult} B"
            if nbytes >= int(t.get("global_stride_max", 1 << 40)):
                return f"TMA global stride of {nbytes} B is not below 2^40"
    box_max = int(t.get("box_dim_max", 256))
    for b in box:
        if not 1 <= int(b) <= box_max:
            return f"TMA box dim {b} outside 1..{box_max}"
    inner = int(box[-1]) * elem_bytes
    mult = int(t.get("inner_box_bytes_multiple", 16))
    if inner % mult:
        return f"TMA inner box of {inner} B is not a multiple of {mult} B"
    if swizzle:
        if swizzle not in [int(x) for x in t.get("swizzle_bytes", [0, 32, 64, 128])]:
            return f"TMA swizzle {swizzle} B is not one of {t.get('swizzle_bytes')}"
        # Triton cuts a wider block into boxes of one swizzle span (getTMABlockShape) and issues one copy
        # per box, so a block wider than the span is legal when it is a whole number of spans
        if inner > swizzle and inner % swizzle:
            return f"TMA inner block of {inner} B is not a whole number of {swizzle} B swizzle spans"
    if t.get("triton_block_dims_pow2", True):
        bad = [int(b) for b in box if not _pow2(int(b))]
        if bad:
            return f"TMA block dims {bad} are not powers of two (Triton tensor descriptors)"
    if inner < int(t.get("triton_min_inner_block_bytes", 16)):
        return f"TMA inner block of {inner} B is below 16 B (Triton tensor descriptors)"
    return None


def cp_async(params: TargetParams, bytes: int, cache: str = "ca", **_: Any) -> str | None:  # noqa: A002
    c = params.get("cp_async", {}) or {}
    sizes = [int(x) for x in c.get("sizes", [])]
    if not sizes:
        return "CDNA3 has no cp.async (use direct-to-LDS)" if _is_amd(params) else "no cp.async on target"
    if int(bytes) not in sizes:
        return f"cp.async of {bytes} B per lane; sizes are {sizes}"
    if cache == "cg" and int(bytes) not in [int(x) for x in c.get("cg_sizes", [16])]:
        return f"cp.async.cg of {bytes} B per lane; .cg takes {c.get('cg_sizes', [16])}"
    return None


def _encoding_kind(text: str) -> tuple[str, dict[str, Any]]:
    from eqsat.ir.layouts import encoding_from_text, encoding_params

    return encoding_params(encoding_from_text(text))


def direct_to_lds(params: TargetParams, bytes: int, encoding: str | None = None,  # noqa: A002
                  **_: Any) -> str | None:
    d = params.get("direct_to_lds")
    if not d:
        return f"target {params.name} has no direct-to-LDS loads"
    allowed = [int(x) for x in d.get("bytes_per_lane", [1, 2, 4])]
    if int(bytes) not in allowed:
        return f"direct-to-LDS of {bytes} B per lane on gfx942; allowed {allowed}"
    if encoding is not None and not d.get("swizzle", False):
        kind, p = _encoding_kind(encoding)
        swizzled = kind in ("nvmma_shared", "amd_rotating_shared", "padded_shared") or (
            kind == "swizzled_shared" and int(p.get("max_phase", 1)) > 1)
        if swizzled:
            return "direct-to-LDS writes LDS contiguously: the shared layout cannot be swizzled"
    return None


def shared_encoding(params: TargetParams, encoding: str, op: Any = None, shape: Any = None,
                    dtype: str | None = None, **_: Any) -> str | None:
    kind, _p = _encoding_kind(encoding)
    if kind == "padded_shared" and op is not None and shape:
        from eqsat.costmodels.common import dtype_bytes

        registers = op.get("src_space", "registers") == "registers"
        layouts = [t for t in (op.get("src_layout"),) if t and registers]
        reason = padded_vector_fault(encoding, layouts, list(shape), dtype_bytes(dtype or op.get("dtype")))
        if reason:
            return reason
    if kind == "nvmma_shared" and _is_amd(params):
        return "nvmma_shared is an NVIDIA encoding, not available on CDNA3"
    if kind == "amd_rotating_shared" and not _is_amd(params):
        return "amd_rotating_shared is an AMD encoding, not available on NVIDIA"
    return None


def padded_vector_fault(encoding: str, layouts: Sequence[str], shape: Sequence[int], elem_bytes: int
                        ) -> str | None:
    """Why a padded shared buffer faults when register tiles in `layouts` are stored to / loaded from it,
    else None. Triton issues each access as wide as the layout's contiguous registers along the buffer's
    fastest dim (up to 16 bytes) without capping it by the padding: a pad that is not a multiple of that
    vector shifts every later row off the vector's alignment (H200: permute_3d's transposing convert
    through `padded_shared<[8:+1]>` with 16-byte f32 vectors stopped with CUDA `misaligned address`,
    benchmarks/results/alternatives_h200.md)."""
    import re

    from eqsat.costmodels.common import pow2_layout

    if "padded_shared" not in encoding:
        return None
    m = re.search(r"padded_shared<\[([^\]]*)\]", encoding)
    order = re.search(r"order\s*=\s*\[([^\]]*)\]", encoding)
    if not m or not order:
        return None
    pads = []
    for part in m.group(1).split(","):
        iv, _, pad = part.partition(":")
        if pad.strip().lstrip("+").isdigit() and iv.strip().isdigit():
            pads.append((int(iv), int(pad.strip().lstrip("+"))))
    fastest = int(order.group(1).split(",")[0])
    for text in layouts:
        try:
            run = pow2_layout(text, shape).contiguous_elements("register", f"dim{fastest}")
        except Exception:  # noqa: BLE001 - a layout the builders cannot make: no claim
            continue
        vec = max(1, min(run, 16 // max(1, elem_bytes)))
        for iv, pad in pads:
            if vec > 1 and iv % vec == 0 and pad % vec:
                return (f"padded_shared pad of {pad} element(s) every {iv} breaks the "
                        f"{vec * elem_bytes}-byte vector accesses Triton issues for this layout "
                        "(misaligned address)")
    return None


def shared_capacity(params: TargetParams, bytes: int, **_: Any) -> str | None:  # noqa: A002
    cap = int((params.get("shared", {}) or {}).get("capacity_per_block_bytes", 0)) or None
    if cap is not None and int(bytes) > cap:
        return f"{bytes} B of shared memory exceed the {cap} B a CTA may use"
    return None


_RULES = {"tma": tma, "cp_async": cp_async, "direct_to_lds": direct_to_lds,
          "shared_encoding": shared_encoding, "shared_capacity": shared_capacity}


def legality(params: TargetParams, kind: str, **choice: Any) -> str | None:
    """None when `kind` with `choice` is legal on the target of `params`, else the reason."""
    if kind not in _RULES:
        raise ValueError(f"unknown legality kind '{kind}' (known: {', '.join(KINDS)})")
    return _RULES[kind](params, **choice)
