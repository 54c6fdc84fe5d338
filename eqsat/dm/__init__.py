"""The data-movement graph: the `dm` xDSL dialect (`dialect`), the address analysis that classifies
global accesses (`address`), the lift from parsed TTGIR (`lift`: `lift(module)`, `print_dm`) and the
JSON contract (`json`: `to_json`)."""

from eqsat.dm.dialect import DM, KIND_OPS, KINDS, AccessAttr, DMOp, KernelOp, LayoutAttr

__all__ = ["DM", "KINDS", "KIND_OPS", "AccessAttr", "DMOp", "KernelOp", "LayoutAttr"]
