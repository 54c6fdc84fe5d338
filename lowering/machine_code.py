"""Compile a TTGIR text for a target and compare the machine code of two texts: the honest `changed` of
`run.json` (a plan whose lowering compiles to the same code as the input changed nothing).

Code is compared as the binary (cubin / hsaco); line information is off in both compiles
(`eqsat.ir.compile`), so locations cannot make equal code differ.
"""

from __future__ import annotations

from eqsat.ir.compile import MachineCode, compile_ttgir
from eqsat.targets import Target


def compile_text(text: str, target: str | Target, name: str = "kernel") -> MachineCode:
    """PTX + cubin (h100, h200) or AMDGCN + hsaco (mi300x) of a TTGIR text; `EqsatError` if Triton
    rejects it."""
    return compile_ttgir(text, target, name)


def same_code(a: MachineCode, b: MachineCode) -> bool:
    return a.binary == b.binary and a.text == b.text


def machine_code_differs(input_text: str, optimized_text: str, target: str | Target,
                         name: str = "kernel") -> bool:
    """Whether the optimized text compiles to other machine code than the input text."""
    if input_text == optimized_text:
        return False
    return not same_code(compile_text(input_text, target, name), compile_text(optimized_text, target, name))
