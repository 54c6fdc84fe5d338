"""eqsat: an equality-saturation optimizer for how Triton GPU kernels move data.

Pipeline (one module per arrow, see ../shared/design.md): ingest -> ir (parse TTGIR into typed xDSL)
-> dm (lift data movement) -> egraph (rules/) -> extract (costmodels/) -> lowering/.
"""

__version__ = "0.1.0"


def optimize(ttgir_text: str, target: str = "h100", **kwargs):  # noqa: ANN201 - lazy: eqsat.plan.Plan
    """Optimize one TTGIR text for `target` and return its Plan (see eqsat.optimize.optimize)."""
    from eqsat.optimize import optimize as _optimize

    return _optimize(ttgir_text, target, **kwargs)
