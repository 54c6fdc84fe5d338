"""Mirror dialects of Triton's IR in xDSL: typed definitions of the ops that move data, an opaque op
for everything else."""

from eqsat.ir.dialects.amdg import AMDG_OPS
from eqsat.ir.dialects.base import OpaqueOp, TritonOp, op_name_of, syntax_of
from eqsat.ir.dialects.tt import TT_OPS
from eqsat.ir.dialects.ttg import TTG_OPS
from eqsat.ir.dialects.ttng import TTNG_OPS

TYPED_OPS: dict[str, type[TritonOp]] = {cls.name: cls for cls in [*TT_OPS, *TTG_OPS, *TTNG_OPS, *AMDG_OPS]}

__all__ = ["TYPED_OPS", "OpaqueOp", "TritonOp", "op_name_of", "syntax_of"]
