"""eqsat.egraph: the dm graph as egglog terms, the saturation schedule with limits, and extraction."""
