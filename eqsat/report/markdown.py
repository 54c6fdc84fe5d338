"""The report as Markdown: the summary, the h100 versus mi300x differences, the run-to-run changes (with
--compare) and one table row per kernel x target (no plots: `--format html` has them)."""

from __future__ import annotations

from typing import Any


def _n(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def render_markdown(data: dict[str, Any]) -> str:
    run, c = data["run"], data["corpus"]
    lines = [f"# eqsat report: {run['id']}", "",
             f"Run directory `{run['path']}`, created {run['created_at']}; "
             f"command: `{run['command'] or '-'}`.",
             "", f"{c['kernels']} kernel x target: {c['ok']} ok, {c['errors']} errors, {c['applied']} plans "
             f"applied, {c['changed']} with changed machine code, {c['benched']} benched.", "",
             "| kernel | target | status | before ns | after ns | predicted | measured | bit-identical "
             "| choices | e-graph nodes | stop |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |"]
    for r in data["kernels"]:
        m = r["measured"] or {}
        choices = "; ".join(f"{ch['kind']} op {ch['op']}" for ch in r["choices"]) or "identity"
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error']}"
        lines.append(f"| {r['kernel']} | {r['target']} | {status} | {_n(r['cost_before'])} | "
                     f"{_n(r['cost_after'])} | {_n(r['predicted_speedup'])} | {_n(m.get('speedup'))} | "
                     f"{_n(m.get('bit_identical'))} | {choices} | {_n(r['egraph'].get('nodes'))} | "
                     f"{r['egraph'].get('stop_reason') or '-'} |")
    diffs = c["target_differences"]
    lines += ["", "## h100 versus mi300x", "",
              f"{sum(1 for d in diffs if not d['same_plan'])} of {len(diffs)} kernels get different plans.",
              ""]
    for d in diffs:
        if not d["same_plan"]:
            lines.append(f"- {d['kernel']}: h100 {'; '.join(d['h100']) or 'identity'} / "
                         f"mi300x {'; '.join(d['mi300x']) or 'identity'}")
    if data["compare"]:
        ch = [x for x in data["changes"] if x["change"] != "none"]
        lines += ["", f"## Changes since {data['compare']['id']}", "", f"{len(ch)} of {len(data['changes'])} "
                  "kernel x target changed.", ""]
        for x in ch:
            lines.append(f"- {x['kernel']} [{x['target']}]: {x['change']}"
                         + ("" if x["change"] in ("added", "removed") else
                            f", cost after {_n(x.get('cost_after_before'))} -> "
                            f"{_n(x.get('cost_after_after'))}"))
    return "\n".join(lines) + "\n"
