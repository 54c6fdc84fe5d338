"""Judge the cost model on the alternatives the e-graph holds, not only on the extracted plan (issue 13).

CPU side (this machine: xdsl, egglog, z3). For every corpus kernel of a run directory (`eqsat optimize
... --target h200 --out RUN`, its `input.ttgir` and `spec.json`), at the manifest's *bench* launch (the
size the GPU times):

    saturate + extract as `eqsat optimize` does        (eqsat.optimize.optimize_kernel)
    for every e-class the input program selects, for every other e-node of that class:
        selection = the input's, with that one class swapped (new child classes take their cheapest tree)
        choices   = decode(selection)                   (eqsat.egraph.decode: the plan that swap means)
        text      = lower(module, plan)                 (eqsat.lowering.apply: refused plans are recorded)
        predicted = dag_cost(input) / dag_cost(selection)
    plus the extracted plan itself; identical lowered texts are kept once

and writes a folder per kernel for the GPU runner (`benchmarks/alternatives_gpu.py`):

    OUT/<kernel>/h200/{input.ttgir, spec.json, vNN.ttgir, variants.json}

`variants.json` lists each variant: its choices, the op kinds they touch, predicted cost before/after (ns,
the model's movement time), and the predicted speedup. Per kernel at most `--per-kernel` variants are kept,
spread over choice kinds and predicted speedups (the extracted plan always).

    python benchmarks/alternatives.py prepare RUN --out runs/altE_h200 [--per-kernel 6] [--kernel NAME]
    python benchmarks/alternatives.py report MEASURED.json [MORE.json] --out results/alternatives_h200
        [--egraph] [--import-transport FILE.json] [--import-versions FILE.json]

`report` joins the GPU's measurements with the predictions and writes `.json` and `.md`: Kendall tau of
predicted vs measured speedup, the sign agreement over pairs beyond noise, the median absolute error of
predicted kernel time, and errors per op kind. Each measured program is priced again from its TTGIR:

    throughput T = costmodels.common.kernel_time_ns(its cost groups)              (program_groups)
    latency    Λ = waves x global round trips of one CTA x memory_latency_ns      (program_latency: the
                   program compiled, its SASS read by costmodels/latency.py)
    time       = launch + (T^p + Λ^p)^(1/p)       ([latency] of h200.toml; --no-latency: T alone)

and, since [latency] was fitted on these rows, the report also gives leave-one-kernel-out figures: each
kernel predicted with memory_latency_ns refit on the other kernels' rows (`leave_one_kernel_out`).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from rank_stats import kendall_tau_b  # benchmarks/ is on sys.path (a script's folder)

ROOT = Path(__file__).resolve().parent.parent
TARGET = "h200"


# ------------------------------------------------------------------------------------------ enumeration
def timed_launch(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The launch a variant folder is priced and timed at (spec.json): its first production shape, as
    `KernelSpec.production_shapes` orders them (declared `shapes`, else `bench`, else `launch`);
    alternatives_gpu.py times the same one."""
    shapes = spec.get("shapes") or []
    if shapes:
        return {k: v for k, v in shapes[0].items() if k != "name"}
    return spec.get("bench") or spec.get("launch")


def _complete(graph: Any, sel: dict[str, str], best_node: dict[str, str], root: str) -> dict[str, str] | None:
    """`sel` with every reachable class lacking a node given its cheapest node; None on a cycle."""
    from eqsat.egraph.extract import reachable_selected

    out = dict(sel)
    for _ in range(64):
        try:
            reach = reachable_selected(
                graph, {**{c: best_node[c] for c in graph.classes if c in best_node}, **out}, root
            )
        except ValueError:
            return None
        missing = [c for c in reach if c not in out]
        if not missing:
            return out
        for c in missing:
            if c in best_node:
                out[c] = best_node[c]
            else:
                return None
    return None


def _best_nodes(graph: Any, prices: Any) -> dict[str, str]:
    from eqsat.egraph.extract import tree_costs

    best = tree_costs(graph, prices)
    out: dict[str, str] = {}
    for cid, nids in graph.classes.items():
        scored = [(prices(n) + sum(best[ch] for ch in graph.nodes[n].children), n) for n in nids]
        scored = [s for s in scored if math.isfinite(s[0])]
        if scored:
            out[cid] = min(scored)[1]
    return out


def _groups(graph: Any, prices: Any, sel: dict[str, str], root: str) -> dict[str, float]:
    """ns per cost group (global, issue, l1, shared, shuffle, barrier, ...) of a selection."""
    from eqsat.egraph.extract import reachable_selected

    out: dict[str, float] = {}
    for cid in reachable_selected(graph, sel, root):
        c = prices.cost(sel.get(cid) or graph.classes[cid][0])
        for k, v in c.ns.items():
            out[k] = out.get(k, 0.0) + v
    return {k: round(v, 3) for k, v in sorted(out.items())}


def _op_kinds(choices: list[Any], ops: dict[int, Any]) -> list[str]:
    return sorted({f"{c.kind}:{ops.get(c.op, {}).get('kind', '?')}" for c in choices})


def _label(choices: list[Any]) -> str:
    parts = []
    for c in choices:
        p = c.params
        detail = p.get("strategy") or p.get("path") or p.get("mode") or ""
        parts.append(f"{c.kind}({c.op}{':' + str(detail) if detail else ''})")
    return " + ".join(parts)


