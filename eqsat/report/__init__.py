"""Reports of runs: what each plan does, why the alternatives lost, and how runs and targets compare.

    report_data(store, run_ref, compare_ref=None) -> dict    eqsat.report.data (the JSON format)
    render(data, "html" | "md" | "json") -> str              eqsat.report.html / .markdown / JSON text

A report reads the run store (eqsat.store) and the run directories it indexes; `eqsat report RUN_DIR`
indexes the directory first, so a report is always of what the directory holds now.
"""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("html", "md", "json")


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "html":
        from eqsat.report.html import render_html

        return render_html(data)
    if fmt == "md":
        from eqsat.report.markdown import render_markdown

        return render_markdown(data)
    return json.dumps(data, indent=1, sort_keys=True) + "\n"
