"""Non-power-of-two shapes: a layout for the next power of two plus a guard (mask).

Triton only builds layouts for power-of-two shapes.  A ``tl.arange``/load over a tensor of extent
``n`` that is not a power of two runs on the padded shape ``next_pow2(n)`` and masks the
elements at or beyond ``n``.  ``GuardedLayout`` keeps that pair and answers the waste questions a
cost model asks: how many registers/lanes/warps hold masked elements, how many bytes are masked.

``build(kind, params, shape)`` is the one entry point for every encoding kind: it builds the
layout for the padded shape and returns a plain ``LinearLayout`` when the shape is already a
power of two, a ``GuardedLayout`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np

from . import distributed, shared
from .linear import LinearLayout, is_pow2, next_pow2
from .shape import standard_out_dims


@dataclass(frozen=True)
class GuardedLayout:
    """``layout`` built for ``padded_shape`` (powers of two) with ``valid_shape`` elements real.

    An element ``(i0, ..., iN)`` is valid when ``ik < valid_shape[k]`` for every dim.
    """

    layout: LinearLayout
    valid_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "valid_shape", tuple(int(s) for s in self.valid_shape))
        names = standard_out_dims(len(self.valid_shape))
        if list(self.layout.out_dims) != names:
            raise ValueError(f"layout out-dims {self.layout.out_dims} are not {names}")
        for n, v in zip(names, self.valid_shape, strict=True):
            if not 0 < v <= self.layout.get_out_dim_size(n):
                raise ValueError(
                    f"valid extent {v} of {n} outside padded size {self.layout.get_out_dim_size(n)}"
                )

    @property
    def padded_shape(self) -> tuple[int, ...]:
        return tuple(self.layout.get_out_dim_size(d) for d in self.layout.out_dims)

    @property
    def is_exact(self) -> bool:
        return self.padded_shape == self.valid_shape

    @cached_property
    def _valid_all(self) -> np.ndarray:
        """Validity of every flattened input (first in-dim least significant)."""
        out = self.layout.apply_all()
        ok = np.ones(out.shape[0], dtype=bool)
        for j, v in enumerate(self.valid_shape):
            ok &= out[:, j] < v
        ok.setflags(write=False)
        return ok

    def valid_mask(self, in_dims_order: Sequence[str] | None = None) -> np.ndarray:
        """Boolean array indexed by the in-dims (C order, in ``in_dims_order``, default the
        layout's order reversed so that ``mask[block, warp, lane, register]`` reads naturally)."""
        ins = list(self.layout.in_dims)
        order = list(in_dims_order) if in_dims_order is not None else ins[::-1]
        sizes = [self.layout.get_in_dim_size(d) for d in ins]
        arr = self._valid_all.reshape(sizes[::-1])  # axes: last in-dim first
        axes_names = ins[::-1]
        return np.transpose(arr, [axes_names.index(d) for d in order])

    def is_valid(self, inputs: Mapping[str, int]) -> bool:
        out = self.layout.apply(inputs)
        return all(out[d] < v for d, v in zip(self.layout.out_dims, self.valid_shape, strict=True))

    def num_masked(self) -> int:
        """Hardware slots (all inputs) that hold a masked element."""
        return int((~self._valid_all).sum())

    def num_valid(self) -> int:
        return int(self._valid_all.sum())

    def waste_fraction(self) -> float:
        """Masked slots / all slots (broadcast copies counted like any slot)."""
        return self.num_masked() / self.layout.total_in_size()

    def masked_bytes(self, elem_bits: int) -> int:
        """Bytes of the masked slots for an element of ``elem_bits`` bits."""
        return self.num_masked() * elem_bits // 8

    def masked_per(self, in_dim: str) -> np.ndarray:
        """For each value of ``in_dim``, how many slots over all other in-dims are masked."""
        m = self.valid_mask([in_dim] + [d for d in self.layout.in_dims if d != in_dim])
        return (~m).reshape(m.shape[0], -1).sum(axis=1)

    def fully_masked(self, in_dim: str) -> np.ndarray:
        """For each value of ``in_dim``, whether every slot it owns is masked (e.g. idle lanes)."""
        m = self.valid_mask([in_dim] + [d for d in self.layout.in_dims if d != in_dim])
        return (~m).reshape(m.shape[0], -1).all(axis=1)

    def masked_in_group(self, in_dim: str, group: Mapping[str, int]) -> int:
        """How many values of ``in_dim`` are masked with the other in-dims fixed to ``group``
        (missing ones 0), e.g. masked lanes of warp 1 at register 0:
        ``masked_in_group("lane", {"warp": 1, "register": 0})``."""
        n = self.layout.get_in_dim_size(in_dim)
        vals = np.arange(n)
        inputs: dict[str, Any] = {d: group.get(d, 0) for d in self.layout.in_dims if d != in_dim}
        inputs[in_dim] = vals
        out = self.layout.apply_array(inputs)
        ok = np.ones(n, dtype=bool)
        for d, v in zip(self.layout.out_dims, self.valid_shape, strict=True):
            ok &= out[d] < v
        return int((~ok).sum())

    def masked_lanes_per_warp(self, register: int = 0, block: int = 0) -> np.ndarray:
        """For each warp: how many of its lanes hold a masked element at ``register``."""
        nw = self.layout.get_in_dim_size("warp") if self.layout.has_in_dim("warp") else 1
        return np.array([self.masked_in_group("lane", {"warp": w, "register": register, "block": block})
                         for w in range(nw)])

    def masked_registers_per_thread(self) -> np.ndarray:
        """``[block, warp, lane]`` -> number of masked registers of that thread."""
        m = self.valid_mask(["block", "warp", "lane", "register"] if self.layout.has_in_dim("block")
                            else None)
        return (~m).sum(axis=-1)


def _parent(params: Mapping[str, Any]) -> distributed.NvidiaMmaParams | distributed.AmdMfmaParams:
    kind = params["parent_kind"]
    p = dict(params["parent"])
    if kind == "nvidia_mma":
        return distributed.NvidiaMmaParams(
            p["version_major"], p["version_minor"], tuple(p["warps_per_cta"]), tuple(p["instr_shape"]),
            p.get("cta_layout"))
    if kind == "amd_mfma":
        tpw = p.get("tiles_per_warp")
        return distributed.AmdMfmaParams(
            p["version"], tuple(p["warps_per_cta"]), tuple(p["instr_shape"]), bool(p["is_transposed"]),
            tuple(tpw) if tpw else None, p.get("element_bitwidth"), p.get("cta_layout"))
    raise ValueError(f"unsupported dot_operand parent kind {kind!r}")


def build_pow2(kind: str, params: Mapping[str, Any], shape: Sequence[int]) -> LinearLayout:
    """Build encoding ``kind`` (TTGIR name, snake_case fields) for a power-of-two ``shape``."""
    p = dict(params)
    shape = tuple(int(s) for s in shape)
    if kind == "blocked":
        return distributed.blocked(p["size_per_thread"], p["threads_per_warp"], p["warps_per_cta"],
                                   p["order"], p.get("cta_layout"), shape=shape)
    if kind == "slice":
        return distributed.slice(p["dim"], partial(build_pow2, p["parent_kind"], p["parent"]), shape)
    if kind == "linear":
        return distributed.linear(p["register"], p["lane"], p["warp"], p.get("block", []), shape=shape)
    if kind == "nvidia_mma":
        return distributed.nvidia_mma(p["version_major"], p["version_minor"], p["warps_per_cta"],
                                      p["instr_shape"], p.get("cta_layout"), shape=shape)
    if kind == "amd_mfma":
        return distributed.amd_mfma(p["version"], p["warps_per_cta"], p["instr_shape"],
                                    p["is_transposed"],
                                    p.get("cta_layout"), shape=shape, tiles_per_warp=p.get("tiles_per_warp"),
                                    element_bitwidth=p.get("element_bitwidth"))
    if kind == "dot_operand":
        return distributed.dot_operand(p["op_idx"], _parent(p), p["k_width"], shape=shape)
    if kind == "swizzled_shared":
        return shared.swizzled_shared(p["vec"], p["per_phase"], p["max_phase"], p["order"],
                                      p.get("cta_layout"), shape=shape)
    if kind == "amd_rotating_shared":
        return shared.amd_rotating_shared(p["vec"], p["per_phase"], p["max_phase"], p["order"],
                                          p.get("cta_layout"), shape=shape)
    if kind == "nvmma_shared":
        return shared.nvmma_shared(p["swizzling_byte_width"], p["transposed"], p["element_bit_width"],
                                   p.get("cta_layout"), shape=shape, fp4_padded=p.get("fp4_padded", False))
    if kind == "shared_linear":
        return shared.shared_linear(p["offset"], p.get("block", []), shape=shape)
    if kind == "padded_shared":
        return shared.padded_shared(p["intervals_pads"], p["order"], shape=shape,
                                    offset_bases=p.get("offset")).linear
    raise ValueError(f"unknown encoding kind {kind!r}")


def build(kind: str, params: Mapping[str, Any], shape: Sequence[int]) -> LinearLayout | GuardedLayout:
    """Like ``build_pow2`` for any positive ``shape``: non-power-of-two extents are padded to the
    next power of two and the result is a ``GuardedLayout``."""
    shape = tuple(int(s) for s in shape)
    if any(s <= 0 for s in shape):
        raise ValueError(f"shape {shape} has a non-positive extent")
    if all(is_pow2(s) for s in shape):
        return build_pow2(kind, params, shape)
    padded = tuple(next_pow2(s) for s in shape)
    return GuardedLayout(build_pow2(kind, params, padded), shape)
