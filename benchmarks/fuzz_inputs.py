"""Fuzz eqsat with mutated copies of real TTGIR files; count crashes, hangs, blow-ups and messy errors.

    python benchmarks/fuzz_inputs.py --cases 1000 --seed 0 --jobs 2 --out benchmarks/results/fuzz_inputs

Seeds: every kernel of the bundled manifests compiled for h100 and mi300x (the ingest cache makes this
fast), plus the `.ttgir` files of corpora/ and tests/lit/. Each case is one mutation of one seed
(tests/fuzz_mutations.py: lines deleted/duplicated/swapped, literals huge/negative/zero, encodings
broken, types changed, truncation, junk bytes, converts swapped), written to a file and run through

    eqsat ingest CASE --target T --format json
    eqsat optimize CASE --target T --out DIR --in-process
    eqsat cost kernel CASE --target T --format json

by calling `eqsat.cli.main` inside a worker process (eqsat.runner) with file descriptors 1 and 2
captured, killed after `--case-timeout` seconds (a hang) and capped at `--memory-limit` GiB (a blow-up).
`optimize --in-process` keeps the kernel in that worker, so that a crash or hang of the optimizer is
seen here rather than absorbed by optimize's own kernel worker. Independently of eqsat, libtriton's
parser decides whether Triton accepts each case (`ir.parse_mlir_module` plus the `ttg.num-warps` that
triton.compile needs); every case it rejects must be rejected by ingest. For every `optimized.ttgir`
written, the round trip of its input (Triton's print of eqsat's print vs Triton's print of the input)
is checked again; an inexact one with an optimized.ttgir counts as a silent rewrite.

Outcome of one command: `accepted` (exit 0), `clean` (exit 2 and exactly one line
`FILE[:line[:col]]: error: ...` naming the case), `messy` (failed otherwise, no traceback), `crash`
(a traceback, an internal error, or the worker died of a signal), `hang`, `memory` (MemoryError or
out of memory). Writes OUT.json (every case) and OUT.md (the table and the command).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_mutations import mutate  # noqa: E402

COMMANDS = ("ingest", "optimize", "cost")
OUTCOMES = ("accepted", "clean", "messy", "crash", "hang", "memory")


def seeds() -> list[tuple[str, str, str]]:
    """(name, target, TTGIR text) of every seed file."""
    from eqsat.ingest import ingest
    from eqsat.targets import target_for_triton_name

    out: list[tuple[str, str, str]] = []
    for manifest in sorted((ROOT / "corpora").glob("*.toml")):
        for target in ("h100", "mi300x"):
            for r in ingest(str(manifest), target):
                if r.ok:
                    out.append((f"{r.name}.{target}", target, r.ttgir))
    for path in sorted([*(ROOT / "corpora").rglob("*.ttgir"), *(ROOT / "tests" / "lit").rglob("*.ttgir")]):
        text = path.read_text()
        if "bad_" in path.name:
            continue
        m = re.search(r'ttg\.target\s*=\s*"([^"]+)"', text)
        tgt = target_for_triton_name(m.group(1)) if m else None
        out.append((path.stem, tgt.name if tgt else "h100", text))
    return out


def triton_accepts(path: str) -> tuple[bool, str]:
    """Triton's own verdict, without eqsat: libtriton parses and verifies (in a forked child: some
    verifiers assert and abort); a .ttgir also needs the ttg.num-warps that triton.compile reads."""
    from triton._C.libtriton import amd, ir, nvidia

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            import faulthandler

            faulthandler.disable()
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 2)
            ctx = ir.context()
            ir.load_dialects(ctx)
            nvidia.load_dialects(ctx)
            amd.load_dialects(ctx)
            module = ir.parse_mlir_module(path, ctx)
            warps = module.get_int_attr("ttg.num-warps")
            code = 0 if module.get_entry_func_name() and warps is not None else 2
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return False, f"libtriton died of signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status)
    return code == 0, {0: "", 1: "parse/verify failed", 2: "no function or no ttg.num-warps"}.get(code, "?")


def _call_cli(argv: list[str]) -> tuple[int, str, str]:
    """eqsat.cli.main(argv) with fds 1 and 2 captured; (exit code, stdout, stderr)."""
    from eqsat.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            try:
                rc = main(argv)
            except SystemExit as e:  # argparse
                rc = e.code if isinstance(e.code, int) else 1
            except BaseException as e:  # noqa: BLE001 - escaped main(): a crash, shown as a traceback
                import traceback

                traceback.print_exception(e)
                rc = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return rc, out.read(200_000).decode(errors="replace"), err.read(200_000).decode(errors="replace")


def classify(rc: int, stderr: str, case_path: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if "MemoryError" in stderr or "out of memory" in stderr:
        return "memory"
    if "Traceback" in stderr or "internal error" in stderr or "Panic" in stderr or rc not in (0, 2):
        return "crash"
    if rc == 0:
        return "accepted"
    one = len(lines) == 1 and re.match(r"^\S.*?(:\d+(:\d+)?)?: error: \S", lines[0]) is not None
    return "clean" if one and case_path in lines[0] else "messy"


def run_case(task: dict[str, Any]) -> dict[str, Any]:
    """One command on one case, in a worker process."""
    path, target, command = task["path"], task["target"], task["command"]
    row: dict[str, Any] = {"id": task["id"], "command": command}
    if command == "ingest":
        row["triton_accepts"], row["triton_says"] = triton_accepts(path)
        argv = ["ingest", path, "--target", target, "--format", "json"]
    elif command == "optimize":
        argv = ["optimize", path, "--target", target, "--out", task["out"], "--in-process"]
    else:
        argv = ["cost", "kernel", path, "--target", target, "--format", "json"]
    t0 = time.perf_counter()
    rc, _out, err = _call_cli(argv)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    row["rc"], row["outcome"] = rc, classify(rc, err, path)
    row["stderr"] = err.strip()[:240]
    row["stderr_lines"] = len([ln for ln in err.splitlines() if ln.strip()])
    if command == "optimize":
        row.update(_rewrites(path, task["out"], target))
    return row


def _rewrites(path: str, out: str, target: str) -> dict[str, Any]:
    """Was an optimized.ttgir written, and is the input's round trip exact (checked again here)?"""
    written = list(Path(out).rglob("optimized.ttgir"))
    if not written:
        return {"optimized_written": False}
    from eqsat.errors import EqsatError
    from eqsat.ir.parser import parse_ttgir
    from eqsat.ir.printer import print_ttgir
    from eqsat.ir.verify import triton_print

    text = Path(path).read_text()
    why = None
    for _attempt in range(2):  # a second try tells a passing glitch (a failed fork) from a real difference
        try:
            exact = triton_print(text, path) == triton_print(print_ttgir(parse_ttgir(text, path)), path)
            why = None if exact else "Triton's prints differ"
        except EqsatError as e:
            exact, why = False, str(e)[:200]
        if exact:
            break
    return {"optimized_written": True, "round_trip_exact": exact, "round_trip_note": why}


