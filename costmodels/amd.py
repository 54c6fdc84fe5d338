"""The AMD CDNA3 cost model (mi300x, gfx942): wave64, LDS phase tables per ds_read/ds_write width,
`ds_bpermute` shuffles, no TMA and no cp.async (direct-to-LDS `buffer_load ... lds` of 1/2/4 bytes per
lane instead). Counting is shared with NVIDIA (`eqsat.costmodels.common.MovementModel`); the numbers
come from costmodels/params/mi300x.toml and the legality rules from `eqsat.costmodels.legality`."""

from __future__ import annotations

from eqsat.costmodels.base import register_model
from eqsat.costmodels.common import MovementModel


@register_model("amd")
class AmdModel(MovementModel):
    """CDNA3: wavefronts of 64 lanes, 128 B/clk LDS per CU; shuffles run on the LDS hardware."""