def enumerate_kernel(kdir: Path, target: str = TARGET, log: Any = print) -> dict[str, Any]:
    """Every single-swap alternative of one kernel, lowered: {"kernel", "before_ns", "variants": [...]}.
    Each variant: choices (plan JSON), label, kinds, after_ns, predicted_speedup, text (lowered TTGIR)."""
    from eqsat.costmodels.base import model_for
    from eqsat.lowering.apply import lower
    from eqsat.lowering.edits import LoweringError
    from eqsat.lowering.irtext import strip_locations

    from eqsat.dm.lift import Launch, lift_module
    from eqsat.egraph.costs import GraphPrices, NodePricer
    from eqsat.egraph.decode import DecodeContext, decode
    from eqsat.egraph.extract import dag_cost, reachable_selected, term_selection
    from eqsat.ir.parser import parse_ttgir
    from eqsat.ir.printer import print_ttgir
    from eqsat.optimize import OptimizeOptions, _kernel_json, optimize_kernel, rule_families
    from eqsat.plan import Plan

    spec = json.loads((kdir / "spec.json").read_text())
    launch = timed_launch(spec)
    ttgir = (kdir / "input.ttgir").read_text()
    module = parse_ttgir(ttgir, str(kdir / "input.ttgir"))
    dm = lift_module(module, kernel=spec["name"], target=target, launch=Launch.from_manifest(launch))
    opts = OptimizeOptions()
    grid = (launch or {}).get("grid")
    result = optimize_kernel(dm, target, opts, grid=grid, module=module)
    enc, graph = result.encoded, result.graph
    kernel_json = _kernel_json(dm, target)
    if grid and not kernel_json.get("grid"):
        kernel_json = {**kernel_json, "grid": [int(g) for g in grid]}
    prices = GraphPrices(graph, NodePricer(model_for(target), kernel_json))
    raw_pricer = NodePricer(model_for(target), kernel_json)
    raw_pricer._hidden = 0.0  # nothing hidden: the kernel-level composition (common.kernel_time_ns) overlaps
    raw = GraphPrices(graph, raw_pricer)
    root, original = term_selection(graph, enc.root)
    before = dag_cost(graph, original, root, prices)
    best_node = _best_nodes(graph, prices)
    families = rule_families(opts.rules)
    rule_kinds = {r.name: getattr(r, "plan_choice", "") for f in families for r in f.rules}
    ops = {o["id"]: o for o in kernel_json["ops"]}
    base_text = strip_locations(print_ttgir(module))
    seen: dict[str, dict[str, Any]] = {}
    refused: list[str] = []
    candidates: list[tuple[dict[str, str], str]] = []
    if result.plan.choices:
        candidates.append(({}, "extracted"))
    for cid in reachable_selected(graph, original, root):
        if graph.sorts.get(cid) not in ("Tile", "Smem", "Sink"):
            continue
        for nid in graph.classes[cid]:
            if nid != original.get(cid):
                candidates.append(({cid: nid}, "swap"))
    for swap, how in candidates:
        if how == "extracted":
            choices = result.plan.choices
            sel = None
        else:
            sel = _complete(graph, {**original, **swap}, best_node, root)
            if sel is None:
                continue
            ctx = DecodeContext(
                enc, graph, prices, root, original, sel, rule_kinds, result.schedule.rule_matches
            )
            try:
                choices = decode(ctx)
            except Exception as e:  # noqa: BLE001 - a selection the decoder cannot express
                refused.append(f"decode: {type(e).__name__}: {e}")
                continue
        if not choices:
            continue
        after = (
            dag_cost(graph, sel, root, prices) if sel is not None else result.plan.cost_after.get("total_ns")
        )
        if after is None or not math.isfinite(after):
            continue
        plan = Plan(kernel=spec["name"], target=target, cost_before={}, cost_after={}, choices=choices)
        try:
            text = print_ttgir(lower(module, plan))
        except LoweringError as e:
            refused.append(e.message)
            continue
        key = strip_locations(text)
        if key == base_text:
            continue
        groups = _groups(graph, raw, sel, root) if sel is not None else {}
        rec = {
            "label": _label(choices),
            "how": how,
            "kinds": _op_kinds(choices, ops),
            "groups": groups,
            "choices": [dict(op=c.op, kind=c.kind, params=c.params) for c in choices],
            "after_ns": round(after, 3),
            "predicted_speedup": before / after if after > 0 else None,
            "text": text,
        }
        if key in seen:
            if how == "extracted":
                seen[key]["how"] = "extracted"
            elif not seen[key]["groups"] and groups:  # the extracted plan, now with its breakdown
                seen[key]["groups"] = groups
            continue
        seen[key] = rec
    log(
        f"{spec['name']}: before {before:.1f} ns, {len(candidates)} candidates, {len(seen)} distinct "
        f"lowered variants, {len(refused)} refused"
    )
    return {
        "kernel": spec["name"],
        "before_ns": round(before, 3),
        "grid": grid,
        "before_groups": _groups(graph, raw, original, root),
        "variants": list(seen.values()),
        "refused": refused[:20],
    }


