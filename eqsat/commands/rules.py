"""`eqsat rules list|check|coverage`: the rule library, its soundness checks, and where rules fire.

    eqsat rules list
        a table: name, family, soundness, plan choice, preconditions
    eqsat rules check [--rule NAME] [--examples N] [--seed S]
        runs every rule's check on seeds S..S+N-1; one line per rule (ok, or FAIL and the first
        counterexample); exit 1 when any rule fails
    eqsat rules coverage PATH... --target T [--format text|json] [--iterations K]
        ingests the kernels, encodes them (eqsat.egraph.encode), seeds and runs each family's ruleset for
        K iterations in phase order, and reports the matches of every rule
    eqsat rules ablate PATH... --target T [--by family|rule] [--disable R] [--bench FILE.json] [--out DIR]
        optimizes the kernels with every rule (or family) and then with each one switched off; reports,
        per rule, the kernels whose plan changes and the predicted cost of losing it (and with a bench
        report of the full run, the measured speedup of the plans it made)

Every subcommand takes `--rules PATH.py|module` (repeatable): user rule families, validated and plugged
into the registry next to the built-in ones (eqsat.rules.user); `check` prints, for a rule with an
`examples` strategy, the smallest counterexample hypothesis shrinks to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from eqsat.errors import EqsatError


def _add_rules_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", action="append", dest="rule_sources", default=[], metavar="PATH.py|MODULE",
                   help="also load the rule family in this file or module (repeatable)")


def _selection(args: argparse.Namespace) -> Any:
    from eqsat.rules.user import RuleSelection

    return RuleSelection(sources=tuple(getattr(args, "rule_sources", []) or ()),
                         only=tuple(getattr(args, "only", []) or ()),
                         disable=tuple(getattr(args, "disable", []) or ()))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("rules", help="list, check, ablate or measure the coverage of the rules")
    sub = p.add_subparsers(dest="rules_command", required=True)
    ls = sub.add_parser("list", help="the rules with their soundness obligation and preconditions")
    _add_rules_option(ls)
    ls.set_defaults(func=run_list)
    ck = sub.add_parser("check", help="prove or test every rule; exit 1 on any failure")
    _add_rules_option(ck)
    ck.add_argument("--rule", action="append", dest="rules", metavar="NAME", help="only this rule (repeat)")
    ck.add_argument("--examples", type=int, default=20, metavar="N", help="random instances per rule")
    ck.add_argument("--seed", type=int, default=0, metavar="S", help="first seed")
    ck.set_defaults(func=run_check)
    cv = sub.add_parser("coverage", help="which rules fire on which corpus kernels")
    cv.add_argument("paths", nargs="+", metavar="PATH", help="a corpus manifest (.toml) or .ttgir file")
    cv.add_argument("--target", required=True, help="target name (h100, h200, mi300x)")
    cv.add_argument("--format", choices=("text", "json"), default="text")
    cv.add_argument("--iterations", type=int, default=3, metavar="K", help="egglog iterations per family")
    _add_rules_option(cv)
    cv.set_defaults(func=run_coverage)
    ab = sub.add_parser("ablate", help="optimize with each rule or family switched off: which rules pay")
    ab.add_argument("paths", nargs="+", metavar="PATH", help="a corpus manifest (.toml) or .ttgir file")
    ab.add_argument("--target", required=True, help="target name (h100, h200, mi300x)")
    ab.add_argument("--by", choices=("family", "rule"), default="family")
    ab.add_argument("--bench", metavar="FILE.json", help="an `eqsat bench` report of the full run")
    ab.add_argument("--out", metavar="DIR", help="where the runs go (default: a temporary directory)")
    ab.add_argument("--jobs", type=int, default=2, metavar="N")
    ab.add_argument("--format", choices=("text", "json"), default="text")
    ab.add_argument("--disable", action="append", default=[], metavar="FAMILY|RULE",
                    help="switched off in every run, the full one included (repeatable)")
    _add_rules_option(ab)
    ab.set_defaults(func=run_ablate)


def _selected(names: list[str] | None, selection: Any = None) -> list[Any]:
    from eqsat.rules import all_rules

    rules = all_rules(selection)
    if not names:
        return rules
    known = {r.name: r for r in rules}
    missing = [n for n in names if n not in known]
    if missing:
        raise EqsatError(f"no rule named '{missing[0]}' (see `eqsat rules list`)")
    return [known[n] for n in names]


def run_list(args: argparse.Namespace) -> int:
    rules = _selected(None, _selection(args))
    w = max(len(r.name) for r in rules)
    print(f"{'rule':{w}}  {'family':8}  {'soundness':11}  {'plan choice':15}  preconditions")
    print("-" * (w + 60))
    for r in rules:
        print(f"{r.name:{w}}  {r.family:8}  {r.soundness:11}  {r.plan_choice or '-':15}  {r.preconditions}")
    return 0


def check_rules(rules: list[Any], examples: int, first_seed: int = 0) -> list[tuple[str, str | None, float]]:
    """(rule name, first counterexample or None, seconds) per rule; a rule with an `examples` strategy
    reports the smallest counterexample (eqsat.testing.counterexample)."""
    from eqsat.testing import counterexample

    out = []
    for r in rules:
        t0 = time.perf_counter()
        failure = counterexample(r, examples, first_seed)
        out.append((r.name, failure, time.perf_counter() - t0))
    return out


def run_check(args: argparse.Namespace) -> int:
    if args.examples < 1:
        raise EqsatError("--examples must be at least 1")
    results = check_rules(_selected(args.rules, _selection(args)), args.examples, args.seed)
    for name, failure, seconds in results:
        if failure is None:
            print(f"ok    {name}  ({args.examples} examples, {seconds:.1f} s)")
        else:
            print(f"FAIL  {name}: {failure}")
    failed = sum(1 for _, f, _ in results if f is not None)
    print(f"{len(results) - failed} of {len(results)} rules sound on {args.examples} examples each",
          file=sys.stderr)
    return 1 if failed else 0


def coverage(paths: list[str], target: str, iterations: int = 3,
             selection: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Per kernel: {"kernel", "target", "matches": {rule: n}, "error"}; plus notes (e.g. no cost model)."""
    from egglog import run

    from eqsat.dm.json import dm_to_json
    from eqsat.egraph.encode import encode_kernel
    from eqsat.pipeline import front_end
    from eqsat.rules import families, matches_by_rule
    from eqsat.targets import TARGETS

    if target not in TARGETS:
        raise EqsatError(f"unknown target '{target}' (known: {', '.join(TARGETS)})")
    notes: list[str] = []
    try:
        from eqsat.costmodels.base import model_for

        model = model_for(target)
    except (KeyError, ImportError) as e:
        model = None
        notes.append(f"no cost model for {target} ({e}): legality facts (staging, encodings) not seeded")
    fams = families(selection)
    rows: list[dict[str, Any]] = []
    for k in front_end(paths, [target], lift=True):
        if not k.ok:
            rows.append({"kernel": k.name, "target": target, "matches": {}, "error": str(k.error)})
            continue
        kernel = dm_to_json(k.dm)
        encoded = encode_kernel(kernel, target)
        counts: dict[str, int] = {}
        error = None
        try:
            for fam in fams:
                fam.seed(encoded.egraph, encoded, model)
                report = encoded.egraph.run(run(fam.ruleset) * iterations)
                for name, n in matches_by_rule(report.num_matches_per_rule).items():
                    if not name.startswith("analysis."):
                        counts[name] = counts.get(name, 0) + n
        except Exception as e:  # noqa: BLE001 - one kernel failing must not stop the corpus
            error = f"{type(e).__name__}: {' '.join(str(e).split())}"
        rows.append({"kernel": k.name, "target": target, "matches": counts, "error": error})
    return rows, notes


