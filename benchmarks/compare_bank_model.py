"""Compare the shared-memory cost model with what Nsight Compute measured on the GPU (CPU side).

Reads a measurement file written by `gpu_shared_counters.py` (committed as
`benchmarks/results/shared_counters_<device>.json`) and predicts the same quantities with the model:

* transpose variants (`gluon_transpose_variants.py`): `eqsat.costmodels.banks.shared_access` for the
  local_store (register layout `reg_in`) and the local_load (`reg_out`) of the encodings the kernel was
  compiled with, times the CTAs of the launch; compared with `l1tex__data_pipe_lsu_wavefronts_mem_shared_
  op_{st,ld}.sum`, the bank-conflict counters (ncu: conflicts = wavefronts - ideal) and the executed
  shared instructions; Triton's own per-wavefront count (Gluon `bank_conflicts`, via libtriton) is listed
  beside the model's (`triton_conflicts`, Triton's formula) and the simulated worst-phase excess
  (`phase_conflicts`, what the hardware serves) for swizzled buffers. Ordering: does the model's cost
  order of the variants of a family (total wavefronts, and `convert_via_shared` nanoseconds when the
  target model has it) equal the measured order of time and of wavefronts (Kendall tau-b, and the pairs
  that disagree beyond noise)?
* corpus kernels: `model_for("h100").kernel_cost(dm_json)` summed over ops (`shared_wavefronts`,
  `shared_conflicts`), compared with the launch's measured ld+st wavefronts and conflicts.

    python benchmarks/compare_bank_model.py [--measured benchmarks/results/shared_counters_h200.json]
                                            [--out benchmarks/results]

Writes `bank_model_agreement.json` and `bank_model_agreement.md` into `--out`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rank_stats import kendall_tau_b  # benchmarks/ is on sys.path (a script's folder)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

WF = "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_{}.sum"
CONF = "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_{}.sum"
INST = "smsp__inst_executed_op_shared_{}.sum"
LDGSTS_WF = "smsp__sass_l1tex_data_pipe_lsu_wavefronts_mem_shared_op_ldgsts.sum"
GMMA_WF = "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_gmma.sum"
DTYPES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}
# a measured/predicted ratio inside 1 +- this is counted as agreeing (the excess seen at full occupancy)
TOLERANCE = 0.10
DIRECTIONS = (("store", "st"), ("load", "ld"))


def default_measured() -> Path:
    found = sorted((HERE / "results").glob("shared_counters_*.json"))
    if not found:
        raise SystemExit("no benchmarks/results/shared_counters_*.json: run gpu_shared_counters.py on a GPU")
    return found[0]


def ratio(measured: float | None, predicted: float | None) -> float | None:
    if measured is None or predicted is None:
        return None
    if predicted == 0:
        return 1.0 if measured == 0 else math.inf
    return measured / predicted


def agrees(r: float | None) -> bool:
    return r is not None and abs(r - 1.0) <= TOLERANCE


# ----------------------------------------------------------------------------------------- variants

def triton_bank_conflicts(variant_name: str) -> dict[str, int] | None:
    """Gluon's `bank_conflicts` (libtriton) for the store and load of a variant; None for buffers it
    cannot take (padded_shared aborts the process inside libtriton 3.6, so it is not asked)."""
    import gluon_transpose_variants as gtv
    from triton._C.libtriton import gluon_ir, ir
    from triton.experimental.gluon import language as gl

    v = gtv.by_name(variant_name)
    if not isinstance(v.shared, gl.SwizzledSharedLayout):
        return None
    ctx = ir.context()
    ir.load_dialects(ctx)
    b = gluon_ir.GluonOpBuilder(ctx)
    bits = 8 * gtv.ELEM_BYTES[v.dtype]
    shared = v.shared._to_ir(b)
    return {"store": int(b.get_shared_bank_conflicts(v.reg_in._to_ir(b), shared, list(v.tile), bits)),
            "load": int(b.get_shared_bank_conflicts(v.reg_out._to_ir(b), shared, list(v.tile), bits))}


def predict_variant(params: Any, rec: Mapping[str, Any]) -> dict[str, Any]:
    """Model numbers per CTA for the store and the load of one variant."""
    from eqsat.costmodels.banks import shared_access

    enc = rec["encodings"]
    dtype = DTYPES[rec["dtype"]]
    out: dict[str, Any] = {}
    for direction, _ in DIRECTIONS:
        reg = enc["reg_in"] if direction == "store" else enc["reg_out"]
        a = shared_access(params, reg, enc["shared"], rec["tile"], dtype, direction)
        out[direction] = {"instruction": a.instruction, "instructions": a.instructions * a.warps,
                          "wavefronts": a.wavefronts, "ideal": a.ideal_wavefronts, "conflicts": a.conflicts,
                          "triton_conflicts": a.triton_conflicts, "phase_conflicts": a.phase_conflicts}
    return out


def measured_per_cta(counters: Mapping[str, float], ctas: int) -> dict[str, dict[str, float]]:
    return {direction: {"wavefronts": counters[WF.format(k)] / ctas,
                        "conflicts": counters[CONF.format(k)] / ctas,
                        "instructions": counters[INST.format(k)] / ctas}
            for direction, k in DIRECTIONS}


def model_round_trip_ns(model: Any, rec: Mapping[str, Any]) -> float | None:
    """The target model's estimate of the store + barrier + load round trip of one CTA, if it has one."""
    if model is None:
        return None
    enc = rec["encodings"]
    try:
        cost = model.convert_via_shared(enc["reg_in"], enc["reg_out"], enc["shared"], rec["tile"],
                                        DTYPES[rec["dtype"]])
    except NotImplementedError:
        return None
    return None if not cost.legal else float(cost.total_ns)


