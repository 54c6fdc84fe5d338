"""The issue-10 reproducer kernels, defined once in the corpus (corpora/project/serving.py) and shared
by the tests that compile them directly (lift_serving_kernels, plan_kernels)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SERVING = Path(__file__).resolve().parents[1] / "corpora" / "project" / "serving.py"
_NAME = "eqsat_corpus_project_serving"

if _NAME in sys.modules:
    _serving = sys.modules[_NAME]
else:
    _spec = importlib.util.spec_from_file_location(_NAME, SERVING)
    assert _spec is not None and _spec.loader is not None
    _serving = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _serving
    _spec.loader.exec_module(_serving)

early_return = _serving.early_return
scalar_base_copy = _serving.scalar_base_copy
copy_row_to_runtime_offset = _serving.copy_row_to_runtime_offset