def run_coverage(args: argparse.Namespace) -> int:
    from eqsat.rules import all_rules

    rows, notes = coverage(args.paths, args.target, args.iterations, _selection(args))
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if args.format == "json":
        for r in rows:
            print(json.dumps(r))
    else:
        names = [r.name for r in all_rules(_selection(args))]
        for r in rows:
            fired = ", ".join(f"{n}={c}" for n, c in sorted(r["matches"].items()) if c)
            status = f"ERROR {r['error']}" if r["error"] else (fired or "-")
            print(f"{r['kernel'][:32]:32} {r['target']:7} {status}")
        print()
        print(f"{'rule':28} kernels where it fires")
        for name in names:
            hit = [r["kernel"] for r in rows if r["matches"].get(name)]
            print(f"{name:28} {len(hit):3}  {', '.join(hit[:6])}{' ...' if len(hit) > 6 else ''}")
    return 2 if any(r["error"] for r in rows) else 0


def _plan_signature(plan_file: Any) -> list[tuple[str, str]]:
    try:
        plan = json.loads(plan_file.read_text())
    except (OSError, ValueError):
        return []
    return sorted((c["kind"], json.dumps(c["params"], sort_keys=True)) for c in plan.get("choices", []))


def ablate(paths: list[str], target: str, by: str = "family", selection: Any = None, out: Any = None,
           jobs: int = 2, bench: dict[str, Any] | None = None) -> dict[str, Any]:
    """Optimize `paths` with the whole rule set, then with each family (or rule) switched off; per unit:
    the kernels whose plan changed and the predicted ns lost (cost_after without it - with it)."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from eqsat.optimize import OptimizeOptions, optimize_paths
    from eqsat.rules import families
    from eqsat.rules.user import RuleSelection

    sel = selection or RuleSelection()
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="eqsat-ablate-"))
    fams = families(sel)  # unknown names in --disable: one line before any run
    units = [f.name for f in fams] if by == "family" else [r.name for f in fams for r in f.rules]

    def run(name: str, disable: tuple[str, ...]) -> tuple[dict[tuple[str, str], dict[str, Any]], Path]:
        run_dir = root / name
        options = OptimizeOptions(rules=dataclasses.replace(sel, disable=sel.disable + disable))
        rows = optimize_paths(paths, [target], run_dir, options, jobs=jobs)
        return {(r["kernel"], r["target"]): r for r in rows}, run_dir

    full, full_dir = run("all", ())
    measured = {(r["kernel"], r["target"]): r for r in (bench or {}).get("results", [])}
    report: dict[str, Any] = {"target": target, "by": by, "kernels": len(full), "run_dir": str(root),
                              "units": []}
    plans = {key: _plan_signature(full_dir / _safe(key[0]) / key[1] / "plan.json") for key in full}
    for unit in units:
        rows, run_dir = run(f"without-{unit}", (unit,))
        changed = []
        lost = 0.0
        for key, base in full.items():
            other = rows.get(key)
            if base["status"] != "ok" or other is None or other["status"] != "ok":
                continue
            if _plan_signature(run_dir / _safe(key[0]) / key[1] / "plan.json") == plans[key]:
                continue
            delta = (other["cost_after"] or 0.0) - (base["cost_after"] or 0.0)
            lost += delta
            m = measured.get(key)
            changed.append({"kernel": key[0], "predicted_ns_lost": round(delta, 3),
                            "measured_speedup_of_full_plan": m.get("speedup") if m else None})
        report["units"].append({"unit": unit, "plans_changed": len(changed),
                                "predicted_ns_lost": round(lost, 3), "kernels": changed})
    return report


def _safe(name: str) -> str:
    from eqsat.optimize import _safe as safe

    return safe(name)


def run_ablate(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise EqsatError("--jobs must be at least 1")
    bench = None
    if args.bench:
        from pathlib import Path

        try:
            bench = json.loads(Path(args.bench).read_text())
        except (OSError, ValueError) as e:
            raise EqsatError(f"cannot read the bench report: {e}", args.bench) from None
    report = ablate(args.paths, args.target, args.by, _selection(args), args.out, args.jobs, bench)
    if args.format == "json":
        print(json.dumps(report, indent=1))
        return 0
    print(f"{report['kernels']} kernel x {args.target}; runs in {report['run_dir']}")
    print(f"{args.by:28} {'plans changed':>13} {'predicted ns lost':>18}  kernels")
    for u in report["units"]:
        names = ", ".join(f"{k['kernel']} ({k['predicted_ns_lost']:+.1f} ns"
                          + (f", measured x{k['measured_speedup_of_full_plan']:.3f}"
                             if k["measured_speedup_of_full_plan"] else "") + ")" for k in u["kernels"][:5])
        print(f"{u['unit']:28} {u['plans_changed']:13} {u['predicted_ns_lost']:18.1f}  {names}")
    return 0
