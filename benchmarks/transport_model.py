"""Fit and judge costmodels/pipeline.py on measured transport variants (issue 13; GPU runs of issue 12's
benchmarks/gpu_transport.py).

    python benchmarks/transport_model.py attach RESULTS.json RUN_DIR
        add each variant's features (what the model prices) to a gpu_transport results file, from the
        run folder it was benched from (RUN_DIR/<kernel>/h100/{spec.json, transport.json}; the TTIR
        features recomputed from the spec). Results written by gpu_transport.py run carry them already.
    python benchmarks/transport_model.py fit RESULTS.json [RESULTS2.json ...] [--target h200] [--toml]
        fit pipeline.FITTED on every bit-identical measured variant of the files (runs of the same kernels
        count as separate groups); print the constants (--toml: as the `[pipeline]` lines) with the
        in-sample, leave-one-kernel-out and leave-one-shape-out errors on the first file's rows
    python benchmarks/transport_model.py reprice RESULTS.json --out OUT.json [--target h200]
        the same file with `predicted_speedup` (and `predicted_ns`) from the current model, the bench-time
        prediction kept as `predicted_speedup_bench`: what `benchmarks/alternatives.py report
        --import-transport OUT.json` should judge
    python benchmarks/transport_model.py report --fit RESULTS.json [--fit RUN2.json] [--holdout H.json ...]
        --out FILE.md
        the fit's and the held-out rows' numbers as markdown

Statistics (the alternatives report's definitions): Kendall tau-b of predicted vs measured speedup over
the rows, faster/slower sign over the rows measured beyond noise (|speedup - 1| > max(noise, 0.02)),
median |predicted / measured time - 1|. A row's speedup is the JIT's time over the variant's; its
predicted speedup the model's time of the input variant (pointer loads at the manifest's num_stages)
over the variant's.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from rank_stats import kendall_tau_b  # noqa: E402

NOISE_FLOOR = 0.02


def shape_of(kernel: str) -> str:
    """The tile shape a kernel name ends with (A.B and A.B^T of one tile are one shape)."""
    m = re.search(r"(\d+x\d+(?:x\d+)?)", kernel)
    return (("attention_" if kernel.startswith("attention") else "mm_") + m.group(1)) if m else kernel


def rows_of(data: dict[str, Any], run: int = 0) -> list[dict[str, Any]]:
    """Every bit-identical timed variant with features: kernel, key, features, ms, speedup, noise, input
    (and `run`, which results file of several it came from)."""
    out = []
    for r in data["results"]:
        if "error" in r:
            continue
        for key, v in (r.get("variants") or {}).items():
            if "ms" not in v or not v.get("features"):
                continue
            if not (v.get("bit_identical_launch") and v.get("bit_identical_bench")):
                continue
            out.append({"kernel": r["kernel"], "key": key, "features": v["features"], "ms": v["ms"],
                        "speedup": v["speedup"], "noise": r["noise"], "input": r.get("input") or "cp_async@3",
                        "jit_ms": r["jit_ms"], "run": run})
    return out


def rows_of_files(datas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for i, d in enumerate(datas) for r in rows_of(d, i)]


def _input_features(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for r in data["results"]:
        inp = (r.get("variants") or {}).get(r.get("input") or "cp_async@3") or {}
        if inp.get("features"):
            out[r["kernel"]] = inp["features"]
    return out


def predict(rows: list[dict[str, Any]], inputs: dict[str, dict[str, Any]], params_of: Any) -> list[dict]:
    """(predicted ms, predicted speedup) per row; `params_of(kernel)` gives the constants."""
    from eqsat.costmodels.pipeline import price

    out = []
    for r in rows:
        p = params_of(r["kernel"])
        t = price(r["features"], params=p).ns
        b = price(inputs[r["kernel"]], params=p).ns
        out.append({"predicted_ms": t / 1e6, "predicted_speedup": b / t})
    return out


def stats(rows: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    ps = [p["predicted_speedup"] for p in preds]
    ms = [r["speedup"] for r in rows]
    beyond = [(r, p) for r, p in zip(rows, preds, strict=True)
              if abs(r["speedup"] - 1) > max(r["noise"], NOISE_FLOOR)]
    right = sum(1 for r, p in beyond if (p["predicted_speedup"] > 1) == (r["speedup"] > 1))
    terr = [abs(p["predicted_ms"] / r["ms"] - 1) for r, p in zip(rows, preds, strict=True)]
    logerr = [math.log(p["predicted_speedup"] / r["speedup"]) for r, p in zip(rows, preds, strict=True)]
    return {"n": len(rows), "kernels": len({r["kernel"] for r in rows}),
            "kendall_tau": kendall_tau_b(ps, ms), "sign_right": right, "sign_beyond_noise": len(beyond),
            "median_abs_time_error": statistics.median(terr) if terr else None,
            "rms_log_speedup_error": math.sqrt(sum(e * e for e in logerr) / len(logerr)) if logerr else None}


def fit_rows(rows: list[dict[str, Any]], target: str = "h200") -> dict[str, float]:
    from eqsat.costmodels.pipeline import fit

    return fit([(r["features"], r["ms"] * 1e3) for r in rows], target,
               groups=[f"{r['kernel']}#{r.get('run', 0)}" for r in rows])


def reprice(data: dict[str, Any], target: str = "h200") -> dict[str, Any]:
    """The results with every variant's predicted speedup from the current model (bench-time one kept)."""
    from eqsat.costmodels.pipeline import params_for, price

    p = params_for(target)
    out = copy.deepcopy(data)
    out["predicted_by"] = f"costmodels/pipeline.py, costmodels/params/{target}.toml [pipeline]"
    inputs = _input_features(out)
    for r in out["results"]:
        base = inputs.get(r["kernel"])
        for v in (r.get("variants") or {}).values():
            if not v.get("features") or base is None:
                continue
            if "predicted_speedup_bench" not in v:
                v["predicted_speedup_bench"] = v.get("predicted_speedup")
            c, b = price(v["features"], params=p), price(base, params=p)
            v["predicted_ns"] = None if math.isinf(c.ns) else round(c.ns, 1)
            v["predicted_speedup"] = None if math.isinf(c.ns) else round(b.ns / c.ns, 4)
    return out


