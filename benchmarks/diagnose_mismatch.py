"""Where a variant's output differs from Triton's JIT (GPU side; torch + triton only, imports as
benchmarks/alternatives_gpu.py): per output, differing elements, their rows and columns, the largest
difference, and whether the variant and the JIT each repeat their own bits.

    python benchmarks/diagnose_mismatch.py KERNEL_DIR VARIANT.ttgir [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eqsat  # noqa: E402

if str(ROOT) not in eqsat.__path__:
    eqsat.__path__.append(str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="diagnose_mismatch.py", description=__doc__.splitlines()[0])
    ap.add_argument("kdir", type=Path)
    ap.add_argument("variant", nargs="+")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    import torch
    from eqsat.lowering.bench import _Case, raw_equal
    from eqsat.lowering.loader import ensure_allocator, load
    from eqsat.lowering.rundir import read_spec

    from eqsat.ingest.compile import load_function

    ensure_allocator()
    spec = read_spec(args.kdir)
    fn = load_function(spec)
    for name, launch in [("launch", spec.launch)] + spec.production_shapes()[:1]:
        ident = load(args.kdir, ttgir="input.ttgir")
        case = _Case(spec, launch, fn, ident, args.seed)
        case.run_jit()
        base = [case.run(case.baseline_launch) for _ in range(args.repeat)]
        print(f"[{name}] grid {case.grid}; JIT repeats itself: "
              f"{all(raw_equal(base[0][n], b[n]) for b in base for n in case.outputs)}")
        for vname in ["input.ttgir", *args.variant]:
            opt = load(args.kdir, ttgir=vname)
            launcher = opt.launcher(**case.args, grid=case.grid)
            outs = [case.run(launcher) for _ in range(args.repeat)]
            rep = all(raw_equal(outs[0][n], o[n]) for o in outs for n in case.outputs)
            for n in case.outputs:
                a, b = base[0][n], outs[0][n]
                if a.dtype.is_floating_point:
                    diff = (a.view(torch.int16 if a.element_size() == 2 else torch.int32)
                            != b.view(torch.int16 if b.element_size() == 2 else torch.int32))
                else:
                    diff = a != b
                k = int(diff.sum())
                line = f"  {vname:12} {n}: {k} of {diff.numel()} elements differ; repeats itself: {rep}"
                if k:
                    idx = diff.nonzero()
                    rows = idx[:, 0].unique() if idx.shape[1] > 1 else idx[:, 0]
                    cols = idx[:, -1].unique()
                    maxd = float((a.float() - b.float()).abs()[diff].max())
                    line += (f"; rows {rows.numel()} (first {rows[:6].tolist()}), cols {cols.numel()} "
                             f"(first {cols[:8].tolist()}), max |diff| {maxd:.4g}")
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
