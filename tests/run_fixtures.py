"""Small real runs of `eqsat optimize` for the store and report tests: a TTGIR file and two manifest
kernels (gather_rows_1024, whose plan changes the machine code, and transpose_2d, an identity plan) on
h100 and mi300x, written into one run directory as `eqsat optimize a b` writes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ("gather_rows_1024", "transpose_2d")


def subset_manifest(dest: Path, names: tuple[str, ...] = KERNELS) -> Path:
    """The project manifest's entries `names`, with their paths made absolute."""
    entries = (ROOT / "corpora" / "project.toml").read_text().split("[[kernel]]")[1:]
    keep = [e for e in entries if any(f'name = "{n}"' in e for n in names)]
    dest.write_text("".join("[[kernel]]" + e.replace('path = "project/', f'path = "{ROOT}/corpora/project/')
                            for e in keep))
    return dest


def make_run(out: Path, options=None) -> Path:
    from eqsat.optimize import OptimizeOptions, optimize_paths

    opts = options or OptimizeOptions()
    rows = optimize_paths([str(ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir")], ["h100"], out, opts)
    part = out.parent / f"{out.name}.part"
    rows += optimize_paths([str(subset_manifest(out.parent / f"{out.name}.toml"))], ["h100", "mi300x"], part,
                           opts)
    assert all(r["status"] == "ok" for r in rows), rows
    for d in part.iterdir():
        if d.is_dir():
            shutil.copytree(d, out / d.name)
    merged = json.loads((out / "run.json").read_text()) + json.loads((part / "run.json").read_text())
    (out / "run.json").write_text(json.dumps(merged, indent=2) + "\n")
    shutil.rmtree(part)
    return out
