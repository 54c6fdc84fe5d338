"""eqsat.costmodels: per-target cost models and target parameter files; filled in by the cost-model issue."""