def pick(variants: list[dict[str, Any]], per_kernel: int) -> list[dict[str, Any]]:
    """At most `per_kernel` variants spread over choice-kind signatures and predicted speedups: the
    extracted one, then round robin over signatures taking the extremes and the middle of each."""
    if len(variants) <= per_kernel:
        return variants
    out = [v for v in variants if v["how"] == "extracted"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for v in variants:
        if v["how"] != "extracted":
            groups.setdefault(" ".join(v["kinds"]), []).append(v)
    queues = []
    for g in groups.values():
        g.sort(key=lambda v: v["predicted_speedup"] or 0)
        order = [g[-1], g[0], g[len(g) // 2]] + g[1:-1]
        uniq: list[dict[str, Any]] = []
        for v in order:
            if all(v is not u for u in uniq):
                uniq.append(v)
        queues.append(uniq)
    while len(out) < per_kernel and any(queues):
        for q in queues:
            if q and len(out) < per_kernel:
                out.append(q.pop(0))
    return out


def prepare(run_dir: Path, out: Path, per_kernel: int, kernels: list[str] | None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for kdir in sorted(run_dir.glob(f"*/{TARGET}")):
        if not (kdir / "spec.json").is_file():
            continue
        spec = json.loads((kdir / "spec.json").read_text())
        if kernels and spec["name"] not in kernels:
            continue
        if not timed_launch(spec):
            continue
        if "project" not in str(spec.get("path") or spec.get("file") or ""):
            continue  # the GPU machine imports only the project's own kernels (no liger/fla there)
        try:
            res = enumerate_kernel(kdir)
        except Exception as e:  # noqa: BLE001 - one kernel fails alone
            print(f"{spec['name']}: {type(e).__name__}: {str(e).splitlines()[0][:200]}", file=sys.stderr)
            continue
        chosen = pick(res["variants"], per_kernel)
        if not chosen:
            continue
        dst = out / kdir.parent.name / TARGET
        dst.mkdir(parents=True, exist_ok=True)
        (dst / "input.ttgir").write_text((kdir / "input.ttgir").read_text())
        (dst / "spec.json").write_text((kdir / "spec.json").read_text())
        listed = []
        for i, v in enumerate(chosen):
            name = f"v{i:02d}.ttgir"
            (dst / name).write_text(v["text"])
            listed.append({**{k: x for k, x in v.items() if k != "text"}, "file": name})
        meta = {
            "kernel": res["kernel"],
            "before_ns": res["before_ns"],
            "grid": res["grid"],
            "variants": listed,
            "available": len(res["variants"]),
            "refused": res["refused"],
        }
        (dst / "variants.json").write_text(json.dumps(meta, indent=2) + "\n")
        index.append(
            {
                "kernel": res["kernel"],
                "dir": str(dst.relative_to(out)),
                "variants": len(listed),
                "available": len(res["variants"]),
            }
        )
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    total = sum(i["variants"] for i in index)
    print(f"{len(index)} kernels, {total} variants -> {out}")
    return 0


# ------------------------------------------------------------------------------------------ statistics
def kendall_tau(xs: list[float], ys: list[float]) -> float | None:
    """Kendall tau-b (ties in either list handled); None under 3 pairs."""
    return None if len(xs) < 3 else kendall_tau_b(xs, ys)


def sign_agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Over variants measured beyond noise (|measured speedup - 1| > noise), the fraction whose predicted
    faster/slower sign matches; variants within noise are listed apart."""
    beyond = [r for r in rows if abs(r["measured_speedup"] - 1) > r["noise_threshold"]]
    right = [r for r in beyond if (r["predicted_speedup"] > 1) == (r["measured_speedup"] > 1)]
    return {
        "beyond_noise": len(beyond),
        "right": len(right),
        "fraction": len(right) / len(beyond) if beyond else None,
    }


def kendall_tau_beyond_noise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Kendall tau over the pairs of alternatives whose measured speedups differ beyond the noise of both
    (|m_i - m_j| > max(threshold_i, threshold_j) x max(m_i, m_j)): pairs inside the noise have no measured
    order to agree with. Ties in the prediction count as neither concordant nor discordant."""
    conc = disc = ties = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            dm = a["measured_speedup"] - b["measured_speedup"]
            thr = max(a["noise_threshold"], b["noise_threshold"]) * max(a["measured_speedup"],
                                                                         b["measured_speedup"])
            if abs(dm) <= thr:
                continue
            dp = a["predicted_speedup"] - b["predicted_speedup"]
            if dp * dm > 0:
                conc += 1
            elif dp * dm < 0:
                disc += 1
            else:
                ties += 1
    n = conc + disc + ties
    return {"pairs": n, "concordant": conc, "discordant": disc, "tau": (conc - disc) / n if n else None}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ps = [r["predicted_speedup"] for r in rows]
    ms = [r["measured_speedup"] for r in rows]
    errs = [
        abs(r["predicted_ns"] - r["measured_ns"]) / r["measured_ns"]
        for r in rows
        if r.get("predicted_ns") and r.get("measured_ns")
    ]
    kernel_errs = {}
    for r in rows:
        if r.get("baseline_predicted_ns") and r.get("baseline_ns"):
            kernel_errs[r["kernel"]] = abs(r["baseline_predicted_ns"] - r["baseline_ns"]) / r["baseline_ns"]
    per_kind: dict[str, dict[str, Any]] = {}
    for r in rows:
        for k in r["kinds"]:
            per_kind.setdefault(k, []).append(r)  # type: ignore[arg-type]
    kinds = {}
    for k, rs in sorted(per_kind.items()):  # type: ignore[assignment]
        e = [math.log(r["predicted_speedup"] / r["measured_speedup"]) for r in rs]
        kinds[k] = {
            "n": len(rs),
            "median_log_error": statistics.median(e),
            "median_abs_speedup_error": statistics.median(
                abs(r["predicted_speedup"] - r["measured_speedup"]) for r in rs
            ),
            "sign": sign_agreement(rs),
            "tau": kendall_tau([r["predicted_speedup"] for r in rs], [r["measured_speedup"] for r in rs]),
        }
    return {
        "n": len(rows),
        "kernels": len({r["kernel"] for r in rows}),
        "kendall_tau": kendall_tau(ps, ms),
        "kendall_tau_beyond_noise": kendall_tau_beyond_noise(rows),
        "sign": sign_agreement(rows),
        "median_abs_time_error_variants": statistics.median(errs) if errs else None,
        "median_abs_time_error_kernels": statistics.median(kernel_errs.values()) if kernel_errs else None,
        "per_kind": kinds,
    }


def merge_measurements(files: list[Path]) -> dict[str, Any]:
    """The alternatives_gpu.py outputs of one variant folder as one measurement record (`combine_runs` per
    kernel)."""
    merged: dict[str, Any] = {"results": []}
    by_kernel: dict[str, list[Any]] = {}
    for path in files:
        data = json.loads(path.read_text())
        for rec in data["results"]:
            by_kernel.setdefault(rec["kernel"], []).append(rec)
        merged.update({k: v for k, v in data.items() if k != "results"})
    merged["results"] = [combine_runs(recs) for recs in by_kernel.values()]
    return merged


def unpack_programs(archive: Path, runs: Path) -> None:
    """Unpack the variant folders of `archive` into `runs` where they are missing (a fresh clone has none:
    runs/ is not tracked)."""
    import tarfile

    with tarfile.open(archive) as tar:
        tops = {m.name.split("/", 1)[0] for m in tar.getmembers()}
        missing = [t for t in tops if not (runs / t).exists()]
        if missing:
            runs.mkdir(parents=True, exist_ok=True)
            tar.extractall(runs, members=[m for m in tar.getmembers() if m.name.split("/", 1)[0] in missing],
                           filter="data")


def combine_runs(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """One kernel's records of several GPU runs of the same variant folder as one: per variant the median
    of its per-run speedups (each against its own run's baseline) and of its times; noise = the largest of
    the runs' baseline spreads, of their identity controls' distance from 1 (the input through the
    loader, alternatives_gpu.py) and of a variant's spread between runs."""
    good = [r for r in recs if "baseline_ns" in r]
    if not good:
        return recs[-1]
    out = {**good[-1], "runs": len(good)}
    out["baseline_ns"] = statistics.median(r["baseline_ns"] for r in good)
    noise = [r["noise"] for r in good]
    noise += [abs(1 - r["identity"]["measured_speedup"]) for r in good
              if (r.get("identity") or {}).get("measured_speedup")]
    variants = []
    for v in good[-1]["variants"]:
        same = [x for r in good for x in r["variants"] if x["file"] == v["file"] and "measured_ns" in x]
        v = dict(v)
        if same:
            speedups = [x["measured_speedup"] for x in same]
            v["measured_speedup"] = statistics.median(speedups)
            v["measured_ns"] = statistics.median(x["measured_ns"] for x in same)
            v["bit_identical"] = all(x.get("bit_identical") for x in same)
            if len(same) > 1:
                noise.append((max(speedups) - min(speedups)) / min(speedups))
        variants.append(v)
    out["variants"] = variants
    out["noise"] = max(noise)
    return out


def _key(choices: list[dict[str, Any]]) -> str:
    return json.dumps(choices, sort_keys=True)


def program_groups(kdir: Path, ttgir: str, target: str = TARGET) -> dict[str, float]:
    """The cost model's groups (ns, nothing hidden) of one program of a variant folder, lifted from its
    TTGIR at the bench launch: the price of the program that really ran
    (`costmodels.common.kernel_groups`)."""
    from eqsat.costmodels.base import model_for
    from eqsat.costmodels.common import kernel_groups

    from eqsat.dm.lift import Launch, lift_module
    from eqsat.ir.parser import parse_ttgir
    from eqsat.optimize import _kernel_json

    spec = json.loads((kdir / "spec.json").read_text())
    launch = timed_launch(spec)
    module = parse_ttgir((kdir / ttgir).read_text(), str(kdir / ttgir))
    dm = lift_module(module, kernel=spec["name"], target=target, launch=Launch.from_manifest(launch))
    kernel = _kernel_json(dm, target)
    if launch and launch.get("grid"):
        kernel = {**kernel, "grid": [int(g) for g in launch["grid"]]}
    return kernel_groups(model_for(target), kernel)


def program_latency(kdir: Path, ttgir: str, target: str = TARGET) -> dict[str, Any] | None:
    """The latency bound of one program of a variant folder, compiled, at the bench launch
    (`costmodels.latency.latency_of`: SASS round trips x waves): its `Latency.as_dict()`."""
    from eqsat.costmodels.latency import latency_of

    spec = json.loads((kdir / "spec.json").read_text())
    lat = latency_of((kdir / ttgir).read_text(), target, timed_launch(spec), ttgir)
    return None if lat is None else lat.as_dict()


def repredict(alt_dir: Path, measured: dict[str, Any], log: Any = print,
              latency: bool = True) -> dict[str, dict[str, Any]]:
    """Price every measured program again with the current cost model, from its lowered TTGIR:
    {kernel: {"before_groups", "groups": {file: groups}, "before_latency", "latency": {file: ...}}}
    (the latency entries, `program_latency`, only with `latency`)."""
    out: dict[str, dict[str, Any]] = {}
    for r in measured["results"]:
        if "baseline_ns" not in r:
            continue
        kdir = alt_dir / r["kernel"] / TARGET
        files = [v["file"] for v in r["variants"] if "measured_ns" in v]
        groups = {f: program_groups(kdir, f) for f in files}
        out[r["kernel"]] = {"before_groups": program_groups(kdir, "input.ttgir"), "groups": groups}
        if latency:
            out[r["kernel"]]["before_latency"] = program_latency(kdir, "input.ttgir")
            out[r["kernel"]]["latency"] = {f: program_latency(kdir, f) for f in files}
        log(f"repriced {r['kernel']}")
    return out


def latency_time_ns(throughput_ns: float, lat: dict[str, Any] | None, rates: Any,
                    memory_latency_ns: float | None = None) -> float:
    """The latency-aware kernel time: `costmodels.latency.compose` of the throughput time
    (`kernel_time_ns`, launch included) and the program's latency bound, re-evaluated with
    `memory_latency_ns` when given (the leave-one-kernel-out refit)."""
    from eqsat.costmodels.latency import compose, path_ns

    if not lat:
        return throughput_ns
    mem = rates.memory_latency_ns if memory_latency_ns is None else memory_latency_ns
    latency = lat["waves"] * path_ns(lat["round_trips"], lat["stall_cycles"], mem, rates.latency_issue_weight,
                                     rates.clock_ghz)
    return compose(throughput_ns, latency, rates.latency_smooth_p, rates.launch_ns)


def egraph_repredict(alt_dir: Path, measured: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The e-graph's own prediction with the current model (what extraction compares): the same
    single-swap enumeration again, matched by choices: {kernel: {"before_ns", "after": {choices: ns}}}."""
    out: dict[str, dict[str, Any]] = {}
    for r in measured["results"]:
        if "baseline_ns" not in r:
            continue
        res = enumerate_kernel(alt_dir / r["kernel"] / TARGET, log=lambda _m: None)
        out[r["kernel"]] = {
            "before_ns": res["before_ns"],
            "after": {_key(v["choices"]): v["after_ns"] for v in res["variants"]},
        }
    return out


def rows_of(
    measured: dict[str, Any],
    prices: dict[str, dict[str, Any]] | None = None,
    egraph: dict[str, dict[str, Any]] | None = None,
    memory_latency_ns: float | None = None,
) -> list[dict[str, Any]]:
    """One row per measured, bit-identical variant: predicted and measured times and speedups. Predicted
    kernel time: `costmodels.common.kernel_time_ns` of the program's cost groups (launch + max(M, S) +
    overlap x min(M, S)) when repriced, composed with the compiled program's latency bound when
    `prices` has it (`latency_time_ns`; `memory_latency_ns` overrides the parameter file's), else the
    recorded movement time + the launch overhead."""
    from eqsat.costmodels.base import model_for
    from eqsat.costmodels.common import kernel_time_ns, launch_overhead_ns

    model = model_for(TARGET)
    rates = model.rates
    alpha = float((model.params.get("overlap", {}) or {}).get("kernel_overlap", 0.2))
    rows = []
    for r in measured["results"]:
        if "baseline_ns" not in r:
            continue
        repriced = (prices or {}).get(r["kernel"])
        launch = launch_overhead_ns(rates, r.get("ctas"))
        before = before_t = r["before_ns"] + launch
        lat_before = None
        if repriced:
            before_t = kernel_time_ns(repriced["before_groups"], rates, alpha)
            lat_before = repriced.get("before_latency")
            before = latency_time_ns(before_t, lat_before, rates, memory_latency_ns)
        for v in r["variants"]:
            if "measured_ns" not in v or not v.get("bit_identical"):
                continue
            after = after_t = v["after_ns"] + launch
            lat = None
            if repriced:
                after_t = kernel_time_ns(repriced["groups"][v["file"]], rates, alpha)
                lat = (repriced.get("latency") or {}).get(v["file"])
                after = latency_time_ns(after_t, lat, rates, memory_latency_ns)
            rows.append(
                {
                    "kernel": r["kernel"],
                    "file": v["file"],
                    "label": v["label"],
                    "kinds": v["kinds"],
                    "how": v["how"],
                    "predicted_speedup": before / after,
                    "egraph_predicted_speedup": _egraph_speedup(egraph, r, v),
                    "measured_speedup": v["measured_speedup"],
                    "predicted_ns": after,
                    "measured_ns": v["measured_ns"],
                    "baseline_predicted_ns": before,
                    "baseline_ns": r["baseline_ns"],
                    "noise": r["noise"],
                    "noise_threshold": max(r["noise"], NOISE_FLOOR),
                    "throughput_ns": after_t,
                    "baseline_throughput_ns": before_t,
                    "latency": _lat_summary(lat),
                    "baseline_latency": _lat_summary(lat_before),
                }
            )
    return rows


LOO_GRID = [float(x) for x in range(0, 2001, 100)]  # memory_latency_ns candidates of the refit


def _fit_score(rows: list[dict[str, Any]]) -> float:
    s = summarize(rows)
    return (s["kendall_tau"] or 0.0) + (s["kendall_tau_beyond_noise"]["tau"] or 0.0)


def leave_one_kernel_out(groups: list[tuple[dict[str, Any], dict[str, dict[str, Any]] | None]]
                         ) -> dict[str, Any]:
    """Each kernel's rows predicted with `memory_latency_ns` refit on the other kernels' rows alone (the
    grid LOO_GRID, the score tau + tau beyond noise; issue weight and smooth_p stay the parameter
    file's): how much of the fit's gain survives on a kernel it has not seen. `groups` are the
    (measurements, prices) of every variant folder; a kernel in several folders is held out of all of them
    at once. {"rows", "chosen"}."""
    by_latency = {m: [row for measured, prices in groups
                      for row in rows_of(measured, prices, memory_latency_ns=m)] for m in LOO_GRID}
    kernels = sorted({r["kernel"] for r in by_latency[LOO_GRID[0]]})
    out: list[dict[str, Any]] = []
    chosen: dict[str, float] = {}
    for k in kernels:
        best = max(LOO_GRID, key=lambda m: (_fit_score([r for r in by_latency[m] if r["kernel"] != k]), -m))
        chosen[k] = best
        out += [r for r in by_latency[best] if r["kernel"] == k]
    return {"rows": out, "chosen": chosen}


def _lat_summary(lat: dict[str, Any] | None) -> dict[str, Any] | None:
    keys = ("round_trips", "stall_cycles", "resident", "waves", "latency_ns")
    return None if not lat else {k: lat[k] for k in keys}


def transport_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of issue 12's transport bench (another helper's GPU run): each variant against the JIT."""
    rows = []
    for r in data["results"]:
        for name, v in (r.get("variants") or {}).items():
            if "speedup" not in v or v.get("predicted_speedup") is None:
                continue
            if not (v.get("bit_identical_launch") and v.get("bit_identical_bench")):
                continue
            rows.append(
                {
                    "kernel": r["kernel"],
                    "file": name,
                    "label": f"transport {name}",
                    "kinds": ["transport:dot_operands"],
                    "how": "imported",
                    "predicted_speedup": float(v["predicted_speedup"]),
                    "measured_speedup": v["speedup"],
                    "egraph_predicted_speedup": float(v["predicted_speedup"]),
                    "predicted_ns": None,
                    "measured_ns": v["ms"] * 1e6,
                    "noise": r["noise"],
                    "noise_threshold": max(r["noise"], NOISE_FLOOR),
                }
            )
    return rows


def version_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the guarded-versions bench: each shape that ran a version (not the fallback)."""
    rows = []
    for r in data["results"]:
        predicted = {}
        for b in r.get("buckets") or []:
            for v in b.get("versions") or []:
                if v.get("predicted_ns") and v.get("fallback_ns"):
                    predicted[(b["bucket"], v["name"])] = v["fallback_ns"] / v["predicted_ns"]
        for sh in r.get("shapes") or []:
            key = (sh.get("bucket"), sh.get("version"))
            if sh.get("version") in (None, "fallback") or key not in predicted or not sh.get("bit_identical"):
                continue
            rows.append(
                {
                    "kernel": r["kernel"],
                    "file": sh["shape"],
                    "label": f"version {sh['version']}",
                    "kinds": ["version:guarded"],
                    "how": "imported",
                    "predicted_speedup": predicted[key],
                    "measured_speedup": sh["speedup"],
                    "egraph_predicted_speedup": predicted[key],
                    "predicted_ns": None,
                    "measured_ns": sh["eqsat_us"] * 1e3,
                    "noise": sh["noise"],
                    "noise_threshold": max(sh["noise"], NOISE_FLOOR),
                }
            )
    return rows


def _egraph_speedup(egraph: dict[str, dict[str, Any]] | None, r: dict[str, Any], v: dict[str, Any]) -> float:
    e = (egraph or {}).get(r["kernel"])
    if e is None:
        return v["predicted_speedup"]
    after = e["after"].get(_key(v["choices"]))
    return e["before_ns"] / after if after else v["predicted_speedup"]


NOISE_FLOOR = 0.02  # lowering/bench.py: below 2% two timings count as the same


def markdown(summary: dict[str, Any], rows: list[dict[str, Any]], commands: list[str]) -> str:
    s = summary
    own = s.get("own") or s

    def stats(x: dict[str, Any]) -> str:
        sign = x["sign"]
        pct = _f(100 * sign["fraction"] if sign["fraction"] is not None else None, ".0f")
        bn = x.get("kendall_tau_beyond_noise") or {}
        return (
            f"n = {x['n']} ({x['kernels']} kernels): Kendall tau **{_f(x['kendall_tau'])}** (over the "
            f"{bn.get('pairs', '-')} pairs whose measured speedups differ beyond noise: "
            f"**{_f(bn.get('tau'))}**), faster/slower "
            f"sign right beyond noise **{sign['right']}/{sign['beyond_noise']}** ({pct}%)"
        )

    out = ["# Alternatives on an H200: predicted vs measured speedup per alternative", ""]
    out += ["Commands:", ""] + [f"    {c}" for c in commands] + [""]
    out += [
        "Each alternative is the input plan with one e-graph choice swapped (benchmarks/alternatives.py), "
        "lowered by eqsat's lowering, bit-identical to Triton's JIT at both sizes, timed at the first "
        "production shape (declared shapes, else bench) "
        "(`do_bench` medians over 3 rounds of baseline / variants / baseline; noise = the two baselines' "
        "spread, at least 2%). Predicted kernel time = `costmodels.common.kernel_time_ns` of the lowered "
        "program's cost groups (launch + max(memory, on-SM) + 0.2 x min)"
        + (
            ", composed with the compiled program's latency bound (costmodels/latency.py: SASS round trips "
            "to global memory on one CTA's path x memory_latency_ns + stall cycles x issue_weight, times "
            "the waves of resident CTAs; launch + (T^p + latency^p)^(1/p), the [latency] parameters of "
            "h200.toml, fitted on the 108 rows of folder altE_h200 only: altF_h200 holds other swaps of "
            "those kernels and altH_h200 kernels no fit saw)"
            if s.get("latency") else ""
        )
        + "; predicted speedup = its ratio for the input and the alternative.",
        "",
        f"- this bench's alternatives: {stats(own)}; median absolute error of predicted kernel time "
        f"**{_f(100 * own['median_abs_time_error_variants'], '.0f')}%** over the alternatives, "
        f"{_f(100 * own['median_abs_time_error_kernels'], '.0f')}% over the inputs",
        *(
            [f"  - folder `{name}`: {stats(f)}; median |time error| "
             f"{_f(100 * f['median_abs_time_error_variants'], '.0f')}%"
             for name, f in (s.get("folders") or {}).items()]
        ),
        f"- with the imported measurements of the other helpers ({s.get('imported', 0)} rows: issue 12's "
        "transport variants, predicted by costmodels/pipeline.py; guarded versions, predicted by their "
        f"plans): {stats(s)}",
        *(
            [
                f"- leave one kernel out (each kernel predicted with memory_latency_ns refit on the other "
                f"kernels' rows, grid 0..2000 ns): {stats(s['loo'])}; median |time error| "
                f"{_f(100 * s['loo']['median_abs_time_error_variants'], '.0f')}%; with the imports: "
                f"{stats(s['loo_with_imports'])}; refit values: "
                + ", ".join(f"{m:g}" for m in sorted(set(s["loo"]["chosen"].values()))) + " ns",
            ]
            if s.get("loo") else []
        ),
        ("- the e-graph's own prices of the same alternatives (what extraction compares; `--egraph`): "
         if s.get("egraph_repriced") else
         "- the e-graph's prices recorded when the folders were prepared (an older model; `--egraph` prices "
         "them again): ")
        + f"Kendall tau {_f(s.get('egraph_kendall_tau'))}, sign "
        f"{(s.get('egraph_sign') or {}).get('right')}/{(s.get('egraph_sign') or {}).get('beyond_noise')}",
        "",
        "## Errors per op kind (a variant counts under every choice kind x op kind it changes)",
        "",
        "| choice:op | n | median log(pred/meas) | median abs speedup error | sign right | tau |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, r in s["per_kind"].items():
        out.append(
            f"| {k} | {r['n']} | {_f(r['median_log_error'], '+.3f')} | "
            f"{_f(r['median_abs_speedup_error'], '.3f')} | {r['sign']['right']}/{r['sign']['beyond_noise']} "
            f"| {_f(r['tau'])} |"
        )
    out += [
        "",
        "## Every alternative",
        "",
        "| folder | kernel | variant | choices | predicted us | measured us | predicted x | e-graph x "
        "| measured x | noise % | round trips input / variant (waves) |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        pns = "-" if r.get("predicted_ns") is None else f"{r['predicted_ns'] / 1e3:.1f}"
        lat, blat = r.get("latency"), r.get("baseline_latency")
        trips = (f"{blat['round_trips']:g} / {lat['round_trips']:g} ({blat['waves']} / {lat['waves']})"
                 if lat and blat else "-")
        out.append(
            f"| {r.get('folder', '-')} | {r['kernel']} | {r['file'][:18]}"
            f"{' (extracted)' if r['how'] == 'extracted' else ''} | "
            f"{r['label']} | {pns} | {r['measured_ns'] / 1e3:.1f} | {r['predicted_speedup']:.3f} | "
            f"{_f(r.get('egraph_predicted_speedup'))} | {r['measured_speedup']:.3f} | "
            f"{100 * r['noise']:.1f} | {trips} |"
        )
    return "\n".join(out) + "\n"


def render(data: dict[str, Any]) -> str:
    md = markdown(data["summary"], data["rows"], data.get("commands") or [])
    if data.get("failed"):
        md += (
            "\nNot measured / crashed variants:\n\n"
            + "\n".join(
                f"- {f['kernel']}: {f.get('error') or ''} {f.get('crashed') or ''}" for f in data["failed"]
            )
            + "\n"
        )
    return md


def _f(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="alternatives.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-kernel", type=int, default=6)
    p.add_argument("--kernel", action="append")
    rd = sub.add_parser("render", help="write the .md of a report .json again")
    rd.add_argument("report", type=Path)
    r = sub.add_parser("report")
    r.add_argument(
        "measured", type=Path, nargs="*",
        help="alternatives_gpu.py outputs of the --alt-dir folder (runs of one folder are combined)",
    )
    r.add_argument("--alt-dir", type=Path, default=ROOT / "runs" / "altE_h200")
    r.add_argument(
        "--group", nargs="+", action="append", default=[], metavar="ALT_DIR FILE",
        help="another variant folder and its alternatives_gpu.py outputs (repeat for several folders; "
        "rows are pooled, and summarized per folder too)",
    )
    r.add_argument(
        "--programs", type=Path,
        help="a .tar.gz of variant folders (benchmarks/results/alternatives_programs_h200.tar.gz), unpacked "
        "into runs/ where a folder is missing",
    )
    r.add_argument("--out", type=Path, required=True, help="path without suffix: writes .json and .md")
    r.add_argument(
        "--as-measured",
        action="store_true",
        help="use the predictions recorded at prepare time instead of pricing again",
    )
    r.add_argument("--command", action="append", default=[], help="a command to list in the report")
    r.add_argument(
        "--import-transport",
        type=Path, action="append", default=[],
        help="benchmarks/results/gpu_transport_h200.json (issue "
        "12's transport variants, predicted by costmodels/pipeline.py)",
    )
    r.add_argument(
        "--import-versions",
        type=Path, action="append", default=[],
        help="benchmarks/results/gpu_versions_h200.json (guarded versions, predicted by the plan's versions)",
    )
    r.add_argument(
        "--no-latency",
        action="store_true",
        help="price with the throughput time alone (costmodels/latency.py's bound left out)",
    )
    r.add_argument(
        "--egraph",
        action="store_true",
        help="also price the e-graph's selections again (egraph_predicted_speedup; slower)",
    )
    args = ap.parse_args(argv)
    if args.cmd == "prepare":
        return prepare(args.run_dir, args.out, args.per_kernel, args.kernel)
    if args.cmd == "render":
        data = json.loads(args.report.read_text())
        args.report.with_suffix(".md").write_text(render(data))
        return 0
    if args.programs:
        unpack_programs(args.programs, ROOT / "runs")
    folders = ([(args.alt_dir, list(args.measured))] if args.measured else []) + [
        (Path(g[0]), [Path(f) for f in g[1:]]) for g in args.group
    ]
    if not folders or any(not files for _, files in folders):
        ap.error("report needs measurements: FILE... for --alt-dir, or --group ALT_DIR FILE...")
    rows = []
    groups = []
    per_folder: dict[str, list[dict[str, Any]]] = {}
    merged_all: list[dict[str, Any]] = []
    for alt_dir, files in folders:
        merged = merge_measurements(files)
        prices = None if args.as_measured else repredict(alt_dir, merged, latency=not args.no_latency)
        egraph = egraph_repredict(alt_dir, merged) if args.egraph else None
        got = rows_of(merged, prices, egraph)
        for row in got:
            row["folder"] = alt_dir.name
        per_folder[alt_dir.name] = got
        rows += got
        groups.append((merged, prices))
        merged_all += merged["results"]
    own = len(rows)
    loo = None if args.as_measured or args.no_latency else leave_one_kernel_out(groups)
    for path in args.import_transport:
        rows += transport_rows(json.loads(path.read_text()))
    for path in args.import_versions:
        rows += version_rows(json.loads(path.read_text()))
    summary = summarize(rows)
    summary["own"] = summarize(rows[:own])
    summary["folders"] = {name: summarize(rs) for name, rs in per_folder.items()} if len(folders) > 1 else {}
    summary["imported"] = len(rows) - own
    summary["latency"] = not (args.as_measured or args.no_latency)
    summary["egraph_repriced"] = bool(args.egraph)
    if loo is not None:
        summary["loo"] = {**summarize(loo["rows"]), "chosen": loo["chosen"]}
        summary["loo_with_imports"] = summarize(loo["rows"] + rows[own:])
    mine = rows[:own]
    summary["egraph_kendall_tau"] = kendall_tau(
        [r["egraph_predicted_speedup"] for r in mine], [r["measured_speedup"] for r in mine]
    )
    summary["egraph_sign"] = sign_agreement(
        [{**r, "predicted_speedup": r["egraph_predicted_speedup"]} for r in mine]
    )
    failed = [
        {"kernel": r["kernel"], "error": r.get("error"), "crashed": r.get("crashed")}
        for r in merged_all
        if "baseline_ns" not in r or r.get("crashed")
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"summary": summary, "rows": rows, "failed": failed, "commands": args.command}, indent=1)
        + "\n"
    )
    data = {"summary": summary, "rows": rows, "failed": failed, "commands": args.command}
    args.out.with_suffix(".md").write_text(render(data))
    s = summary
    print(
        f"egraph tau={_f(s['egraph_kendall_tau'])} sign={s['egraph_sign']['right']}/"
        f"{s['egraph_sign']['beyond_noise']}"
    )
    print(
        f"n={s['n']} tau={_f(s['kendall_tau'])} tau_beyond_noise={_f(s['kendall_tau_beyond_noise']['tau'])} "
        f"own tau={_f(s['own']['kendall_tau'])}/{_f(s['own']['kendall_tau_beyond_noise']['tau'])} "
        f"own sign={s['own']['sign']['right']}/{s['own']['sign']['beyond_noise']} "
        f"sign={s['sign']['right']}/{s['sign']['beyond_noise']} "
        f"median |time err| variants={_f(s['median_abs_time_error_variants'])} "
        f"kernels={_f(s['median_abs_time_error_kernels'])}"
    )
    if s.get("loo"):
        lo, li = s["loo"], s["loo_with_imports"]
        print(
            f"leave-one-kernel-out: own tau={_f(lo['kendall_tau'])}/"
            f"{_f(lo['kendall_tau_beyond_noise']['tau'])} sign={lo['sign']['right']}/"
            f"{lo['sign']['beyond_noise']} median |time err|={_f(lo['median_abs_time_error_variants'])}; "
            f"with imports tau={_f(li['kendall_tau'])}/{_f(li['kendall_tau_beyond_noise']['tau'])} "
            f"sign={li['sign']['right']}/{li['sign']['beyond_noise']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
