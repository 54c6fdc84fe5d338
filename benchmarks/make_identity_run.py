"""Write an identity run directory (the layout of `eqsat optimize`) to develop the bench and baseline it.

For every kernel of the manifest(s) and target: `input.ttgir` = Triton's TTGIR (eqsat.ingest, the
front end's first stage), `optimized.ttgir` = the same text, `plan.json` = the identity plan
(eqsat.plan.Plan with no choices), `spec.json` = the KernelSpec (paths relative to the repository), and
one `run.json`. Costs are left null: no cost model is wired in yet. Needs only triton (no xdsl/egglog):

    python benchmarks/make_identity_run.py corpora/project.toml --target h100 --out /tmp/identity_run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eqsat  # noqa: E402

if str(ROOT) not in eqsat.__path__:  # eqsat.lowering is ROOT/lowering when eqsat is not installed
    eqsat.__path__.append(str(ROOT))

from eqsat.lowering.rundir import spec_to_json  # noqa: E402

from eqsat.errors import EqsatError  # noqa: E402
from eqsat.ingest import ingest  # noqa: E402
from eqsat.plan import Plan  # noqa: E402


def make_identity_run(manifests: list[str], targets: list[str], out: Path,
                      names: list[str] | None = None) -> list[dict]:
    """Write the run directory; returns the run.json entries."""
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    for manifest in manifests:
        for target in targets:
            for r in ingest(manifest, target, names=names):
                t0 = time.perf_counter()
                entry = {"kernel": r.name, "target": target, "status": "ok", "cost_before": None,
                         "cost_after": None, "changed": False, "egraph_nodes": 0, "seconds": 0.0,
                         "error": None}
                if not r.ok:
                    entry.update(status="error", error=str(r.error))
                    entries.append(entry)
                    continue
                d = out / r.name / target
                d.mkdir(parents=True, exist_ok=True)
                (d / "input.ttgir").write_text(r.ttgir or "")
                (d / "optimized.ttgir").write_text(r.ttgir or "")
                Plan(kernel=r.name, target=target, cost_before={}, cost_after={},
                     extraction={"method": "identity"}).save(d / "plan.json")
                if r.spec is not None and r.spec.kind == "python":
                    (d / "spec.json").write_text(json.dumps(spec_to_json(r.spec), indent=1) + "\n")
                entry["seconds"] = round(time.perf_counter() - t0, 4)
                entries.append(entry)
    (out / "run.json").write_text(json.dumps(entries, indent=1) + "\n")
    return entries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", nargs="+", metavar="MANIFEST")
    ap.add_argument("--target", action="append", dest="targets", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kernel", action="append", dest="names", default=None)
    ns = ap.parse_args(argv)
    try:
        entries = make_identity_run(ns.manifests, ns.targets or ["h100"], Path(ns.out), ns.names)
    except EqsatError as e:
        print(str(e), file=sys.stderr)
        return 2
    bad = [e for e in entries if e["status"] != "ok"]
    print(f"{len(entries) - len(bad)} of {len(entries)} kernel x target written to {ns.out}")
    for e in bad:
        print(e["error"], file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
