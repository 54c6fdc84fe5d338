"""The NVIDIA Hopper cost model (h100, h200): shared-memory banks of 32 lanes, warp shuffles, TMA and
cp.async; the counting is shared with AMD in `eqsat.costmodels.common.MovementModel`, the numbers come
from costmodels/params/h100.toml / h200.toml and the legality rules from `eqsat.costmodels.legality`."""

from __future__ import annotations

from eqsat.costmodels.base import register_model
from eqsat.costmodels.common import MovementModel


@register_model("nvidia")
class NvidiaModel(MovementModel):
    """Hopper (sm_90): warps of 32, 128 B/clk shared memory per SM, TMA and cp.async legal."""
