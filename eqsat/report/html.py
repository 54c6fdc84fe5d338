"""The report as one self-contained HTML page (inline CSS, inline SVG plots, a few lines of inline script;
nothing fetched at view time).

    #summary      the run: where, when, counts, geomean predicted and measured speedups
    #corpus       speedup distributions, predicted against measured, the rule-firing heat map,
                  h100 versus mi300x plan differences, and with --compare the run-to-run changes
    #kernels      a filter box (#filter) and an index (#kernel-index); one <details class="kernel"> per
                  kernel holding, per target: status, choices and why each alternative lost, the cost
                  breakdown chart, e-graph size and rules fired, the TTGIR diff, the e-graph drawn by
                  Graphviz (when the run dumped it and it is small enough to read), measured vs predicted
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from typing import Any

from eqsat.report import charts

EGRAPH_DRAW_LIMIT = 300  # nodes; a larger e-graph is linked, not drawn

CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h1 { font-size: 20px; } h2 { font-size: 16px; border-bottom: 1px solid #ccc; } h3 { font-size: 14px; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: 2px 6px; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details.kernel { border: 1px solid #ccc; border-radius: 4px; margin: .4em 0; padding: .3em .6em; }
details.kernel > summary { cursor: pointer; font-weight: 600; }
pre.diff { background: #fafafa; border: 1px solid #eee; padding: .5em; overflow-x: auto; font-size: 11px; }
.add { background: #e6ffec; } .del { background: #ffebe9; } .hunk { color: #6f42c1; }
.error { color: #b00020; } .muted { color: #777; } .chart svg { max-width: 100%; height: auto; }
#filter { font-size: 14px; padding: 3px 6px; width: 24em; }
"""