def attach(results: Path, run_dir: Path) -> int:
    """Add features to a results file from the run folder its variants were benched from."""
    from eqsat.lowering.rundir import read_spec
    from eqsat.lowering.transport import loop_loads
    from eqsat.lowering.transport_variants import features_of, kernel_ttir, tma_requests

    data = json.loads(results.read_text())
    n = 0
    for r in data["results"]:
        pdir = run_dir / r["kernel"] / "h100"
        meta = json.loads((pdir / "transport.json").read_text())
        spec = read_spec(pdir)
        ttir = kernel_ttir(spec, "h100")
        loads = loop_loads(ttir, f"{spec.name}.ttir")
        base = features_of(ttir, loads, spec)
        for row in meta["variants"]:
            v = r["variants"].get(row["key"])
            if v is None:
                continue
            chosen = [ll for ll in loads if ll.name in row["tma_loads"]]
            v["features"] = {**row["features"], **base,
                             "tma_requests": sum(tma_requests(ll.shape, ll.elem) for ll in chosen)}
            n += 1
    results.write_text(json.dumps(data, indent=1) + "\n")
    return n


def fit_report(datas: list[dict[str, Any]], target: str = "h200") -> tuple[dict[str, float], dict[str, Any]]:
    """The constants fitted on every file's rows (each file a run of the same kernels, or others), and
    the statistics on the first file's rows: in sample (fitted now and the toml's) and cross-validated
    (constants fitted on every file's rows of the other kernels / shapes)."""
    from eqsat.costmodels.pipeline import params_for

    rows, inputs = rows_of_files(datas), _input_features(datas[0])
    first = [r for r in rows if r["run"] == 0]
    p = fit_rows(rows, target)
    current = params_for(target)
    out = {"in_sample_fitted": stats(first, predict(first, inputs, lambda k: p)),
           "in_sample_current": stats(first, predict(first, inputs, lambda k: current))}
    for by in ("kernel", "shape"):
        group = (lambda k: k) if by == "kernel" else shape_of
        fits = {g: fit_rows([r for r in rows if group(r["kernel"]) != g], target)
                for g in sorted({group(r["kernel"]) for r in rows})}
        out[f"leave_one_{by}_out"] = stats(first, predict(first, inputs, lambda k, fits=fits, group=group:
                                                          fits[group(k)]))
    return p, out


