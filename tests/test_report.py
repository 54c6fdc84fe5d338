"""`eqsat report`: the JSON, Markdown and HTML reports of a real run, and the HTML checked in a real
headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): the key elements render, the
filter works, a kernel opens to its TTGIR diff and e-graph drawing, and the page logs no console error.
A screenshot is saved (the path is printed; $EQSAT_REPORT_SCREENSHOT overrides it)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from eqsat.cli import main
from eqsat.optimize import OptimizeOptions
from eqsat.report import render
from eqsat.report.data import report_data
from eqsat.store import open_store
from tests.run_fixtures import make_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run with e-graph dumps, and an earlier run of the same kernels where no plan was applied
    (a 100% gain margin), so --compare has a plan that changed."""
    base = tmp_path_factory.mktemp("report")
    new = make_run(base / "new", OptimizeOptions(dump_egraph=True))
    old = make_run(base / "old", OptimizeOptions(min_gain_frac=1.0))
    return new, old


def test_json_report_matches_the_run(runs: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    new, old = runs
    store = str(tmp_path / "s.sqlite")
    assert main(["report", str(new), "--compare", str(old), "--format", "json", "--store", store]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = json.loads((new / "run.json").read_text())
    assert [(k["kernel"], k["target"], k["cost_before"], k["cost_after"]) for k in data["kernels"]] == \
        [(r["kernel"], r["target"], r["cost_before"], r["cost_after"]) for r in rows]
    gather = next(k for k in data["kernels"] if k["kernel"] == "gather_rows_1024" and k["target"] == "h100")
    assert gather["choices"] and gather["choices"][0]["alternatives"]
    assert gather["diff"]["changed_lines"] > 0 and gather["egraph_dot"]
    assert gather["predicted_speedup"] == pytest.approx(gather["cost_before"] / gather["cost_after"])
    identity = next(k for k in data["kernels"] if k["kernel"] == "transpose_2d")
    assert not identity["choices"] and identity["diff"]["lines"] == []
    changes = {(c["kernel"], c["target"]): c["change"] for c in data["changes"]}
    assert changes[("gather_rows_1024", "h100")] == "plan"
    assert changes[("transpose_2d", "h100")] == "none"
    assert {d["kernel"] for d in data["corpus"]["target_differences"]} == {"gather_rows_1024", "transpose_2d"}
    fired = data["corpus"]["rule_firings"]["gather_rows_1024 [h100]"]
    assert fired["gather.indirect_global"] >= 1


def test_markdown_report_lists_every_kernel(runs: tuple[Path, Path], tmp_path: Path) -> None:
    new, _ = runs
    with open_store(tmp_path / "s.sqlite") as store:
        md = render(report_data(store, store.index_run(new).id), "md")
    for r in json.loads((new / "run.json").read_text()):
        assert f"| {r['kernel']} | {r['target']} | ok |" in md


def test_bad_report_arguments_are_one_line(tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "s.sqlite")
    assert main(["report", str(tmp_path / "nope" / "run"), "--store", store]) == 2
    assert main(["report", "no-such-run", "--store", store]) == 2
    assert main(["report", str(tmp_path), "--store", store]) == 2  # a directory without run.json
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(": error: " in line for line in err)


def test_html_report_in_headless_chromium(runs: tuple[Path, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is needed (scripts/setup-system.sh installs it)"
    new, old = runs
    page_file = tmp_path / "report.html"
    assert main(["report", str(new), "--compare", str(old), "--out", str(page_file),
                 "--store", str(tmp_path / "s.sqlite")]) == 0
    text = page_file.read_text()
    import re

    fetches = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", text)
    assert not fetches, fetches  # self-contained: nothing to fetch (the browser below also watches requests)
    shot = Path(os.environ.get("EQSAT_REPORT_SCREENSHOT", tmp_path / "report.png"))
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: problems.append(f"fetched {r.url}")
                if not r.url.startswith(("file:", "data:")) else None)
        page.goto(page_file.as_uri())
        assert "eqsat report" in page.title()
        for sel in ("#summary", "#speedups svg", "#rule-heatmap svg", "#target-differences", "#changes",
                    "#kernel-index"):
            assert page.locator(sel).first.is_visible(), sel
        kernels = page.locator("details.kernel")
        assert kernels.count() == 3
        page.fill("#filter", "gather")
        assert page.locator("#shown").inner_text() == "1"
        assert page.locator('details.kernel[data-name="transpose_2d"]').is_hidden()
        gather = page.locator('details.kernel[data-name="gather_rows_1024"]')
        gather.locator("summary").first.click()
        assert gather.locator(".chart.cost svg").is_visible()
        assert gather.locator("table.alternatives").first.is_visible()
        gather.locator("details summary", has_text="TTGIR diff").first.click()
        assert gather.locator("pre.diff .add").first.is_visible()
        gather.locator("details summary", has_text="e-graph").first.click()
        assert gather.locator(".egraph svg").first.is_visible()
        page.fill("#filter", "")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not problems, problems
    assert shot.stat().st_size > 10_000
    print(f"screenshot {shot}")
