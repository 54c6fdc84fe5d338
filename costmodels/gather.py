"""`tt.gather` as Triton 3.6 lowers it (lib/Conversion/TritonGPUToLLVM/GatherOpToLLVM.cpp).

`GatherLoweringHelper::isWarpLocal` (lib/Analysis/Utility.cpp) decides the path:

* warp-local (no block/warp basis of the source or index layout moves along the gather axis, both map
  (block, warp) and lanes onto the other dims identically): `emitWarpLocalGather` -- every index
  element a thread holds is fetched with one `shfl.sync.idx` per source register of its column (the
  registers that differ only along the gather axis), then selected among them. Rounds per thread =
  index registers x source registers along the axis: the cost grows with the gathered extent, which is
  why the shuffle gather loses to an indirect global load past ~512 gathered rows (facts/hardware.md).
  Each shuffle also needs its source lane computed from the index and a select: counted as
  `GATHER_ALU_PER_SHUFFLE` ALU instructions (`shuffle_selects`).
* otherwise `emitGatherInShared`: the whole source tile is stored to shared memory, one barrier, and
  each index element is one scalar `ld.shared` at a data-dependent (random) address. Its price is the
  expectation over uniformly random indices (`random_load_wavefronts`): per phase of lanes, the worst
  bank's number of distinct words (lanes hitting one word are served together), like a birthday problem
  (about 3.3-3.5 wavefronts for 32 lanes of 4-byte words; H200, gather_1d_cross_warp: 141 predicted vs
  142 measured wavefronts and 77 vs 78 conflicts per CTA, Nsight Compute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from eqsat.layout import LinearLayout

GATHER_ALU_PER_SHUFFLE = 3  # source-lane arithmetic (and, shift) + the select after the shuffle


@dataclass
class GatherPlan:
    warp_local: bool
    index_registers: int  # per thread, broadcast removed
    source_registers_along_axis: int  # per thread and column
    shuffles_per_thread: int
    alu_per_thread: int
    source_elements: int  # per CTA (shared path: stored once)
    index_elements_per_thread: int


def _along(ll: LinearLayout, dims: list[str], out: str) -> list[list[int]]:
    j = ll.out_dims.index(out)
    return [b for d in dims if ll.has_in_dim(d) for b in ll.in_bases(d) if b[j]]


def _sub(ll: LinearLayout, in_dims: list[str], outs: list[str]) -> list[list[int]]:
    idx = [ll.out_dims.index(o) for o in outs]
    return [[b[i] for i in idx] for d in in_dims if ll.has_in_dim(d) for b in ll.in_bases(d)]


def is_warp_local(src: LinearLayout, index: LinearLayout, axis: int) -> bool:
    """`GatherLoweringHelper::isWarpLocal`."""
    gdim = f"dim{axis}"
    if _along(src, ["block", "warp"], gdim) or _along(index, ["block", "warp"], gdim):
        return False
    others = [d for d in src.out_dims if d != gdim]
    if _sub(src, ["block", "warp"], others) != _sub(index, ["block", "warp"], others):
        return False
    return _sub(src, ["lane"], others) == _sub(index, ["lane"], others)


def plan_gather(src: LinearLayout, index: LinearLayout, axis: int) -> GatherPlan:
    gdim = f"dim{axis}"
    idx_regs = 1 << sum(1 for b in index.in_bases("register") if any(b))
    src_axis_regs = 1 << len(_along(src, ["register"], gdim))
    source_elements = src.total_out_size()
    if is_warp_local(src, index, axis):
        shuffles = idx_regs * src_axis_regs
        return GatherPlan(True, idx_regs, src_axis_regs, shuffles, GATHER_ALU_PER_SHUFFLE * shuffles,
                          source_elements, idx_regs)
    return GatherPlan(False, idx_regs, src_axis_regs, 0, 0, source_elements, idx_regs)


RANDOM_LOAD_TRIALS = 4096  # Monte Carlo draws of the expectation (fixed seed: deterministic, +-0.02)


@lru_cache(maxsize=256)
def random_load_wavefronts(elements: int, elem_bytes: int, warp_size: int = 32, banks: int = 32,
                           bank_bytes: int = 4, wavefront_bytes: int = 128) -> tuple[float, int]:
    """(expected wavefronts, ideal wavefronts) of one warp-wide scalar shared load whose lanes read
    uniformly random elements of a buffer of `elements` elements of `elem_bytes` bytes.

    Lanes are served in phases of `wavefront_bytes / max(elem_bytes, bank_bytes)` lanes (one phase for
    32-bit loads of 32 lanes, two half-warps for 64-bit ones); a phase costs the largest number of
    distinct words that fall into one bank. Ideal: `ceil(warp bytes / wavefront_bytes)`."""
    rng = np.random.default_rng(12345)
    idx = rng.integers(0, max(1, elements), size=(RANDOM_LOAD_TRIALS, warp_size))
    words_per_elem = max(1, elem_bytes // bank_bytes)
    first_word = idx * elem_bytes // bank_bytes
    lanes_per_phase = max(1, wavefront_bytes // max(elem_bytes, bank_bytes))
    total = np.zeros(RANDOM_LOAD_TRIALS)
    for start in range(0, warp_size, lanes_per_phase):
        words = np.concatenate([first_word[:, start:start + lanes_per_phase] + w
                                for w in range(words_per_elem)], axis=1)
        worst = np.zeros(RANDOM_LOAD_TRIALS)
        for t in range(RANDOM_LOAD_TRIALS):
            distinct = np.unique(words[t])
            worst[t] = np.bincount(distinct % banks, minlength=banks).max()
        total += worst
    ideal = math.ceil(warp_size * elem_bytes / wavefront_bytes)
    return float(total.mean()), ideal
