"""eqsat.lowering: plan to TTGIR, compile, runtime loader and GPU bench; filled in by the lowering issue."""