def judge(data: dict[str, Any], target: str = "h200") -> dict[str, Any]:
    """The current constants on a results file (e.g. held-out kernels)."""
    from eqsat.costmodels.pipeline import params_for

    p = params_for(target)
    rows = rows_of(data)
    return stats(rows, predict(rows, _input_features(data), lambda k: p))


def choices(data: dict[str, Any], target: str = "h200", max_stages: int = 4) -> dict[str, dict[str, Any]]:
    """Per kernel, the variant lowering/transport_variants.decide picks from the measured variants with
    the current constants (stages <= `max_stages`, as the optimizer's transport_hook compiles them), its
    measured speedup and the best measured one."""
    from types import SimpleNamespace

    from eqsat.lowering.transport_variants import Variant, decide

    out = {}
    for r in data["results"]:
        vs, meas = [], {}
        for key, v in (r.get("variants") or {}).items():
            f = v.get("features")
            if not f or "ms" not in v or int(f["stages"]) > max_stages:
                continue
            var = Variant(f["mode"], int(f["stages"]), tuple(re.findall(r"\[(.*)\]", key)[0].split(","))
                          if "[" in key else ())
            var.features = f
            vs.append(var)
            meas[var.key] = v["speedup"]
        if not vs:
            continue
        n = int(str(r.get("input") or "cp_async@3").split("@")[-1])
        dec = decide(vs, SimpleNamespace(num_stages=n), target)
        best = max(meas, key=meas.__getitem__)
        out[r["kernel"]] = {"chosen": dec.chosen.key, "measured": meas[dec.chosen.key],
                            "predicted": dec.choice_json()["predicted_speedup"], "best": best,
                            "best_measured": meas[best], "noise": r["noise"]}
    return out


def _choice_lines(data: dict[str, Any], target: str) -> list[str]:
    ch = choices(data, target)
    lines = ["| kernel | picked (stages <= 4) | measured | predicted | best measured | noise |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {k} | {c['chosen']} | {c['measured']:.3f}x | {c['predicted']} | {c['best']} "
              f"{c['best_measured']:.3f}x | {c['noise']:.3f} |" for k, c in ch.items()]
    g = math.exp(statistics.mean(math.log(c["measured"]) for c in ch.values()))
    b = math.exp(statistics.mean(math.log(c["best_measured"]) for c in ch.values()))
    return lines + ["", f"Geometric mean over the kernels: picked {g:.3f}x of the JIT, best variant "
                        f"{b:.3f}x."]


def _line(s: dict[str, Any]) -> str:
    tau = s["kendall_tau"]
    return (f"n = {s['n']} ({s['kernels']} kernels): Kendall tau {tau:.3f}, sign {s['sign_right']}/"
            f"{s['sign_beyond_noise']} beyond noise, median |time error| {s['median_abs_time_error']:.1%}, "
            f"rms log speedup error {s['rms_log_speedup_error']:.3f}" if tau is not None else f"n = {s['n']}")


