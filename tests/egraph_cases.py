"""dm JSON kernels of the bundled corpora, lifted once per (manifest, target), for the e-graph tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = str(ROOT / "corpora" / "project.toml")
SMALL = ("gather_rows_warp_local", "embedding_lookup", "pipelined_row_sum", "matmul_fp16", "tma_copy_scale",
         "rope_interleave", "histogram_atomic", "paged_kv_gather")


@cache
def kernels(manifest: str, target: str) -> dict[str, object]:
    """kernel name -> KernelIR (lifted) for every kernel of `manifest` that compiles for `target`."""
    from eqsat.pipeline import front_end

    return {k.name: k for k in front_end([manifest], [target]) if k.ok}


@cache
def dm_kernel(manifest: str, name: str, target: str) -> dict:
    from eqsat.dm.json import dm_to_json

    return dm_to_json(kernels(manifest, target)[name].dm)
