"""The optimizer driver: one kernel x target -> Plan, and a corpus run that writes a run directory.

    optimize_kernel(kernel, target, options) -> OptimizeResult   (kernel: a KernelIR or a dm JSON kernel)
        encode (eqsat.egraph.encode) -> rule families phase by phase under limits (eqsat.egraph.schedule)
        -> greedy extraction (egglog) and, under a size bound, exact extraction (z3) with the target's
        node prices (eqsat.egraph.costs) -> choices (eqsat.egraph.decode) -> Plan
    optimize(ttgir_text, target="h100") -> Plan            the Python API (also `eqsat.optimize`)
    optimize_paths(paths, targets, out_dir, options, jobs) -> rows of run.json   (`eqsat optimize`)

cost_before is the price of the input program (always in the e-graph), cost_after the extracted one; the
extracted plan can never cost more (asserted for the exact extraction; a greedy result that would cost
more than the input is replaced by the input). A plan whose predicted gain is below `min_gain_frac` of
the input cost or `min_gain_ns` is not applied: the identity plan, with the reason in `extraction`; so is
a selection that decodes to no choice (its gain, which nothing would realise, is `undecoded_gain_ns`), and
then cost_after is cost_before.

Every plan is one the lowering applies (given the parsed module): the decoded choices are lowered on a
copy before the plan is returned; a choice the lowering refuses bans the e-node it came from and the
extraction runs again (`extraction["lowering"]`: `refused` reasons, `subsumed` choices), up to
`MAX_LOWERING_ROUNDS` times, then the identity plan. Results are a function of the input and options
alone: no state is kept across kernels (z3 solves in a fresh context, ties between equal-cost
selections go to the one with the fewest changes to the input); only a `time_limit` stop of saturation
depends on the machine.

Run directory (design.md): `DIR/<kernel>/<target>/{input.ttgir, optimized.ttgir, plan.json}`, plus
`spec.json` for kernels of a manifest (the KernelSpec, paths relative to the repository root) and with
`dump_egraph` `egraph.json`/`egraph.dot`; `DIR/run.json` lists every kernel x target with its status.
Each kernel x target runs alone: a failure is that row's `status: "error"` and the run goes on.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eqsat.egraph.schedule import Limits, Phase, ScheduleReport
from eqsat.errors import EqsatError
from eqsat.plan import Plan

REPO_ROOT = Path(__file__).resolve().parent.parent

@dataclass
class OptimizeOptions:
    limits: Limits = field(default_factory=Limits)
    min_gain_frac: float = 0.02
    min_gain_ns: float = 50.0
    exact_node_limit: int = 2000
    dump_egraph: bool = False
    use_rules: bool = True
    rules: Any = None  # eqsat.rules.user.RuleSelection: user rule files, --only, --disable (None: default)
    latency_check: bool = True  # NVIDIA corpus runs: compiled input vs plan under the latency-aware time


@dataclass
class OptimizeResult:
    plan: Plan
    encoded: Any  # EncodedKernel
    graph: Any  # SerializedEGraph
    schedule: ScheduleReport
    version_texts: dict[str, str] = field(default_factory=dict)  # slug -> TTGIR of each plan version


def rule_families(selection: Any = None) -> list[Any]:
    """The registry's rule families in phase order, as `selection` picks them (eqsat.rules.families)."""
    from eqsat.rules import families

    return families(selection)


