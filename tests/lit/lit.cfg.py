"""lit configuration: IR tests as `.ttgir`/`.mlir` files with RUN lines, checked by FileCheck.

Run with `lit tests/lit` (the README's test command runs it through pytest, tests/test_lit.py).
Substitutions: `eqsat` is the installed CLI; `filecheck` the Python FileCheck.
"""

import os
import shutil
import sys

import lit.formats

config.name = "eqsat"  # noqa: F821
config.test_format = lit.formats.ShTest(execute_external=False)  # noqa: F821
config.suffixes = [".ttgir", ".mlir"]  # noqa: F821
config.test_source_root = os.path.dirname(__file__)  # noqa: F821
config.excludes = ["Output", "lit.cfg.py", "tools"]  # noqa: F821
config.environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")  # noqa: F821
for var in ("HOME", "EQSAT_CACHE_DIR", "TRITON_CACHE_DIR", "TRITON_HOME"):
    if var in os.environ:
        config.environment[var] = os.environ[var]  # noqa: F821
eqsat_cli = shutil.which("eqsat", path=config.environment["PATH"]) or "eqsat"  # noqa: F821
config.substitutions.append(("%eqsat", eqsat_cli))  # noqa: F821
config.substitutions.append(("%python", sys.executable))  # noqa: F821