def report(fit_files: list[Path], holdouts: list[Path], target: str = "h200") -> str:
    from eqsat.costmodels.pipeline import FITTED, params_for

    fit_file = fit_files[0]
    data = json.loads(fit_file.read_text())
    p, st = fit_report([json.loads(f.read_text()) for f in fit_files], target)
    cur = params_for(target)
    lines = [f"# Pipeline model (costmodels/pipeline.py) on measured transport variants, {target}", "",
             f"Fit: `python benchmarks/transport_model.py fit {' '.join(str(f) for f in fit_files)} "
             f"--target {target}`"
             f" (constants in costmodels/params/{target}.toml `[pipeline]`).", "",
             "| constant | in the toml | refit now |", "| --- | --- | --- |"]
    lines += [f"| {k} | {cur[k]} | {p[k]} |" for k in FITTED]
    others = ", ".join(f.name for f in fit_files[1:]) or "no other file"
    lines += ["", f"Fitted rows ({fit_file.name}; the fit also uses {others}):", "",
              f"- in sample, the toml's constants: {_line(st['in_sample_current'])}",
              f"- leave one kernel out (each kernel priced by constants fitted on the other six): "
              f"{_line(st['leave_one_kernel_out'])}",
              f"- leave one tile shape out (A.B and A.B^T of a tile left out together): "
              f"{_line(st['leave_one_shape_out'])}"]
    for h in holdouts:
        hd = json.loads(h.read_text())
        lines += ["", f"Held out ({h.name}, not used by the fit): {_line(judge(hd, target))}", "",
                  "| kernel | variant | measured | predicted | measured ms | predicted ms |",
                  "| --- | --- | --- | --- | --- | --- |"]
        rows = rows_of(hd)
        for r, pr in zip(rows, predict(rows, _input_features(hd), lambda k: cur), strict=True):
            lines.append(f"| {r['kernel']} | {r['key']} | {r['speedup']:.3f}x | "
                         f"{pr['predicted_speedup']:.3f}x | {r['ms']:.4f} | {pr['predicted_ms']:.4f} |")
    for name, d in [(fit_file.name, data), *[(h.name, json.loads(h.read_text())) for h in holdouts]]:
        lines += ["", f"The transport choice (lowering/transport_variants.decide) on {name}'s variants:", ""]
        lines += _choice_lines(d, target)
    rows = rows_of(data)
    lines += ["", f"Fitted rows, the toml's constants ({fit_file.name}):", "",
              "| kernel | variant | measured | predicted | measured ms | predicted ms |",
              "| --- | --- | --- | --- | --- | --- |"]
    for r, pr in zip(rows, predict(rows, _input_features(data), lambda k: cur), strict=True):
        lines.append(f"| {r['kernel']} | {r['key']} | {r['speedup']:.3f}x | {pr['predicted_speedup']:.3f}x"
                     f" | {r['ms']:.4f} | {pr['predicted_ms']:.4f} |")
    return "\n".join(lines) + "\n"


def load(path: Path) -> dict[str, Any]:
    """A results file, or one `file:line:col: error:` line (EqsatError)."""
    from eqsat.errors import EqsatError

    if not path.is_file():
        raise EqsatError("no such file", str(path), 1, 1)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EqsatError(f"malformed JSON: {e.msg}", str(path), e.lineno, e.colno) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise EqsatError("not a gpu_transport results file (no 'results' list)", str(path), 1, 1)
    return data


def main(argv: list[str] | None = None) -> int:
    from eqsat.errors import EqsatError

    ap = argparse.ArgumentParser(prog="transport_model.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("attach")
    a.add_argument("results", type=Path)
    a.add_argument("run_dir", type=Path)
    f = sub.add_parser("fit")
    f.add_argument("results", type=Path, nargs="+")
    f.add_argument("--target", default="h200")
    f.add_argument("--toml", action="store_true")
    r = sub.add_parser("reprice")
    r.add_argument("results", type=Path)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--target", default="h200")
    m = sub.add_parser("report")
    m.add_argument("--fit", type=Path, action="append", required=True)
    m.add_argument("--holdout", type=Path, action="append", default=[])
    m.add_argument("--out", type=Path)
    m.add_argument("--target", default="h200")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "attach":
            load(args.results)
            print(f"{attach(args.results, args.run_dir)} variants given features")
        elif args.cmd == "fit":
            from eqsat.costmodels.pipeline import FITTED

            p, st = fit_report([load(f) for f in args.results], args.target)
            for k in FITTED:
                print(f"{k} = {p[k]}" if args.toml else f"{k:24} {p[k]}")
            for name, s in st.items():
                print(f"# {name}: {_line(s)}")
        elif args.cmd == "reprice":
            out = reprice(load(args.results), args.target)
            args.out.write_text(json.dumps(out, indent=1) + "\n")
            n = sum(len(r.get("variants") or {}) for r in out["results"])
            print(f"{args.out}: {n} variants repriced")
        else:
            for f in [*args.fit, *args.holdout]:
                load(f)
            text = report(args.fit, args.holdout, args.target)
            if args.out:
                args.out.write_text(text)
            else:
                print(text, end="")
    except EqsatError as e:
        print(str(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