def _failure(task: dict[str, Any], message: str, seconds: float, tb: str | None) -> dict[str, Any]:
    outcome = "hang" if "timed out" in message else "memory" if "memory" in message.lower() else "crash"
    row = {"id": task["id"], "command": task["command"], "rc": None, "outcome": outcome,
           "seconds": round(seconds, 3), "stderr": message, "stderr_lines": 1}
    if task["command"] == "ingest":
        row["triton_accepts"], row["triton_says"] = None, "not checked (the worker was killed)"
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--case-timeout", type=float, default=120.0, metavar="S")
    ap.add_argument("--memory-limit", type=float, default=4.0, metavar="GIB")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuzz_inputs"),
                    help="OUT.json and OUT.md are written")
    ap.add_argument("--work", default=None, help="directory for the cases (default: a temporary one)")
    args = ap.parse_args()

    from eqsat.runner import run_isolated

    work = Path(args.work or tempfile.mkdtemp(prefix="eqsat-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    pool = seeds()
    cases: list[dict[str, Any]] = []
    for i in range(args.cases):
        name, target, text = rng.choice(pool)
        data, family, detail = mutate(text, rng)
        path = work / f"case{i:04d}_{name}.ttgir"
        path.write_bytes(data)
        cases.append({"id": i, "seed_file": name, "target": target, "family": family, "detail": detail,
                      "path": str(path)})
    t0 = time.perf_counter()
    mem = int(args.memory_limit * (1 << 30))

    def run(command: str, subset: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tasks = [{"id": c["id"], "path": c["path"], "target": c["target"], "command": command,
                  "out": str(work / f"run{c['id']:04d}")} for c in subset]
        done = [0]

        def progress(_i: int, _row: dict[str, Any]) -> None:
            done[0] += 1
            if done[0] % 100 == 0:
                print(f"{command}: {done[0]}/{len(tasks)} ({time.perf_counter() - t0:.0f} s)", flush=True)

        return run_isolated(run_case, tasks, jobs=args.jobs, timeout_s=args.case_timeout, memory_bytes=mem,
                            on_failure=_failure, on_done=progress, warmup=("eqsat.cli", "eqsat.optimize",
                                                                            "eqsat.pipeline", "egglog", "z3"))

    results: dict[str, list[dict[str, Any]]] = {"ingest": run("ingest", cases)}
    results["optimize"] = run("optimize", cases)
    results["cost"] = run("cost", cases)
    seconds = time.perf_counter() - t0

    by_id = {c["id"]: c for c in cases}
    for command, rows in results.items():
        for r in rows:
            by_id[r["id"]][command] = {k: v for k, v in r.items() if k not in ("id", "command")}
    summary = _summary(cases, results)
    command = "python benchmarks/fuzz_inputs.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = {"command": command, "seconds": round(seconds, 1), "seeds": len(pool), "summary": summary,
              "cases": cases}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(_markdown(report))
    print(_markdown(report))
    bad = sum(summary["commands"][c][o] for c in COMMANDS for o in ("messy", "crash", "hang", "memory"))
    wrong = summary["triton_rejected_but_accepted"] + summary["optimized_for_inexact_round_trip"]
    return 1 if bad or wrong else 0


def _summary(cases: list[dict[str, Any]], results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    commands = {c: {o: 0 for o in ("cases", *OUTCOMES)} for c in COMMANDS}
    ingest = results["ingest"]
    rejected_ids = {r["id"] for r in ingest if r.get("triton_accepts") is False}
    ingest_ok = {r["id"] for r in ingest if r["outcome"] == "accepted"}
    for c, rows in results.items():
        commands[c]["cases"] = len(rows)
        commands[c]["triton_rejected_but_accepted"] = 0
        commands[c]["accepted_of_ingest_accepted"] = 0
        for r in rows:
            commands[c][r["outcome"]] += 1
            if r["outcome"] == "accepted":
                commands[c]["triton_rejected_but_accepted"] += r["id"] in rejected_ids
                commands[c]["accepted_of_ingest_accepted"] += r["id"] in ingest_ok
    rejected = [r for r in ingest if r.get("triton_accepts") is False]
    opt = results["optimize"]
    return {
        "commands": commands,
        "families": dict(Counter(c["family"] for c in cases)),
        "triton_rejected": len(rejected),
        "triton_rejected_but_accepted": sum(commands[c]["triton_rejected_but_accepted"] for c in COMMANDS),
        "ingest_accepted": len(ingest_ok),
        "triton_accepted_but_rejected": sum(1 for r in ingest
                                            if r.get("triton_accepts") and r["outcome"] != "accepted"),
        "optimized_written": sum(1 for r in opt if r.get("optimized_written")),
        "optimized_for_inexact_round_trip": sum(1 for r in opt if r.get("optimized_written")
                                                and not r.get("round_trip_exact")),
        "multi_line_errors": sum(1 for rows in results.values() for r in rows if r["stderr_lines"] > 1),
        "max_seconds": {c: max((r["seconds"] for r in rows), default=0.0) for c, rows in results.items()},
    }


def _markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"# Fuzzing eqsat with {len(report['cases'])} mutated TTGIR files", "",
             f"Command: `{report['command']}` ({report['seconds']} s, {report['seeds']} seed files).", "",
             "| command | cases | accepted | one clean line | messy (several lines, no file named) | "
             "crash (traceback) | hang | memory blow-up |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    names = {"ingest": "`ingest --format json`", "optimize": "`optimize --in-process`",
             "cost": "`cost kernel --format json`"}
    for c in COMMANDS:
        row = s["commands"][c]
        lines.append(f"| {names[c]} | {row['cases']} | {row['accepted']} | {row['clean']} | {row['messy']} | "
                     f"{row['crash']} | {row['hang']} | {row['memory']} |")
    lines += ["",
              "Every command ran on every case. Of the "
              f"{s['ingest_accepted']} cases ingest accepts, optimize succeeds on "
              f"{s['commands']['optimize']['accepted_of_ingest_accepted']} and cost kernel on "
              f"{s['commands']['cost']['accepted_of_ingest_accepted']} (the rest: one clean line each).", "",
              f"- Triton's parser (libtriton, independently of eqsat) rejects {s['triton_rejected']} cases; "
              f"ingest, optimize and cost kernel accept {s['triton_rejected_but_accepted']} of them. "
              "Ingest rejects "
              f"{s['triton_accepted_but_rejected']} cases that Triton's parser accepts (eqsat's own bounds "
              "or an inexact round trip).",
              f"- `optimize` wrote {s['optimized_written']} optimized.ttgir files; "
              f"{s['optimized_for_inexact_round_trip']} of them for an input whose round trip is not exact.",
              f"- Errors of more than one line: {s['multi_line_errors']}. Slowest case per command (s): "
              + ", ".join(f"{c} {v}" for c, v in s["max_seconds"].items()) + ".",
              "- Mutation families: " + ", ".join(f"{k} {v}" for k, v in sorted(s["families"].items())) + ".",
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
