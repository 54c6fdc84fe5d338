"""The report's plots, drawn by matplotlib (Agg) and inlined as SVG text (no files, no network to view).

    cost_breakdown(rows)                 one kernel: predicted ns per cost group, before and after, one
                                         pair of stacked bars per target
    speedup_distribution(pred, meas)     histograms of predicted and measured speedups (log2 bins)
    predicted_vs_measured(rows)          scatter of measured against predicted speedup, y = x drawn
    rule_heatmap(firings)                rules x kernel-target, colour = log10(1 + matches)

The SVG is deterministic for the same data (fixed hash salt, no date), so a report can be compared.
"""

from __future__ import annotations

import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "eqsat", "font.size": 8,
                     "axes.spines.top": False, "axes.spines.right": False})

GROUP_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
                "#ccb974", "#64b5cd")


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    return text[:start] + text[end + len("</metadata>"):] if 0 <= start < end else text


def cost_breakdown(rows: list[dict[str, Any]]) -> str:
    groups = sorted({g for r in rows for g in (*r["ns_before"], *r["ns_after"])})
    labels = [f"{r['target']} {side}" for r in rows for side in ("before", "after")]
    fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(labels) + 0.8))
    left = [0.0] * len(labels)
    for gi, g in enumerate(groups):
        widths = [float(r[f"ns_{side}"].get(g, 0.0)) for r in rows for side in ("before", "after")]
        ax.barh(labels, widths, left=left, color=GROUP_COLORS[gi % len(GROUP_COLORS)], label=g)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("predicted ns (per launch)")
    if groups:
        ax.legend(ncols=min(len(groups), 5), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35),
                  frameon=False)
    return _svg(fig)


def speedup_distribution(predicted: list[float], measured: list[float]) -> str:
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    values = [v for v in predicted + measured if v and v > 0]
    lo = math.floor(math.log2(min(values))) if values else -1
    hi = math.ceil(math.log2(max(values))) if values else 1
    if hi - lo < 2:
        lo, hi = lo - 1, hi + 1
    bins = [2 ** (lo + i / 8) for i in range(int((hi - lo) * 8) + 1)]
    if predicted:
        ax.hist(predicted, bins=bins, alpha=0.6, label=f"predicted ({len(predicted)})", color=GROUP_COLORS[0])
    if measured:
        ax.hist(measured, bins=bins, alpha=0.6, label=f"measured ({len(measured)})", color=GROUP_COLORS[1])
    ax.set_xscale("log", base=2)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("speedup (before / after)")
    ax.set_ylabel("kernel x target")
    ax.legend(frameon=False)
    return _svg(fig)


def predicted_vs_measured(rows: list[dict[str, Any]]) -> str:
    pts = [(r["predicted_speedup"], r["measured"]["speedup"], r["kernel"]) for r in rows
           if r["measured"] and r["measured"]["speedup"] and r["predicted_speedup"]]
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    if pts:
        xs, ys, names = zip(*pts, strict=True)
        ax.scatter(xs, ys, s=14, color=GROUP_COLORS[0])
        lo, hi = min(xs + ys) * 0.95, max(xs + ys) * 1.05
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8)
        for x, y, n in pts:
            if abs(x - 1) > 0.05 or abs(y - 1) > 0.05:
                ax.annotate(n, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("predicted speedup")
    ax.set_ylabel("measured speedup")
    return _svg(fig)


def rule_heatmap(firings: dict[str, dict[str, int]]) -> str:
    columns = list(firings)
    rules = sorted({r for f in firings.values() for r in f})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.16 * len(columns) + 2.5), max(1.5, 0.2 * len(rules) + 1.2)))
    if rules and columns:
        grid = [[math.log10(1 + firings[c].get(r, 0)) for c in columns] for r in rules]
        im = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_yticks(range(len(rules)), rules, fontsize=6)
        ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=5)
        fig.colorbar(im, ax=ax, label="log10(1 + matches)", fraction=0.03)
    return _svg(fig)