def compare_variants(params: Any, model: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, rec in data["variants"].items():
        row: dict[str, Any] = {"family": rec["family"], "dtype": rec["dtype"]}
        if "error" in rec or "encodings" not in rec:
            row["error"] = rec.get("error", "no encodings recorded")
            rows[name] = row
            continue
        ctas = rec["grid"][0] * rec["grid"][1]
        pred = predict_variant(params, rec)
        row.update({"encodings": rec["encodings"], "ctas": ctas, "ptx_shared_ops": rec.get("ptx_shared_ops"),
                    "time_us": min(rec["times_us"]), "times_us": rec["times_us"], "predicted": pred})
        row["triton_bank_conflicts"] = triton_bank_conflicts(name)
        row["model_round_trip_ns"] = model_round_trip_ns(model, rec)
        if rec.get("counters") and WF.format("ld") in rec["counters"]:
            meas = measured_per_cta(rec["counters"], ctas)
            row["measured"] = meas
            for direction, _ in DIRECTIONS:
                p, m = pred[direction], meas[direction]
                row[f"{direction}_wavefront_ratio"] = ratio(m["wavefronts"], p["wavefronts"])
                row[f"{direction}_conflict_ratio"] = ratio(m["conflicts"], p["conflicts"])
                row[f"{direction}_instructions_exact"] = m["instructions"] == p["instructions"]
                row[f"{direction}_wavefronts_exact"] = m["wavefronts"] == p["wavefronts"]
            for size, counters in rec.get("counters_at", {}).items():
                if counters and WF.format("ld") in counters:
                    small_ctas = (int(size) // rec["tile"][0]) * (int(size) // rec["tile"][1])
                    small = measured_per_cta(counters, small_ctas)
                    row.setdefault("measured_at", {})[size] = small
                    row.setdefault("wavefronts_exact_at", {})[size] = all(
                        small[d]["wavefronts"] == pred[d]["wavefronts"] for d, _ in DIRECTIONS)
        rows[name] = row
    return rows


def order_check(names: list[str], predicted: Callable[[str], float], measured: Callable[[str], float],
                noise: float) -> dict[str, Any]:
    """Pairs ordered one way by the model and the other way by the measurement (beyond relative `noise`);
    pairs the model calls equal but the measurement separates are listed apart."""
    discordant, unresolved = [], []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pa, pb, ma, mb = predicted(a), predicted(b), measured(a), measured(b)
            apart = abs(ma - mb) > noise * max(ma, mb)
            if pa == pb:
                if apart:
                    unresolved.append([a, b])
            elif apart and (pa < pb) != (ma < mb):
                discordant.append([a, b])
    return {"kendall_tau_b": kendall_tau_b([predicted(n) for n in names], [measured(n) for n in names]),
            "predicted_order": sorted(names, key=predicted), "measured_order": sorted(names, key=measured),
            "discordant_pairs": discordant, "model_ties_measured_apart": unresolved,
            "same_order": not discordant}


def orderings(rows: Mapping[str, Any], noise: float) -> dict[str, Any]:
    families: dict[str, list[str]] = {}
    for name, row in rows.items():
        if "measured" in row:
            families.setdefault(row["family"], []).append(name)

    def wavefronts(n: str) -> float:
        return sum(rows[n]["predicted"][d]["wavefronts"] for d, _ in DIRECTIONS)

    def meas_wavefronts(n: str) -> float:
        return sum(rows[n]["measured"][d]["wavefronts"] for d, _ in DIRECTIONS)

    def meas_time(n: str) -> float:
        return rows[n]["time_us"]

    out: dict[str, Any] = {}
    for fam, names in families.items():
        res = {"variants": names,
               "wavefronts_vs_time": order_check(names, wavefronts, meas_time, noise),
               "wavefronts_vs_measured_wavefronts": order_check(names, wavefronts, meas_wavefronts, 0.02)}
        if all(rows[n].get("model_round_trip_ns") is not None for n in names):
            res["model_ns_vs_time"] = order_check(names, lambda n: rows[n]["model_round_trip_ns"],
                                                  meas_time, noise)
        out[fam] = res
    return out


# ------------------------------------------------------------------------------------------- corpus

LSU_KINDS = ("local_store", "local_load", "local_alloc", "convert", "trans", "reduce", "gather", "barrier")


def dm_kernels(manifest: str) -> dict[str, dict[str, Any]]:
    from eqsat.dm.json import to_json
    from eqsat.pipeline import front_end

    out: dict[str, dict[str, Any]] = {}
    for k in front_end([manifest], ["h100"]):
        if k.ok and k.dm is not None:
            kernel = to_json(k.dm, "h100")
            if k.launch:  # the model scales per-CTA prices by the launch grid it finds here
                kernel["grid"] = list(k.launch["grid"])
            out[k.name] = kernel
    return out


def compare_corpus(model: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    kernels = dm_kernels(str(ROOT / data.get("manifest", "corpora/project.toml")))
    rows: dict[str, Any] = {}
    for name, rec in data["corpus"].items():
        c = rec.get("counters", {})
        row: dict[str, Any] = {"ctas": rec.get("ctas"), "ptx_shared_ops": rec.get("ptx_shared_ops")}
        if WF.format("ld") not in c:
            row["error"] = rec.get("error") or c.get("error") or "no counters"
            rows[name] = row
            continue
        meas_wf = c[WF.format("ld")] + c[WF.format("st")]
        meas_conf = c[CONF.format("ld")] + c[CONF.format("st")]
        row["measured"] = {"wavefronts": meas_wf, "conflicts": meas_conf,
                           "ld_wavefronts": c[WF.format("ld")], "st_wavefronts": c[WF.format("st")],
                           "ldgsts_wavefronts": c.get(LDGSTS_WF), "gmma_wavefronts": c.get(GMMA_WF)}
        if name not in kernels:
            row["error"] = "the front end did not lift this kernel"
            rows[name] = row
            continue
        try:
            cost = model.kernel_cost(kernels[name])
        except Exception as e:  # noqa: BLE001 - one kernel's model failure is a finding, not a stop
            row["error"] = f"model: {type(e).__name__}: {e}"
            rows[name] = row
            continue
        per_op = cost.info.get("ops", {})
        lsu_wf = lsu_conf = 0.0
        by_kind: dict[str, dict[str, float]] = {}
        for op in kernels[name]["ops"]:
            terms = per_op.get(op["id"], {}).get("terms", {})
            wf, cf = terms.get("shared_wavefronts", 0.0), terms.get("shared_conflicts", 0.0)
            if wf or cf:
                k = by_kind.setdefault(op["kind"], {"wavefronts": 0.0, "conflicts": 0.0})
                k["wavefronts"] += wf
                k["conflicts"] += cf
            if op["kind"] in LSU_KINDS:
                lsu_wf += wf
                lsu_conf += cf
        row["predicted"] = {"wavefronts": cost.terms.get("shared_wavefronts", 0.0),
                            "conflicts": cost.terms.get("shared_conflicts", 0.0),
                            "lsu_wavefronts": lsu_wf, "lsu_conflicts": lsu_conf, "by_kind": by_kind}
        # cp.async writes (LDGSTS) and wgmma operand reads have their own counters: compare them apart
        for kind, measured_key in (("async_copy", "ldgsts_wavefronts"), ("dot", "gmma_wavefronts")):
            if kind in by_kind or row["measured"].get(measured_key):
                row[f"{kind}_wavefront_ratio"] = ratio(row["measured"].get(measured_key),
                                                       by_kind.get(kind, {}).get("wavefronts", 0.0))
        row["wavefront_ratio"] = ratio(meas_wf, lsu_wf)
        row["conflict_ratio"] = ratio(meas_conf, lsu_conf)
        row["wavefronts_exact"] = meas_wf == lsu_wf
        row["conflicts_exact"] = meas_conf == lsu_conf
        rows[name] = row
    return rows


# ------------------------------------------------------------------------------------------ summary

def summarize(variants: Mapping[str, Any], corpus: Mapping[str, Any] | None,
              order: Mapping[str, Any]) -> dict[str, Any]:
    measured = [r for r in variants.values() if "measured" in r]
    s: dict[str, Any] = {"variants_measured": len(measured),
                         "variants_failed": sorted(n for n, r in variants.items() if "error" in r)}
    for direction, _ in DIRECTIONS:
        ratios = [r[f"{direction}_wavefront_ratio"] for r in measured]
        s[f"variant_{direction}_wavefront_ratio_range"] = [round(min(ratios), 4), round(max(ratios), 4)]
        s[f"variant_{direction}_instructions_exact"] = sum(r[f"{direction}_instructions_exact"]
                                                           for r in measured)
        s[f"variant_{direction}_wavefronts_within_tolerance"] = sum(agrees(x) for x in ratios)
    s["variant_wavefronts_exact_full_grid"] = sum(
        r["store_wavefronts_exact"] and r["load_wavefronts_exact"] for r in measured)
    s["variant_wavefronts_exact_small_grid"] = sum(
        bool(r.get("wavefronts_exact_at")) and all(r["wavefronts_exact_at"].values()) for r in measured)
    s["orderings"] = {fam: {k: {"same_order": v["same_order"], "kendall_tau_b": v["kendall_tau_b"]}
                            for k, v in res.items() if isinstance(v, dict)} for fam, res in order.items()}
    if corpus is not None:
        compared = [r for r in corpus.values() if "predicted" in r]
        s["corpus_kernels_compared"] = len(compared)
        s["corpus_kernels_with_shared_traffic"] = sum(r["measured"]["wavefronts"] > 0 for r in compared)
        traffic = [r for r in compared if r["measured"]["wavefronts"] > 0]
        s["corpus_zero_traffic_predicted_zero"] = sum(r["predicted"]["lsu_wavefronts"] == 0
                                                      for r in compared if r not in traffic)
        s["corpus_wavefronts_exact"] = sum(r["wavefronts_exact"] for r in traffic)
        s["corpus_conflicts_exact"] = sum(r["conflicts_exact"] for r in traffic)
        s["corpus_wavefronts_within_tolerance"] = sum(agrees(r["wavefront_ratio"]) for r in traffic)
        s["corpus_wavefront_ratios"] = {n: round(r["wavefront_ratio"], 3) for n, r in corpus.items()
                                        if "wavefront_ratio" in r and r["measured"]["wavefronts"] > 0}
        for kind in ("async_copy", "dot"):
            rs = {n: round(r[f"{kind}_wavefront_ratio"], 4) for n, r in corpus.items()
                  if r.get(f"{kind}_wavefront_ratio") is not None}
            s[f"corpus_{kind}_wavefront_ratios"] = rs
        s["corpus_errors"] = {n: r["error"] for n, r in corpus.items() if "error" in r}
    return s


def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf"
        return f"{x:.0f}" if x == int(x) else f"{x:.{nd}f}"
    return str(x)


def write_markdown(path: Path, report: Mapping[str, Any]) -> None:
    s = report["summary"]
    lines = [f"# Shared-memory bank model vs Nsight Compute on {report['device']}", "",
             "Commands (GPU side on the device tool, CPU side here):", "",
             f"    {report['gpu_command']}", f"    {report['cpu_command']}", "",
             f"Measured with {report['ncu_version']}, Triton {report['triton']}, torch {report['torch']}. "
             f"Tolerance for 'agrees': measured/predicted within 1 +- {TOLERANCE}.", ""]
    lines += ["## Summary", "", "```", json.dumps(s, indent=1), "```", ""]
    lines += ["## Transpose variants (per CTA; predicted / measured)", "",
              "| variant | st instr | st wavefronts | st conflicts | ld instr | ld wavefronts | ld conflicts "
              "| ld wf small grid | Triton conflicts st/ld | model Triton st/ld | model phase st/ld "
              "| time us |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in report["variants"].items():
        if "measured" not in r:
            lines.append(f"| {name} | {r.get('error', '-')} ||||||||||| ")
            continue
        p, m = r["predicted"], r["measured"]
        small = next(iter(r.get("measured_at", {}).values()), None)
        tri = r.get("triton_bank_conflicts")
        tri_text = f"{tri['store']}/{tri['load']}" if tri else "-"
        lines.append(
            f"| {name} | {p['store']['instructions']} / {_f(m['store']['instructions'], 1)} "
            f"| {p['store']['wavefronts']} / {_f(m['store']['wavefronts'], 1)} "
            f"| {p['store']['conflicts']} / {_f(m['store']['conflicts'], 1)} "
            f"| {p['load']['instructions']} / {_f(m['load']['instructions'], 1)} "
            f"| {p['load']['wavefronts']} / {_f(m['load']['wavefronts'], 1)} "
            f"| {p['load']['conflicts']} / {_f(m['load']['conflicts'], 1)} "
            f"| {_f(small['load']['wavefronts'], 1) if small else '-'} "
            f"| {tri_text} "
            f"| {p['store']['triton_conflicts']}/{p['load']['triton_conflicts']} "
            f"| {p['store']['phase_conflicts']}/{p['load']['phase_conflicts']} "
            f"| {', '.join(_f(t) for t in r['times_us'])} |")
    lines += ["", "## Orderings within each family", ""]
    for fam, res in report["orderings"].items():
        for k, v in res.items():
            if not isinstance(v, dict):
                continue
            lines.append(f"- **{fam}**, {k}: same order = {v['same_order']}, Kendall tau-b = "
                         f"{_f(v['kendall_tau_b'])}; predicted {v['predicted_order']}; measured "
                         f"{v['measured_order']}; discordant {v['discordant_pairs']}; model ties measured "
                         f"apart {v['model_ties_measured_apart']}")
    if report.get("corpus") is not None:
        lines += ["", "## Corpus kernels (per launch; LSU = model ops that issue ld/st.shared)", "",
                  "| kernel | CTAs | measured wavefronts | model LSU wavefronts | ratio "
                  "| measured conflicts | model LSU conflicts | cp.async ratio | wgmma ratio "
                  "| model by op kind | PTX shared ops |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, r in report["corpus"].items():
            if "predicted" not in r:
                lines.append(f"| {name} | {r.get('ctas')} | {_f(r.get('measured', {}).get('wavefronts'))} "
                             f"| {r.get('error')} ||||||||")
                continue
            m, p = r["measured"], r["predicted"]
            kinds = "; ".join(f"{k} {_f(v['wavefronts'])}/{_f(v['conflicts'])}"
                              for k, v in p["by_kind"].items())
            lines.append(f"| {name} | {r['ctas']} | {_f(m['wavefronts'])} | {_f(p['lsu_wavefronts'])} "
                         f"| {_f(r['wavefront_ratio'], 3)} | {_f(m['conflicts'])} | {_f(p['lsu_conflicts'])} "
                         f"| {_f(r.get('async_copy_wavefront_ratio'), 3)} "
                         f"| {_f(r.get('dot_wavefront_ratio'), 3)} "
                         f"| {kinds} | {r['ptx_shared_ops']} |")
    else:
        lines += ["", "## Corpus kernels", "", f"Not compared: {report.get('corpus_error')}"]
    lines += ["", "## Disagreements explained", ""] + [f"- {x}" for x in report.get("explanations", [])]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measured", default=None, help="shared_counters_<device>.json")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--explanations", default=str(HERE / "results" / "bank_model_explanations.json"),
                    help="hand-written explanations of disagreements, copied into the report if present")
    ns = ap.parse_args(argv)
    from eqsat.costmodels.base import load_params, model_for

    measured_path = Path(ns.measured) if ns.measured else default_measured()
    data = json.loads(measured_path.read_text())
    params = load_params("h100")
    model, model_error = None, None
    try:
        model = model_for("h100")
    except Exception as e:  # noqa: BLE001 - reported, the bank simulator part still runs
        model_error = f"model_for('h100') failed: {type(e).__name__}: {e}"
    noise = 0.01
    repeated = [r["times_us"] for r in data["variants"].values() if len(r.get("times_us", [])) > 1]
    if repeated:
        noise = max(noise, max((max(t) - min(t)) / min(t) for t in repeated))
    variants = compare_variants(params, model, data)
    order = orderings(variants, noise)
    corpus = compare_corpus(model, data) if model is not None else None
    report: dict[str, Any] = {
        "device": data["device"], "ncu_version": " ".join(data.get("ncu_version") or []),
        "triton": data["triton"], "torch": data["torch"],
        "gpu_command": data["command"].replace(data["command"].split("--out")[-1], " $OUT")
        if "--out" in data["command"] else data["command"],
        "cpu_command": "python benchmarks/compare_bank_model.py "
                       + " ".join(argv if argv is not None else sys.argv[1:]),
        "measured_file": str(measured_path.relative_to(ROOT)) if measured_path.is_relative_to(ROOT)
        else str(measured_path),
        "time_noise": round(noise, 4), "tolerance": TOLERANCE,
        "summary": summarize(variants, corpus, order), "orderings": order, "variants": variants,
        "corpus": corpus,
    }
    if model_error:
        report["corpus_error"] = model_error
    expl = Path(ns.explanations)
    if expl.is_file():
        report["explanations"] = json.loads(expl.read_text())
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bank_model_agreement.json").write_text(json.dumps(report, indent=1, default=str))
    write_markdown(out / "bank_model_agreement.md", report)
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
