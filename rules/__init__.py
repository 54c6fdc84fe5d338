"""eqsat.rules: rewrite-rule families (gather, convert, swizzle, staging); filled in by the e-graph issue."""
