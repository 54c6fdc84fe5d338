"""eqsat: an equality-saturation optimizer for how Triton GPU kernels move data.

Pipeline (one module per arrow, see ../shared/design.md): ingest -> ir (parse TTGIR into typed xDSL)
-> dm (lift data movement) -> egraph (rules/) -> extract (costmodels/) -> lowering/.
"""

__version__ = "0.1.0"
