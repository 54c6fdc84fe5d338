"""Corpus runs (issue 14/15): the result cache makes a rerun do nothing and a run killed with kill -9
resumable into the same place with the same run.json, plans, store rows and report; the progress bar;
the Ray executor gives the same run.json and plans as the local one (a real local Ray, num_cpus=2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths
from eqsat.plan import without_timing
from tests.run_fixtures import subset_manifest

KERNELS = ("gather_rows_1024", "transpose_2d", "copy_2d", "softmax_rows")
TARGETS = ["h100", "mi300x"]


class Recorder:
    """A progress sink (the interface eqsat.progress.RunProgress implements) that records the calls."""

    def __init__(self) -> None:
        self.begun: tuple[int, int] | None = None
        self.started_names: list[str] = []
        self.statuses: list[str] = []

    def begin(self, total: int, cached: int) -> None:
        self.begun = (total, cached)

    def started(self, task) -> None:
        self.started_names.append(f"{task.name} [{task.target}]")

    def finished(self, row) -> None:
        self.statuses.append(row["status"])


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _plans(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): json.dumps(without_timing(json.loads(p.read_text())), sort_keys=True)
            for p in sorted(run.glob("*/*/plan.json"))}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return subset_manifest(tmp_path_factory.mktemp("m") / "subset.toml", KERNELS)


def test_rerun_restores_every_kernel_from_the_cache(manifest: Path, tmp_path: Path) -> None:
    iso = RunIsolation(cache_dir=tmp_path / "cache")
    first = Recorder()
    rows = optimize_paths([str(manifest)], TARGETS, tmp_path / "run", OptimizeOptions(), jobs=2,
                          isolation=iso, progress=first)
    assert first.begun == (len(rows), 0) and len(first.started_names) == len(rows)
    assert all(r["status"] == "ok" for r in rows)
    text = (tmp_path / "run" / "run.json").read_text()
    plans = {p: (tmp_path / "run" / p).read_text() for p in _plans(tmp_path / "run")}
    again = Recorder()
    t0 = time.perf_counter()
    rows2 = optimize_paths([str(manifest)], TARGETS, tmp_path / "run", OptimizeOptions(), jobs=2,
                           isolation=iso, progress=again)
    assert again.begun == (len(rows), len(rows)) and again.started_names == []
    assert rows2 == rows and (tmp_path / "run" / "run.json").read_text() == text
    assert {p: (tmp_path / "run" / p).read_text() for p in plans} == plans
    print(f"rerun of {len(rows)} kernel x target from the cache: {time.perf_counter() - t0:.2f} s")
    # other options are another result: nothing restored
    third = Recorder()
    optimize_paths([str(manifest)], TARGETS, tmp_path / "run3", OptimizeOptions(min_gain_frac=1.0), jobs=2,
                   isolation=iso, progress=third)
    assert third.begun == (len(rows), 0)


def test_kill9_mid_run_then_rerun_equals_an_uninterrupted_run(manifest: Path, tmp_path: Path) -> None:
    env = {**os.environ, "EQSAT_CACHE_DIR": str(tmp_path / "cache"), "EQSAT_STORE": str(tmp_path / "s.db")}
    ingest = Path(os.environ.get("EQSAT_CACHE_DIR") or Path.home() / ".cache" / "eqsat") / "ingest"
    if ingest.is_dir():  # the compiles are not what is tested: share them
        (tmp_path / "cache").mkdir()
        os.symlink(ingest, tmp_path / "cache" / "ingest")
    cmd = [sys.executable, "-m", "eqsat.cli", "optimize", str(manifest), "--target", "h100", "--target",
           "mi300x", "--jobs", "1", "--no-progress", "--saturation-timeout", "120", "--timeout", "600"]
    run = tmp_path / "run"
    proc = subprocess.Popen([*cmd, "--out", str(run)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            rows = json.loads((run / "run.json").read_text())
            done = sum(1 for r in rows if r["status"] == "ok")
        except (OSError, ValueError):
            pass
        if done >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= done < len(KERNELS) * 2, f"killed after {done} rows: not mid-run"
    entries = list((tmp_path / "cache" / "results").glob("*/*/row.json"))
    assert len(entries) >= 2
    resumed = subprocess.run([*cmd, "--out", str(run)], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    fresh = subprocess.run([*cmd, "--out", str(tmp_path / "fresh"), "--no-cache"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    a = json.loads((run / "run.json").read_text())
    b = json.loads((tmp_path / "fresh" / "run.json").read_text())
    assert _strip(a) == _strip(b)
    assert _plans(run) == _plans(tmp_path / "fresh")
    from eqsat.report.data import report_data
    from eqsat.store import open_store

    def report(path: Path) -> str:
        with open_store(tmp_path / "s.db") as store:
            data = report_data(store, store.run(str(path))["id"])
        for k in data["kernels"]:
            k.pop("seconds")
            k["egraph"] = {x: y for x, y in k["egraph"].items() if "seconds" not in x}
        return json.dumps({"kernels": data["kernels"], "corpus": data["corpus"]}, sort_keys=True)

    assert report(run) == report(tmp_path / "fresh")


def test_progress_bar_on_request(manifest: Path, tmp_path: Path) -> None:
    env = {**os.environ, "EQSAT_STORE": str(tmp_path / "s.db"), "COLUMNS": "160"}
    out = subprocess.run([sys.executable, "-m", "eqsat.cli", "optimize", str(manifest), "--target", "h100",
                          "--out", str(tmp_path / "run"), "--progress"], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "optimize" in out.stderr and f"{len(KERNELS)}/{len(KERNELS)}" in out.stderr
    assert "kernel x target optimized" in out.stdout and "indexed into" in out.stdout


def test_ray_executor_gives_the_local_results(manifest: Path, tmp_path: Path) -> None:
    from eqsat.egraph.schedule import Limits

    ray = pytest.importorskip("ray")
    # saturation bounded by nodes and iterations only: a wall-clock stop depends on the machine's load
    options = OptimizeOptions(limits=Limits(time_limit_s=300.0))
    local = optimize_paths([str(manifest)], TARGETS, tmp_path / "local", options, jobs=2,
                           isolation=RunIsolation(use_cache=False, timeout_s=600))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = optimize_paths([str(manifest)], TARGETS, tmp_path / "ray", options, jobs=2,
                                isolation=RunIsolation(use_cache=False, executor="ray", timeout_s=600))
    finally:
        ray.shutdown()
    assert _strip(remote) == _strip(local)
    assert _plans(tmp_path / "ray") == _plans(tmp_path / "local")


def test_launches_give_ir_files_their_shape(tmp_path: Path) -> None:
    """A bare TTGIR file priced at one program and at the 4096 programs a launch table gives."""
    ttgir = str(Path(__file__).resolve().parents[1] / "corpora" / "ir" / "softmax_rows.h100.ttgir")
    iso = RunIsolation(in_process=True, use_cache=False)
    one = optimize_paths([ttgir], ["h100"], tmp_path / "one", OptimizeOptions(), isolation=iso)
    many = optimize_paths([ttgir], ["h100"], tmp_path / "many", OptimizeOptions(), isolation=iso,
                          launches={ttgir: {"grid": [4096], "args": {}}})
    assert one[0]["status"] == many[0]["status"] == "ok"
    assert many[0]["cost_before"] > 30 * one[0]["cost_before"]


def test_a_file_for_another_target_fails_alone_with_the_cache_on(tmp_path: Path) -> None:
    """The front end's skip of cached kernels must not touch the path of a TTGIR file compiled for another
    target (it once raised TypeError there and ended the whole run)."""
    ttgir = str(Path(__file__).resolve().parents[1] / "corpora" / "ir" / "softmax_rows.h100.ttgir")
    iso = RunIsolation(in_process=True, cache_dir=tmp_path / "cache")
    for run in ("first", "again"):
        # mi300x first: the kernel after the mismatch is the one that used to raise
        rows = optimize_paths([ttgir], ["mi300x", "h100"], tmp_path / run, OptimizeOptions(), isolation=iso)
        assert [r["status"] for r in rows] == ["error", "ok"], rows
        assert "compiled for h100, not mi300x" in rows[0]["error"]
