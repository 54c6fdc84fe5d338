"""Test oracles for ``eqsat.layout``: libtriton's C++ LinearLayout and Gluon's layout conversion.

Only tests import this module; the implementation never touches libtriton.

* ``to_triton`` / ``from_triton`` convert between our ``LinearLayout`` and
  ``triton._C.libtriton.linear_layout.LinearLayout`` (the algebra oracle).
* ``gluon_distributed_ll(kind, params, shape)`` asks Triton 3.6 for the layout of a distributed
  encoding, through ``GluonOpBuilder.to_linear_layout`` (the C++ ``toLinearLayout`` the compiler
  uses; no compile and no GPU).  libtriton aborts the whole process on a failed assertion, so the
  batch entry point ``oracle_batch`` runs the requests in a child process and returns plain data.

Shared encodings cannot be checked this way in 3.6: ``to_linear_layout`` wraps every result in a
``LinearEncodingAttr`` whose verifier rejects the ``offset`` in-dim (the process aborts), and
``amd_rotating_shared`` / ``padded_shared`` have no conversion there at all.  Their tests use
element-wise reference definitions instead (see ``test_layout_shared.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from eqsat.layout.linear import LinearLayout


def to_triton(ll: LinearLayout) -> Any:
    from triton._C.libtriton.linear_layout import LinearLayout as TLL

    return TLL.from_bases(
        [(n, [list(b) for b in bs]) for n, bs in ll.bases.items()],
        list(ll.out_dims),
        [ll.get_out_dim_size(d) for d in ll.out_dims],
        False,
    )


def from_triton(t: Any) -> LinearLayout:
    return LinearLayout([(n, [tuple(b) for b in bs]) for n, bs in t.bases], list(t.out_dims))


def _gluon_layout(kind: str, p: dict[str, Any]) -> Any:
    from triton.experimental.gluon import language as ttgl
    from triton.experimental.gluon.language import amd

    if kind == "blocked":
        return ttgl.BlockedLayout(
            p["size_per_thread"], p["threads_per_warp"], p["warps_per_cta"], p["order"],
            cga_layout=p.get("cga_layout") or [],
        )
    if kind == "slice":
        return ttgl.SliceLayout(p["dim"], _gluon_layout(p["parent_kind"], p["parent"]))
    if kind == "linear":
        return ttgl.DistributedLinearLayout(p["register"], p["lane"], p["warp"], p["block"], p["shape"])
    if kind == "nvidia_mma":
        return ttgl.NVMMADistributedLayout(
            version=[p["version_major"], p["version_minor"]], warps_per_cta=p["warps_per_cta"],
            instr_shape=p["instr_shape"],
        )
    if kind == "amd_mfma":
        return amd.AMDMFMALayout(
            p["version"], p["instr_shape"], p["is_transposed"], p["warps_per_cta"],
            element_bitwidth=p.get("element_bitwidth"), tiles_per_warp=p.get("tiles_per_warp"),
        )
    if kind == "dot_operand":
        return ttgl.DotOperandLayout(p["op_idx"], _gluon_layout(p["parent_kind"], p["parent"]), p["k_width"])
    raise ValueError(kind)


def _child(requests: list[dict[str, Any]]) -> list[Any]:
    from triton._C.libtriton import gluon_ir, ir

    ctx = ir.context()
    ir.load_dialects(ctx)
    b = gluon_ir.GluonOpBuilder(ctx)
    out = []
    for r in requests:
        lay = b.to_linear_layout(_gluon_layout(r["kind"], r["params"])._to_ir(b), list(r["shape"]))
        out.append({
            "register": lay.reg_bases, "lane": lay.lane_bases, "warp": lay.warp_bases,
            "block": lay.block_bases, "shape": list(lay.shape),
        })
    return out


def oracle_batch(requests: list[dict[str, Any]], timeout: float = 120.0) -> list[dict[str, Any]]:
    """Run Gluon's ``to_linear_layout`` on every ``{"kind", "params", "shape"}`` in a child process."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, json; sys.path.insert(0, sys.argv[1]); "
         "from layout_oracle import _child; print(json.dumps(_child(json.load(sys.stdin))))",
         os.path.dirname(os.path.abspath(__file__))],
        input=json.dumps(requests), capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"oracle child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def oracle_to_ll(res: dict[str, Any]) -> LinearLayout:
    """Gluon's DistributedLinearLayout fields as one of our layouts (out dims dim0..dimN-1)."""
    rank = len(res["shape"])
    return LinearLayout(
        {k: [tuple(b) for b in res[k]] for k in ("register", "lane", "warp", "block")},
        [(f"dim{i}", s) for i, s in enumerate(res["shape"])] if rank else [],
    )


if __name__ == "__main__":  # pragma: no cover - manual use
    print(_child(json.load(sys.stdin)))
