"""`eqsat rules list|check|coverage`: the rule library, its soundness checks, and where rules fire.

    eqsat rules list
        a table: name, family, soundness, plan choice, preconditions
    eqsat rules check [--rule NAME] [--examples N] [--seed S]
        runs every rule's check on seeds S..S+N-1; one line per rule (ok, or FAIL and the first
        counterexample); exit 1 when any rule fails
    eqsat rules coverage PATH... --target T [--format text|json] [--iterations K]
        ingests the kernels, encodes them (eqsat.egraph.encode), seeds and runs each family's ruleset for
        K iterations in phase order, and reports the matches of every rule
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from eqsat.errors import EqsatError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("rules", help="list, check or measure the coverage of the rewrite rules")
    sub = p.add_subparsers(dest="rules_command", required=True)
    ls = sub.add_parser("list", help="the rules with their soundness obligation and preconditions")
    ls.set_defaults(func=run_list)
    ck = sub.add_parser("check", help="prove or test every rule; exit 1 on any failure")
    ck.add_argument("--rule", action="append", dest="rules", metavar="NAME", help="only this rule (repeat)")
    ck.add_argument("--examples", type=int, default=20, metavar="N", help="random instances per rule")
    ck.add_argument("--seed", type=int, default=0, metavar="S", help="first seed")
    ck.set_defaults(func=run_check)
    cv = sub.add_parser("coverage", help="which rules fire on which corpus kernels")
    cv.add_argument("paths", nargs="+", metavar="PATH", help="a corpus manifest (.toml) or .ttgir file")
    cv.add_argument("--target", required=True, help="target name (h100, h200, mi300x)")
    cv.add_argument("--format", choices=("text", "json"), default="text")
    cv.add_argument("--iterations", type=int, default=3, metavar="K", help="egglog iterations per family")
    cv.set_defaults(func=run_coverage)


def _selected(names: list[str] | None) -> list[Any]:
    from eqsat.rules import all_rules

    rules = all_rules()
    if not names:
        return rules
    known = {r.name: r for r in rules}
    missing = [n for n in names if n not in known]
    if missing:
        raise EqsatError(f"no rule named '{missing[0]}' (see `eqsat rules list`)")
    return [known[n] for n in names]


def run_list(args: argparse.Namespace) -> int:
    rules = _selected(None)
    w = max(len(r.name) for r in rules)
    print(f"{'rule':{w}}  {'family':8}  {'soundness':11}  {'plan choice':15}  preconditions")
    print("-" * (w + 60))
    for r in rules:
        print(f"{r.name:{w}}  {r.family:8}  {r.soundness:11}  {r.plan_choice or '-':15}  {r.preconditions}")
    return 0


def check_rules(rules: list[Any], examples: int, first_seed: int = 0) -> list[tuple[str, str | None, float]]:
    """(rule name, first counterexample or None, seconds) per rule."""
    out = []
    for r in rules:
        t0 = time.perf_counter()
        failure = None
        for seed in range(first_seed, first_seed + examples):
            try:
                r.check(seed)
            except AssertionError as e:
                failure = " ".join(str(e).split())
                break
            except Exception as e:  # noqa: BLE001 - a crashing check is a failing check, reported in one line
                failure = f"seed {seed}: check crashed: {type(e).__name__}: {' '.join(str(e).split())}"
                break
        out.append((r.name, failure, time.perf_counter() - t0))
    return out


def run_check(args: argparse.Namespace) -> int:
    if args.examples < 1:
        raise EqsatError("--examples must be at least 1")
    results = check_rules(_selected(args.rules), args.examples, args.seed)
    for name, failure, seconds in results:
        if failure is None:
            print(f"ok    {name}  ({args.examples} examples, {seconds:.1f} s)")
        else:
            print(f"FAIL  {name}: {failure}")
    failed = sum(1 for _, f, _ in results if f is not None)
    print(f"{len(results) - failed} of {len(results)} rules sound on {args.examples} examples each",
          file=sys.stderr)
    return 1 if failed else 0


def coverage(paths: list[str], target: str, iterations: int = 3) -> tuple[list[dict[str, Any]], list[str]]:
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
    fams = families()
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

    rows, notes = coverage(args.paths, args.target, args.iterations)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if args.format == "json":
        for r in rows:
            print(json.dumps(r))
    else:
        names = [r.name for r in all_rules()]
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