def optimize_kernel(kernel: Any, target: str, options: OptimizeOptions | None = None,
                    grid: list[int] | None = None, module: Any = None,
                    launch: dict[str, Any] | None = None) -> OptimizeResult:
    """Saturate, extract and decode one kernel (a KernelIR with its dm, or a dm JSON dict) on `target`.
    `grid` (the launch's program grid, when known) scales every node price to the same number of CTAs.
    `module` (the parsed TTGIR the dm was lifted from; a KernelIR brings its own) makes every extracted
    plan one the lowering applies: a plan whose lowering refuses a choice is extracted again without the
    refused e-node (`extraction["lowering"]`), up to `MAX_LOWERING_ROUNDS` times, else the identity.
    With `module`, guarded versions are planned too (eqsat.guarded_versions: the specialize family's
    candidates, extracted again with their guards assumed, kept when the kernel-time model says they pay);
    `launch` (grid and integer arguments) picks guards that hold at its values."""
    from eqsat.costmodels.base import model_for
    from eqsat.egraph.costs import GraphPrices, NodePricer
    from eqsat.egraph.encode import encode_kernel
    from eqsat.egraph.extract import dag_cost, term_selection
    from eqsat.egraph.schedule import run_schedule
    from eqsat.egraph.serialized import SerializedEGraph

    opts = options or OptimizeOptions()
    if module is None:
        module = getattr(kernel, "module", None)
    kernel_json = _kernel_json(kernel, target)
    if grid and not kernel_json.get("grid"):
        kernel_json = {**kernel_json, "grid": [int(g) for g in grid]}
    try:
        model = model_for(target)
    except KeyError as e:
        raise EqsatError(str(e).strip("'\"")) from None
    t0 = time.perf_counter()
    families = rule_families(opts.rules) if opts.use_rules else []
    version_cands: dict[str, Any] = {}
    if module is not None and any(f.name == "specialize" for f in families):
        version_cands = _version_candidates(module, kernel_json, launch)
        if version_cands:
            facts = {k: {"ops": v["ops"]} for k, v in version_cands.items()}
            kernel_json = {**kernel_json, "specialize": facts}
    enc = encode_kernel(kernel_json, target)
    if enc.root is None:
        raise EqsatError(f"kernel {enc.name} has no effect to optimize")
    phases = [Phase(f.name, [f.ruleset], seed=_seeder(f, enc, model)) for f in families]
    report = run_schedule(enc.egraph, phases, opts.limits)

    graph = SerializedEGraph.from_egraph(enc.egraph)
    pricer = NodePricer(model, kernel_json)
    prices = GraphPrices(graph, pricer)
    root, original = term_selection(graph, enc.root)
    before_ns = dag_cost(graph, original, root, prices)
    rule_kinds = {r.name: getattr(r, "plan_choice", "") for f in families for r in f.rules}
    lowering: dict[str, Any] = {"checked": module is not None, "refused": [], "subsumed": []}
    while True:
        selection, after_ns, extraction = _extract(enc, graph, prices, pricer, root, original, before_ns,
                                                   opts)
        choices, chosen_node = _decode(enc, graph, prices, root, original, selection, rule_kinds, report)
        choices, selection, after_ns = _apply_margin(choices, selection, after_ns, original, before_ns,
                                                     extraction, graph, root, prices, opts)
        if not choices or module is None:
            break
        refused = _lowering_refusal(module, enc.name, target, choices, lowering)
        if refused is None:
            break
        choice, reason = refused
        lowering["refused"].append(reason)
        nid = chosen_node.get((choice.op, choice.kind))
        if nid is None or nid in prices.banned or len(lowering["refused"]) > MAX_LOWERING_ROUNDS:
            extraction["applied"] = False
            extraction["not_applied_reason"] = f"no plan the lowering applies: {reason}"
            extraction["rejected_choices"] = len(choices)
            choices, selection, after_ns = [], original, before_ns
            break
        prices.ban(nid, f"not lowerable: {reason}")  # and extract again
    extraction["lowering"] = lowering
    plan = Plan(kernel=enc.name, target=target, cost_before=_selected_cost(graph, prices, original, root),
                cost_after=_selected_cost(graph, prices, selection, root), choices=choices,
                egraph={"nodes": graph.size(), "classes": len(graph.classes), "rows": report.nodes,
                        "seconds": round(report.seconds, 4), "stop_reason": report.stop_reason,
                        "stopped_in": report.stopped_in, "iterations": report.iterations,
                        "overrun_s": round(report.overrun_s, 4), "rule_matches": report.rule_matches,
                        "phases": [asdict(p) for p in report.phases],
                        "families": [f.name for f in families], "rule_set": _rule_set(opts),
                        "total_seconds": round(time.perf_counter() - t0, 4)},
                extraction=extraction)
    texts: dict[str, str] = {}
    if version_cands:
        def extract_under(assumed: frozenset[str]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
            pv = NodePricer(model, kernel_json)
            pv.assumed = assumed
            gp = GraphPrices(graph, pv)
            for nid, why in prices.banned.items():
                gp.ban(nid, why)
            # the version issues its candidate accesses specialized (whether that pays is the kernel-time
            # model's call, costmodels/issue.py): their plain forms are not extracted in it
            ops = {int(o) for k in assumed for o in version_cands[k]["ops"]}
            for nid, node in graph.nodes.items():
                if node.head in ("Tile.load", "Sink.store") and int(graph.text(node.children[0])) in ops:
                    gp.ban(nid, "issued specialized in this version")
            b_ns = dag_cost(graph, original, root, gp)
            sel, _, ext = _extract(enc, graph, gp, pv, root, original, b_ns, opts)
            ch, _ = _decode(enc, graph, gp, root, original, sel, rule_kinds, report)
            return ch, _selected_cost(graph, gp, sel, root), ext

        texts = _plan_versions(plan, version_cands, module, kernel_json, target, model, extract_under, launch,
                               opts)
    return OptimizeResult(plan, enc, graph, report, texts)


def _version_candidates(module: Any, kernel_json: dict[str, Any], launch: dict[str, Any] | None
                        ) -> dict[str, Any]:
    from eqsat.guarded_versions import candidates

    try:
        return candidates(module, kernel_json, launch)
    except Exception:  # noqa: BLE001 - no facts for this kernel: no versions (the fallback is unaffected)
        return {}


def _plan_versions(plan: Plan, cands: dict[str, Any], module: Any, kernel_json: dict[str, Any], target: str,
                   model: Any, extract_under: Callable[..., Any], launch: dict[str, Any] | None,
                   opts: OptimizeOptions) -> dict[str, str]:
    """Fill `plan.versions` / `plan.rejected_versions`; return each kept version's TTGIR by slug."""
    from eqsat.guarded_versions import build_version
    from eqsat.ir.printer import print_ttgir

    if plan.is_identity:
        fallback_text = print_ttgir(module)
    else:
        from eqsat.lowering import lower

        fallback_text = print_ttgir(lower(module, plan))
    texts: dict[str, str] = {}
    for key, cand in sorted(cands.items(), key=lambda kv: (-len(kv[1]["guards"]), kv[0])):
        try:
            record, text = build_version(key, cand, module=module, kernel_json=kernel_json, target=target,
                                         model=model, extract=extract_under, fallback_text=fallback_text,
                                         launch=launch,
                                         margin=lambda ns: max(opts.min_gain_ns, opts.min_gain_frac * ns))
        except (EqsatError, ValueError, KeyError, IndexError, AssertionError) as e:
            # a version is an extra: whatever fails in it leaves the fallback plan as it is
            record, text = {"name": key, "guards": cand["guards"], "reason": f"failed: {e}"}, None
        if text is None:
            plan.rejected_versions.append(record)
        else:
            plan.versions.append(record)
            texts[record["slug"]] = text
    return texts


MAX_LOWERING_ROUNDS = 4  # re-extractions after the lowering refused a choice, before the identity plan


def _extract(enc: Any, graph: Any, prices: Any, pricer: Any, root: str, original: dict[str, str],
             before_ns: float, opts: OptimizeOptions) -> tuple[dict[str, str], float, dict[str, Any]]:
    """Greedy (egglog) and, under the node bound, exact (z3) extraction; the cheaper of the two, never
    costlier than the input. Nodes banned in `prices` are never extracted (a greedy term using one is
    dropped: egglog's extractor does not see the bans)."""
    from eqsat.egraph.costs import EgglogCostModel
    from eqsat.egraph.extract import dag_cost, exact_extract, greedy_extract, term_selection

    t1 = time.perf_counter()
    term, greedy_ns = greedy_extract(enc.egraph, enc.root, EgglogCostModel.for_pricer(pricer))
    _, greedy_sel = term_selection(graph, term)
    greedy_check = dag_cost(graph, greedy_sel, root, prices)
    t2 = time.perf_counter()
    exact = exact_extract(graph, root, prices, node_limit=opts.exact_node_limit, prefer=original)
    t3 = time.perf_counter()
    if exact is not None:
        assert exact.cost_ns <= before_ns + 1e-6 * max(1.0, abs(before_ns)), \
            f"exact extraction ({exact.cost_ns} ns) costs more than the input ({before_ns} ns)"
    extraction: dict[str, Any] = {
        "greedy_ns": _num(greedy_check), "egglog_greedy_ns": _num(greedy_ns),
        "exact_ns": _num(exact.cost_ns) if exact else None,
        "gap_ns": _num(greedy_check - exact.cost_ns) if exact else None,
        "greedy_seconds": round(t2 - t1, 4), "exact_seconds": round(t3 - t2, 4),
        "exact_skipped": None if exact else f"over {opts.exact_node_limit} nodes or z3 gave up",
        "prices_computed": pricer.calls,
    }
    selection, method = greedy_sel, "greedy"
    if exact is not None and exact.cost_ns <= greedy_check:
        selection, method = exact.selection, "exact"
    after_ns = dag_cost(graph, selection, root, prices)
    if after_ns > before_ns:
        selection, method, after_ns = original, "input (greedy costlier than the input)", before_ns
    extraction["method"] = method
    return selection, after_ns, extraction


def _decode(enc: Any, graph: Any, prices: Any, root: str, original: dict[str, str],
            selection: dict[str, str], rule_kinds: dict[str, str], report: ScheduleReport
            ) -> tuple[list[Any], dict[tuple[int, str], str]]:
    from eqsat.egraph.decode import DecodeContext, decode

    ctx = DecodeContext(enc, graph, prices, root, original, selection, rule_kinds, report.rule_matches)
    return decode(ctx), ctx.chosen_node


def _apply_margin(choices: list[Any], selection: dict[str, str], after_ns: float, original: dict[str, str],
                  before_ns: float, extraction: dict[str, Any], graph: Any, root: str, prices: Any,
                  opts: OptimizeOptions) -> tuple[list[Any], dict[str, str], float]:
    """Keep the plan only when it is worth applying; what is not applied is the input, priced as such."""
    gain = before_ns - after_ns
    margin = max(opts.min_gain_ns, opts.min_gain_frac * before_ns) if math.isfinite(before_ns) else 0.0
    if choices and not math.isfinite(before_ns):
        # Triton compiled the input, so an infinite price is the model's error: never act on it
        extraction["applied"] = False
        extraction["not_applied_reason"] = ("the cost model prices the input program as illegal: "
                                            f"{_input_illegal(graph, original, root, prices)}")
        extraction["rejected_choices"] = len(choices)
        return [], original, before_ns
    if choices and not gain >= margin:
        extraction["applied"] = False
        extraction["not_applied_reason"] = (
            f"predicted gain {gain:.1f} ns is below the margin {margin:.1f} ns "
            f"(max of {opts.min_gain_ns} ns and {opts.min_gain_frac:.0%})")
        extraction["rejected_choices"] = len(choices)
        return [], original, before_ns
    extraction["applied"] = bool(choices)
    if not choices and selection is not original:
        # a selection that no choice expresses is not what runs: the input runs, at the input's price
        if gain > 1e-6 * max(1.0, abs(before_ns)):
            extraction["undecoded_gain_ns"] = _num(gain)
        return [], original, before_ns
    return choices, selection, after_ns


def _lowering_refusal(module: Any, kernel: str, target: str, choices: list[Any], record: dict[str, Any]
                      ) -> tuple[Any, str] | None:
    """None when the lowering applies every choice (what it subsumed goes to `record`), else the refused
    choice and the lowering's reason."""
    from eqsat.lowering.apply import LoweringReport, lower_with_report
    from eqsat.lowering.edits import LoweringError

    trial = Plan(kernel=kernel, target=target, cost_before={}, cost_after={}, choices=choices)
    report = LoweringReport()
    try:
        lower_with_report(module, trial, kernel, report)
    except LoweringError as e:
        if e.choice is None:
            raise
        return e.choice, e.message
    record["subsumed"] = [s.to_json() for s in report.subsumed]
    return None


def _selected_cost(graph: Any, prices: Any, sel: dict[str, str], root: str) -> dict[str, Any]:
    from eqsat.costmodels.base import cost_sum
    from eqsat.egraph.extract import reachable_selected

    costs = [prices.cost(sel.get(c) or graph.classes[c][0]) for c in reachable_selected(graph, sel, root)]
    return cost_sum(costs).to_json()


def optimize(ttgir_text: str, target: str = "h100", options: OptimizeOptions | None = None) -> Plan:
    """The Python API: parse a TTGIR text, lift it and return the plan for `target` (one the lowering
    applies: `eqsat.lowering.lower(parse_ttgir(ttgir_text), plan)`)."""
    from eqsat.dm.lift import lift_module
    from eqsat.ir.parser import parse_ttgir
    from eqsat.targets import get_target

    get_target(target)
    module = parse_ttgir(ttgir_text, "<input>")
    dm = lift_module(module, kernel=None, target=target)
    return optimize_kernel(dm, target, options, module=module).plan


def _input_illegal(graph: Any, original: dict[str, str], root: str, prices: Any) -> str:
    from eqsat.egraph.extract import reachable_selected

    for cid in reachable_selected(graph, original, root):
        nid = original.get(cid) or graph.classes[cid][0]
        cost = prices.cost(nid)
        if cost.illegal:
            node = graph.nodes[nid]
            return f"{node.head} ({cost.illegal})"
    return "unknown"


def _rule_set(opts: OptimizeOptions) -> str | None:
    """The version hash of the rule set the options pick (eqsat.rules.user.ruleset_hash)."""
    from eqsat.rules.user import ruleset_hash

    return ruleset_hash(opts.rules) if opts.use_rules else None


def _seeder(family: Any, enc: Any, model: Any) -> Callable[[], None]:
    return lambda: family.seed(enc.egraph, enc, model)


def _kernel_json(kernel: Any, target: str) -> dict[str, Any]:
    from eqsat.dm.json import dm_to_json

    if isinstance(kernel, dict):
        return kernel
    dm = getattr(kernel, "dm", kernel)
    return dm_to_json(dm, target)


def _num(x: float) -> float | None:
    return None if math.isinf(x) or math.isnan(x) else round(x, 3)


# ------------------------------------------------------------------------------------------ corpus runs


@dataclass
class Task:
    name: str
    target: str
    source: str
    ttgir: str
    launch: dict[str, Any] | None
    out_dir: str
    spec: dict[str, Any] | None


RUN_FIELDS = ("kernel", "target", "status", "cost_before", "cost_after", "changed", "egraph_nodes", "seconds",
              "error")


def optimize_paths(paths: list[str], targets: list[str], out_dir: str | Path, options: OptimizeOptions,
                   jobs: int = 1, log: Callable[[str], None] | None = None,
                   isolation: RunIsolation | None = None, progress: Any = None,
                   command: str | None = None,
                   launches: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Optimize every kernel of every path for every target; write the run directory; return run.json.

    The front end (read, Triton's verifier, parse, round trip) runs here; every kernel x target that passes
    it is optimized in a worker process (`eqsat.runner`, or a Ray task with `isolation.executor = "ray"`)
    killed at `isolation.timeout_s` and capped at `isolation.memory_bytes`, so a kernel that crashes, hangs
    or blows up fails alone. A kernel x target whose result is in the result cache (eqsat.result_cache:
    same TTGIR, target, launch, entry, options and code versions) is restored, not recomputed, so a rerun
    after an interruption does only what is missing. `run.json` is rewritten as each row finishes and
    always once at the end, also when the run is interrupted; `meta.json` records the versions and the
    command. `progress` (optional) gets `begin(total, cached)`, `started(task)` and `finished(row)`.
    `launches` gives a launch table (`{"grid": [...], "args": {name: int}}`, the manifest's form) to IR
    files, keyed by their path as given: their prices scale to that grid and their guards and loop trips
    read those argument values (a manifest entry brings its own)."""
    from eqsat.pipeline import front_end
    from eqsat.targets import TARGETS

    for t in targets:
        if t not in TARGETS:
            raise EqsatError(f"unknown target '{t}' (known: {', '.join(TARGETS)})")
    iso = isolation or RunIsolation()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise EqsatError("the run directory exists and is not a directory", str(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EqsatError(f"cannot create the run directory: {e.strerror or e}", str(out)) from None
    rows: list[dict[str, Any]] = []
    tasks: list[Task] = []
    order: list[tuple[str, Any]] = []  # ("row", row) for front-end failures, ("task", index) otherwise
    done: dict[int, dict[str, Any]] = {}

    def write() -> None:
        listed = [item if kind == "row" else done.get(item) or _pending_row(tasks[item])
                  for kind, item in order]
        listed = fold_buckets(listed, [None if kind == "row" else bucket_of[item] for kind, item in order])
        if not iso.debug:
            listed = [{k: v for k, v in r.items() if k != "traceback"} for r in listed]
        tmp = out / "run.json.tmp"
        tmp.write_text(json.dumps(listed, indent=2) + "\n")
        tmp.replace(out / "run.json")
        rows[:] = listed

    from eqsat.lowering.rundir import fold_buckets
    from eqsat.result_cache import ResultCache, result_key

    bucket_of: list[tuple[str | None, str]] = []  # per task: its shape bucket (name, plan subfolder)

    cache = ResultCache(iso.cache_dir) if iso.use_cache else None
    rule_set = _rule_set(options)

    def launch_of(k: Any) -> dict[str, Any] | None:
        return k.launch if k.launch is not None else (launches or {}).get(k.source)

    def key_of(k: Any) -> str:
        spec = specs.get(k.source, {}).get(k.name)
        return result_key(k.name, k.ttgir, k.target, launch_of(k), spec, options, rule_set)

    def cached(k: Any) -> bool:  # a cached result passed the front end with this very text
        return cache is not None and cache.get(key_of(k)) is not None

    try:
        specs = {p: _specs_of(p) for p in paths}
        for k in front_end(paths, targets, lift=False, done_before=cached, buckets=True):
            if not k.ok:
                order.append(("row", _error_row(k.name, k.target, str(k.error), sum(k.seconds.values()),
                                                getattr(k.error, "traceback", None))))
                continue
            kdir = out / _safe(k.name) / k.target / k.bucket_dir  # shape buckets: lowering/rundir.py
            order.append(("task", len(tasks)))
            bucket_of.append((k.bucket, k.bucket_dir))
            tasks.append(Task(k.name, k.target, k.source, k.ttgir, launch_of(k), str(kdir),
                              specs.get(k.source, {}).get(k.name)))
        _write_meta(out, command)
        keys = [result_key(t.name, t.ttgir, t.target, t.launch, t.spec, options, rule_set) for t in tasks]
        todo: list[int] = []
        for i, t in enumerate(tasks):
            row = cache.restore(keys[i], Path(t.out_dir)) if cache is not None else None
            if row is not None:
                done[i] = row
            else:
                todo.append(i)
        write()
        if progress is not None:
            progress.begin(len(tasks), len(tasks) - len(todo))

        def on_done(j: int, row: dict[str, Any]) -> None:
            i = todo[j]
            done[i] = row
            if cache is not None:
                cache.put(keys[i], row, Path(tasks[i].out_dir))
            if log is not None:
                log(f"{row['kernel']} [{row['target']}]: {row['status']}")
            if progress is not None:
                progress.finished(row)
            write()

        def on_start(j: int) -> None:
            if progress is not None:
                progress.started(tasks[todo[j]])

        packed = [(tasks[i], options) for i in todo]
        if iso.in_process:
            for j, item in enumerate(packed):
                on_start(j)
                on_done(j, _run_packed(item))
        else:
            if iso.executor == "ray":
                from eqsat.ray_executor import run_on_ray as execute
            else:
                from eqsat.runner import run_isolated as execute
            execute(_run_packed, packed, jobs=jobs, timeout_s=iso.timeout_s, memory_bytes=iso.memory_bytes,
                    on_failure=_failure_row, on_done=on_done, on_start=on_start, warmup=WORKER_IMPORTS,
                    address=iso.ray_address)
    finally:
        for i, t in enumerate(tasks):
            if i not in done:
                done[i] = _error_row(t.name, t.target, f"{t.source}: error: {t.name} [{t.target}]: "
                                     "not run (the run was interrupted)", 0.0)
        write()
    return rows


@dataclass
class RunIsolation:
    """How each kernel x target of a corpus run is isolated: its worker's wall-clock deadline (the whole
    kernel: seeding, synthesis, extraction, lowering, compile) and address-space cap; `in_process` runs
    every kernel in this process instead (no deadline or cap; for tests and debugging)."""

    timeout_s: float = 60.0
    memory_bytes: int | None = 8 << 30
    in_process: bool = False
    debug: bool = False  # keep each failure's traceback in its run.json row
    executor: str = "local"  # "local": eqsat.runner worker processes; "ray": eqsat.ray_executor
    ray_address: str | None = None
    use_cache: bool = True  # restore finished kernels from the result cache (eqsat.result_cache)
    cache_dir: Path | None = None  # default $EQSAT_CACHE_DIR/results


def _write_meta(out: Path, command: str | None) -> None:
    """meta.json: what produced the run (versions, command, time); the run store reads it."""
    import datetime

    from eqsat.versions import versions

    meta = {"versions": versions(), "command": command,
            "created_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


# imported by each worker before its first task, so that the deadline does not pay for them
WORKER_IMPORTS = ("egglog", "z3", "triton", "xdsl.ir", "eqsat.rules", "eqsat.egraph.encode",
                  "eqsat.egraph.extract", "eqsat.costmodels.base", "eqsat.lowering", "eqsat.dm.lift",
                  "eqsat.ir.parser")


def _pending_row(task: Task) -> dict[str, Any]:
    row = _error_row(task.name, task.target, None, 0.0)
    row["status"] = "running"
    return row


def _failure_row(packed: tuple[Task, OptimizeOptions], message: str, seconds: float,
                 tb: str | None) -> dict[str, Any]:
    task = packed[0]
    return _error_row(task.name, task.target, f"{task.source}: error: {task.name} [{task.target}]: {message}",
                      seconds, tb)


def _run_packed(packed: tuple[Task, OptimizeOptions]) -> dict[str, Any]:
    return _run_task(*packed)


def _run_task(task: Task, options: OptimizeOptions) -> dict[str, Any]:
    """One kernel x target, isolated: any failure becomes this row's error (one line, traceback kept)."""
    from eqsat.runner import describe_exception

    t0 = time.perf_counter()
    try:
        return _optimize_task(task, options, t0)
    except EqsatError as e:
        if e.file is None:  # name the kernel's file (a manifest kernel's label names the kernel too)
            manifest = task.source.endswith(".toml")
            e.file = f"{task.source}:{task.name}[{task.target}]" if manifest else task.source
        return _error_row(task.name, task.target, " ".join(str(e).split()), time.perf_counter() - t0)
    except BaseException as e:  # noqa: BLE001 - a bug or an egglog panic in one kernel must not stop the corpus
        if isinstance(e, KeyboardInterrupt):
            raise
        line, tb = describe_exception(e)
        msg = f"{task.source}: error: {task.name} [{task.target}]: internal error: {line}"
        return _error_row(task.name, task.target, msg, time.perf_counter() - t0, tb)


def _injected_fault(name: str) -> None:
    """Test hook of the isolation tests: EQSAT_TEST_FAULT="kernel=segv,kernel2=hang,kernel3=panic"
    makes that kernel's optimization really crash (SIGSEGV), hang (a busy loop), blow up its memory, or
    raise an exception that is no Exception and does not pickle (as egglog's PanicException)."""
    spec = os.environ.get("EQSAT_TEST_FAULT")
    if not spec:
        return
    faults = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    fault = faults.get(name)
    if fault == "segv":
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "hang":
        while True:
            pass
    elif fault == "memory":
        hog = []
        while True:
            hog.append(bytearray(1 << 26))
    elif fault == "panic":
        class _Panic(BaseException):
            def __reduce__(self):  # like pyo3's PanicException: cannot cross a process boundary
                raise TypeError("cannot pickle '_Panic' object")

        raise _Panic("thread 'main' panicked at src/extract.rs: injected\nnote: run with RUST_BACKTRACE=1")


def _optimize_task(task: Task, options: OptimizeOptions, t0: float) -> dict[str, Any]:
    from eqsat.dm.lift import Launch, lift_module
    from eqsat.ir.parser import parse_ttgir
    from eqsat.ir.printer import print_ttgir

    kdir = Path(task.out_dir)
    kdir.mkdir(parents=True, exist_ok=True)
    _injected_fault(task.name)
    (kdir / "input.ttgir").write_text(task.ttgir)
    if task.spec is not None:
        (kdir / "spec.json").write_text(json.dumps(task.spec, indent=2) + "\n")
    label = f"{task.source}:{task.name}[{task.target}].ttgir"
    module = parse_ttgir(task.ttgir, label)
    dm = lift_module(module, kernel=task.name, target=task.target, launch=Launch.from_manifest(task.launch))
    result = optimize_kernel(dm, task.target, options, grid=(task.launch or {}).get("grid"), module=module,
                             launch=task.launch)
    plan = result.plan
    from eqsat.lowering.transport_variants import transport_hook  # issue 12: TTIR-level transport choice

    plan, transported = transport_hook(task.spec, task.target, plan)
    _write_versions(kdir, plan, result.version_texts, task)
    if transported is not None:
        optimized = transported
    elif plan.is_identity:
        optimized = print_ttgir(module)
    else:
        from eqsat.lowering import lower

        optimized = print_ttgir(lower(module, plan))
        if options.latency_check and not _latency_check(plan, task, options, optimized):
            optimized = print_ttgir(module)
    plan.save(kdir / "plan.json")
    if options.dump_egraph:
        from eqsat.egraph.dump import write_dumps

        write_dumps(result.encoded.egraph, result.graph, kdir)
    (kdir / "optimized.ttgir").write_text(optimized)
    # honest `changed`: a non-identity plan is compiled (a plan that does not compile is an error of this
    # kernel) and counts as a change only when its machine code differs from the input's
    changed = False
    if not plan.is_identity:
        from eqsat.lowering.machine_code import machine_code_differs

        changed = machine_code_differs(task.ttgir, optimized, task.target, task.name)
    return {"kernel": task.name, "target": task.target, "status": "ok",
            "cost_before": plan.cost_before.get("total_ns"), "cost_after": plan.cost_after.get("total_ns"),
            "changed": changed, "egraph_nodes": plan.egraph.get("nodes"),
            "seconds": round(time.perf_counter() - t0, 4), "error": None,
            "stop_reason": plan.egraph.get("stop_reason"), "choices": len(plan.choices),
            "rule_set": plan.egraph.get("rule_set")}


def program_time_ns(text: str, target: str, launch: dict[str, Any] | None, name: str = "kernel"
                    ) -> dict[str, Any] | None:
    """The latency-aware predicted kernel time of a whole program at `launch` (NVIDIA targets with a
    `[latency]` section; else None): `costmodels.common.kernel_time_ns` of its cost groups (the
    throughput time) composed with its compiled latency bound (`costmodels.latency`), as the
    alternatives bench judges it. {"ns", "throughput_ns", "latency_ns", "round_trips", "waves"}."""
    from eqsat.costmodels.base import model_for
    from eqsat.costmodels.common import kernel_groups, kernel_time_ns
    from eqsat.costmodels.latency import compose, latency_of
    from eqsat.dm.lift import Launch, lift_module
    from eqsat.ir.parser import parse_ttgir

    model = model_for(target)
    rates = model.rates
    if model.params.model != "nvidia" or rates.memory_latency_ns <= 0:
        return None
    lat = latency_of(text, target, launch, name)
    if lat is None:
        return None
    module = parse_ttgir(text, name)
    dm = lift_module(module, kernel=name, target=target, launch=Launch.from_manifest(launch))
    kernel = _kernel_json(dm, target)
    if launch and launch.get("grid"):
        kernel = {**kernel, "grid": [int(g) for g in launch["grid"]]}
    alpha = float((model.params.get("overlap", {}) or {}).get("kernel_overlap", 0.2))
    groups = kernel_groups(model, kernel)
    throughput = kernel_time_ns(groups, rates, alpha) if "illegal" not in groups else math.inf
    return {"ns": _num(compose(throughput, lat.latency_ns, rates.latency_smooth_p, rates.launch_ns)),
            "throughput_ns": _num(throughput), "latency_ns": _num(lat.latency_ns),
            "round_trips": lat.round_trips, "waves": lat.waves}


def _latency_check(plan: Plan, task: Task, options: OptimizeOptions, optimized: str) -> bool:
    """Price the compiled input and plan with the latency-aware kernel time (`program_time_ns`); a plan
    not faster by the extraction's margin falls back to the input: its choices are dropped and the
    reason recorded in `plan.extraction` (`not_applied_reason`, `rejected_choices`, `latency_check`).
    True when the plan stands (or there is nothing to check: AMD, no launch, no [latency] section)."""
    if not task.launch:
        return True
    try:
        before = program_time_ns(task.ttgir, task.target, task.launch, task.name)
        after = program_time_ns(optimized, task.target, task.launch, task.name)
    except EqsatError as e:  # no cuobjdump, a program Triton rejects: the plan's compile check says so
        plan.extraction["latency_check"] = {"skipped": e.message}
        return True
    if before is None or after is None or before["ns"] is None or after["ns"] is None:
        return True
    margin = max(options.min_gain_ns, options.min_gain_frac * before["ns"])
    gain = before["ns"] - after["ns"]
    plan.extraction["latency_check"] = {"input": before, "plan": after, "gain_ns": _num(gain),
                                        "margin_ns": _num(margin)}
    if gain >= margin:
        return True
    plan.extraction["applied"] = False
    plan.extraction["not_applied_reason"] = (
        f"latency-aware kernel time: plan {after['ns'] / 1e3:.2f} us vs input {before['ns'] / 1e3:.2f} us "
        f"(global round trips per CTA {after['round_trips']:g} vs {before['round_trips']:g}); gain "
        f"{gain:.1f} ns is below the margin {margin:.1f} ns")
    plan.extraction["rejected_choices"] = len(plan.choices)
    plan.choices = []
    plan.cost_after = dict(plan.cost_before)
    return False


def _write_versions(kdir: Path, plan: Plan, texts: dict[str, str], task: Task) -> None:
    """Write each version's TTGIR to `versions/<slug>.ttgir` after compiling it for the target; a version
    Triton does not compile is moved to `rejected_versions` with the reason."""
    from eqsat.lowering.machine_code import compile_text

    kept = []
    for v in plan.versions:
        text = texts[v["slug"]]
        try:
            compile_text(text, task.target, task.name)
        except EqsatError as e:
            plan.rejected_versions.append({k: v[k] for k in ("name", "slug", "guards")} |
                                          {"reason": f"does not compile: {e.message}"})
            continue
        (kdir / "versions").mkdir(exist_ok=True)
        (kdir / v["ttgir"]).write_text(text)
        kept.append(v)
    plan.versions = kept


def _error_row(name: str, target: str, error: str | None, seconds: float,
               tb: str | None = None) -> dict[str, Any]:
    row = {"kernel": name, "target": target, "status": "error", "cost_before": None, "cost_after": None,
           "changed": False, "egraph_nodes": None, "seconds": round(seconds, 4), "error": error}
    if tb:
        row["traceback"] = tb
    return row


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _specs_of(path: str) -> dict[str, dict[str, Any]]:
    """name -> KernelSpec as JSON (paths relative to the repository root) for a manifest; {} otherwise."""
    if not path.endswith(".toml") or not os.path.exists(path):
        return {}
    from eqsat.ingest import load_specs

    try:
        specs, _errors = load_specs(path)
    except EqsatError:
        return {}
    from eqsat.lowering.rundir import spec_to_json  # the reader's own format (stdlib + eqsat.ingest)

    return {spec.name: spec_to_json(spec) for spec in specs}


def summary_table(rows: list[dict[str, Any]]) -> str:
    """The table `eqsat optimize` prints: kernel, target, predicted ns before/after, changed, time, size."""
    header = (f"{'kernel':34} {'target':7} {'status':6} {'before ns':>11} {'after ns':>11} {'changed':>7} "
              f"{'s':>7} {'nodes':>6}  stop")
    lines = [header, "-" * len(header)]
    for r in rows:
        def ns(v: Any) -> str:
            return "-" if v is None else f"{v:.1f}"

        lines.append(f"{r['kernel'][:34]:34} {r['target']:7} {r['status']:6} {ns(r['cost_before']):>11} "
                     f"{ns(r['cost_after']):>11} {str(r['changed']).lower():>7} {r['seconds']:7.2f} "
                     f"{r['egraph_nodes'] if r['egraph_nodes'] is not None else '-':>6}  "
                     f"{r.get('stop_reason') or ''}")
    ok = sum(1 for r in rows if r["status"] == "ok")
    lines.append(f"\n{ok} of {len(rows)} kernel x target optimized; "
                 f"{sum(1 for r in rows if r['changed'])} changed")
    return "\n".join(lines)


class _CallableModule(types.ModuleType):
    """Importing this module makes `eqsat.optimize` name the module, not the function of eqsat/__init__.py;
    calling the module calls `optimize`, so `eqsat.optimize(ttgir_text, target)` works either way."""

    def __call__(self, ttgir_text: str, target: str = "h100", **kwargs: Any) -> Plan:
        return optimize(ttgir_text, target, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
