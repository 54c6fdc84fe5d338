"""Parse, print, compile: for every corpus kernel and both targets the printed module is Triton's text
again, and a canonical print (every encoding inline, attributes from their typed values, no locations)
compiles to the same machine code as Triton's own TTGIR."""

from __future__ import annotations

import pytest
from corpus_cases import corpus_cases, ingested

from eqsat.ir.compile import compile_ttgir
from eqsat.ir.parser import parse_ttgir
from eqsat.ir.printer import print_ttgir

CASES = corpus_cases()


def test_corpus_is_large_enough():
    kernels = {(m, k) for m, k, _ in CASES}
    assert len(kernels) >= 30
    assert {t for _, _, t in CASES} == {"h100", "mi300x"}


@pytest.mark.parametrize(("manifest", "kernel", "target"), CASES,
                         ids=[f"{k}-{t}" for _, k, t in CASES])
def test_parse_print_compile_identical(manifest: str, kernel: str, target: str):
    result = ingested(manifest, target)[kernel]
    assert result.ok, result.error
    module = parse_ttgir(result.ttgir, f"{kernel}.ttgir")
    assert print_ttgir(module) == result.ttgir
    canonical = print_ttgir(module, canonical=True)
    assert canonical != result.ttgir
    original = compile_ttgir(result.ttgir, target, kernel)
    printed = compile_ttgir(canonical, target, kernel)
    assert printed.text == original.text
    assert printed.binary == original.binary