SCRIPT = """
document.getElementById('filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('[data-name]').forEach(function (el) {
    el.style.display = el.getAttribute('data-name').toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
  var shown = document.querySelectorAll('details.kernel:not([style*="none"])').length;
  document.getElementById('shown').textContent = shown;
});
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:.1f}"
    return str(x)


def _geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _table(header: list[str], rows: list[list[str]], attrs: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in r) + "</tr>" for r in rows)
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(x: Any, num: bool = False) -> str:
    return f'<td class="num">{_e(_num(x))}</td>' if num else f"<td>{_e(x)}</td>"


def _diff(diff: dict[str, Any]) -> str:
    if not diff["available"]:
        return '<p class="muted">no input.ttgir in the run directory</p>'
    if not diff["lines"]:
        return '<p class="muted">optimized.ttgir is the input, unchanged</p>'
    out = []
    for ln in diff["lines"]:
        cls = "hunk" if ln.startswith("@@") else "add" if ln.startswith("+") else \
            "del" if ln.startswith("-") else ""
        out.append(f'<span class="{cls}">{_e(ln)}</span>' if cls else _e(ln))
    more = '\n<span class="muted">(diff truncated)</span>' if diff["truncated"] else ""
    return f'<pre class="diff">{chr(10).join(out)}{more}</pre>'


def _egraph_drawing(row: dict[str, Any]) -> str:
    path = row["egraph_dot"]
    if path is None:
        return '<p class="muted">e-graph not dumped (run eqsat optimize with --dump-egraph)</p>'
    nodes = row["egraph"].get("nodes") or 0
    if nodes > EGRAPH_DRAW_LIMIT:
        return f'<p class="muted">e-graph of {nodes} nodes, too large to draw here: {_e(path)}</p>'
    import graphviz

    try:
        with open(path) as f:
            svg = graphviz.Source(f.read()).pipe(format="svg").decode()
    except (OSError, graphviz.ExecutableNotFound, graphviz.CalledProcessError) as e:
        return f'<p class="error">e-graph not drawn: {_e(str(e).splitlines()[0])}</p>'
    return f'<div class="chart egraph">{svg[svg.index("<svg"):]}</div>'


def _choices(row: dict[str, Any]) -> str:
    if not row["choices"]:
        reason = row["not_applied_reason"]
        return f'<p class="muted">identity plan{": " + _e(reason) if reason else ""}</p>'
    parts = []
    for c in row["choices"]:
        parts.append(f"<p><b>op {c['op']}: {_e(c['kind'])}</b> {_e(json.dumps(c['params']))} "
                     f"<span class='muted'>rule {_e(c['rule'])}; {_num(c['before_ns'])} ns → "
                     f"{_num(c['after_ns'])} ns</span></p>")
        if c["alternatives"]:
            rows = [[_td(a["kind"]), _td(json.dumps(a["params"])[:160]), _td(a["cost_ns"], True),
                     _td(a["rejected"])] for a in c["alternatives"]]
            parts.append(_table(["alternative", "params", "ns", "why it lost"], rows, 'class="alternatives"'))
    return "".join(parts)


def _target_block(row: dict[str, Any]) -> str:
    head = f"<h3>{_e(row['target'])}: {_e(row['status'])}</h3>"
    if row["status"] != "ok":
        return head + f'<p class="error">{_e(row["error"])}</p>'
    eg = row["egraph"]
    m = row["measured"]
    measured = "<p class='muted'>not benched</p>" if m is None else (
        f"<p>measured: {_num(m['baseline_ms'], 4)} ms → {_num(m['optimized_ms'], 4)} ms, speedup "
        f"{_num(m['speedup'])} (noise {_num(m['noise'])}), bit-identical {_e(m['bit_identical'])}; "
        f"predicted {_num(row['predicted_speedup'])}</p>")
    fired = ", ".join(f"{_e(r)} {n}" for r, n in row["rules_fired"].items() if n) or "none"
    return (head + f"<p>predicted {_num(row['cost_before'])} ns → {_num(row['cost_after'])} ns "
            f"(speedup {_num(row['predicted_speedup'])}), machine code changed: {_e(row['changed'])}</p>"
            + measured + _choices(row)
            + f"<p>e-graph: {_e(eg.get('nodes'))} nodes, {_e(eg.get('classes'))} classes, "
              f"{_e(eg.get('iterations'))} iterations, stopped: {_e(eg.get('stop_reason'))} "
              f"({_num(eg.get('seconds'))} s); extraction {_e(row['extraction_method'])}</p>"
            + f"<p>rules fired: {fired}</p>"
            + "<details><summary>TTGIR diff (input → optimized)</summary>" + _diff(row["diff"]) + "</details>"
            + "<details><summary>e-graph</summary>" + _egraph_drawing(row) + "</details>")


def _kernels(rows: list[dict[str, Any]]) -> str:
    by_kernel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_kernel[r["kernel"]].append(r)
    index_rows, sections = [], []
    for i, (name, per) in enumerate(by_kernel.items()):
        anchor = f"k{i}"
        cells = ", ".join(f"{r['target']} {r['status']} {_num(r['predicted_speedup'])}x" for r in per)
        index_rows.append(f'<tr data-name="{_e(name)}"><td><a href="#{anchor}">{_e(name)}</a></td>'
                          f"<td>{_e(cells)}</td></tr>")
        ok = [r for r in per if r["status"] == "ok"]
        chart = f'<div class="chart cost">{charts.cost_breakdown(ok)}</div>' if ok else ""
        sections.append(f'<details class="kernel" id="{anchor}" data-name="{_e(name)}"><summary>{_e(name)} '
                        f'<span class="muted">{_e(cells)}</span></summary>{chart}'
                        + "".join(_target_block(r) for r in per) + "</details>")
    index = ('<table id="kernel-index"><thead><tr><th>kernel</th><th>target, status, predicted speedup'
             '</th></tr></thead><tbody>' + "".join(index_rows) + "</tbody></table>")
    return (f'<p><input id="filter" placeholder="filter kernels by name"> showing <span id="shown">'
            f"{len(by_kernel)}</span> of {len(by_kernel)}</p>" + index + "".join(sections))


def _corpus(data: dict[str, Any]) -> str:
    c = data["corpus"]
    rows = data["kernels"]
    parts = ['<div class="chart" id="speedups">'
             + charts.speedup_distribution(c["predicted_speedups"], c["measured_speedups"]) + "</div>"]
    if c["measured_speedups"]:
        parts.append('<div class="chart" id="predicted-vs-measured">' + charts.predicted_vs_measured(rows)
                     + "</div>")
    parts.append("<h3>Rule firings</h3><div class='chart' id='rule-heatmap'>"
                 + charts.rule_heatmap(c["rule_firings"]) + "</div>")
    diffs = c["target_differences"]
    parts.append(f"<h3>h100 versus mi300x</h3><p>{sum(1 for d in diffs if not d['same_plan'])} of "
                 f"{len(diffs)} kernels get different plans on the two targets.</p>")
    if diffs:
        parts.append(_table(["kernel", "same plan", "h100 choices", "mi300x choices", "h100 predicted",
                             "mi300x predicted"],
                            [[_td(d["kernel"]), _td("yes" if d["same_plan"] else "no"),
                              _td("; ".join(d["h100"]) or "identity"),
                              _td("; ".join(d["mi300x"]) or "identity"),
                              _td(d["h100_speedup"], True), _td(d["mi300x_speedup"], True)] for d in diffs],
                            'id="target-differences"'))
    if data["compare"]:
        ch = [x for x in data["changes"] if x["change"] != "none"]
        parts.append(f"<h3>Changes since {_e(data['compare']['id'])}</h3><p>{len(ch)} of "
                     f"{len(data['changes'])} kernel x target changed.</p>")
        parts.append(_table(["kernel", "target", "change", "cost after (old → new)", "predicted (old → new)",
                             "measured (old → new)", "faster"],
                            [[_td(x["kernel"]), _td(x["target"]), _td(x["change"]),
                              _td(f"{_num(x.get('cost_after_before'))} → {_num(x.get('cost_after_after'))}"),
                              _td(f"{_num(x.get('predicted_before'))} → {_num(x.get('predicted_after'))}"),
                              _td(f"{_num(x.get('measured_before'))} → {_num(x.get('measured_after'))}"),
                              _td(x.get("faster"))] for x in data["changes"]], 'id="changes"'))
    return "".join(parts)


def render_html(data: dict[str, Any]) -> str:
    run, c = data["run"], data["corpus"]
    gp, gm = _geomean(c["predicted_speedups"]), _geomean(c["measured_speedups"])
    summary = (f"<p>{_e(run['path'])}, created {_e(run['created_at'])}; command: "
               f"<code>{_e(run['command'] or '-')}</code></p>"
               f"<p>{c['kernels']} kernel x target: {c['ok']} ok, {c['errors']} errors, {c['applied']} plans "
               f"applied, {c['changed']} with changed machine code, {c['benched']} benched. Geomean speedup "
               f"predicted {_num(gp)}, measured {_num(gm)}.</p>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>eqsat report: {_e(run['id'])}</title><style>{CSS}</style></head><body>"
            f"<h1>eqsat report: {_e(run['id'])}</h1><section id='summary'>{summary}</section>"
            f"<section id='corpus'><h2>Corpus</h2>{_corpus(data)}</section>"
            f"<section id='kernels'><h2>Kernels</h2>{_kernels(data['kernels'])}</section>"
            f"<script>{SCRIPT}</script></body></html>\n")
