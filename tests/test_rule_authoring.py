"""Rule authoring (docs/rules.md): the guide's commands run exactly as written and print what it says;
its rule file is the one in the guide; eqsat.testing's helpers; a rule family installed as a package is
picked up through the `eqsat.rules` entry point; bad user rules are one line; --only/--disable runs are
cached apart and the rule-set hash is in run.json."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from eqsat.cli import main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "rules.md"
RULE_FILE = "docs/examples/gather_from_global.py"
WRONG_FILE = "docs/examples/gather_from_global_wrong.py"


def _console_steps() -> list[tuple[str, int, list[str]]]:
    """(command, expected exit code, expected output fragments) of every ```console block of the guide."""
    steps: list[tuple[str, int, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", GUIDE.read_text(), flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], 0, []))
            elif line.startswith("# exit "):
                steps[-1] = (steps[-1][0], int(line.split()[-1]), steps[-1][2])
            elif line.startswith("> "):
                steps[-1][2].append(line[2:])
    return steps


def test_the_guide_shows_its_rule_file() -> None:
    """The guide's listing is the file its commands load, byte for byte."""
    marker = f"```python\n# file: {RULE_FILE}\n"
    text = GUIDE.read_text()
    assert marker in text
    listing = text.split(marker, 1)[1].split("```", 1)[0]
    assert listing == (ROOT / RULE_FILE).read_text()


def test_the_guides_commands_run_as_written(tmp_path: Path) -> None:
    steps = _console_steps()
    assert len(steps) >= 7
    env = {**os.environ, "EQSAT_CACHE_DIR": str(tmp_path / "cache"), "EQSAT_STORE": str(tmp_path / "s.db")}
    ingest = Path(os.environ.get("EQSAT_CACHE_DIR") or Path.home() / ".cache" / "eqsat") / "ingest"
    if ingest.is_dir():
        (tmp_path / "cache").mkdir()
        os.symlink(ingest, tmp_path / "cache" / "ingest")
    work = tmp_path / "repo"  # `runs/` of the guide lands in a copy's folder, not in the checkout
    work.mkdir()
    for sub in ("docs", "corpora"):
        os.symlink(ROOT / sub, work / sub)
    for command, code, fragments in steps:
        argv = shlex.split(command)
        assert argv[0] == "eqsat"
        out = subprocess.run([sys.executable, "-m", "eqsat.cli", *argv[1:]], cwd=work, env=env,
                             capture_output=True, text=True, timeout=600)
        text = out.stdout + out.stderr
        assert out.returncode == code, f"{command}: exit {out.returncode}\n{text[-2000:]}"
        for fragment in fragments:
            assert " ".join(fragment.split()) in " ".join(text.split()), f"{command}: no '{fragment}' in\n{text}"


def test_testing_helpers() -> None:
    from eqsat.testing import assert_sound, counterexample, fires_on, load_rules

    (rule,) = load_rules(str(ROOT / RULE_FILE))
    assert_sound(rule, examples=20)
    (wrong,) = load_rules(str(ROOT / WRONG_FILE))
    found = counterexample(wrong, examples=30)
    assert found is not None and found.startswith("minimal counterexample (2, 2, 0, 1, 1, 0)")
    with pytest.raises(AssertionError, match="unsound"):
        assert_sound(wrong, examples=30)
    fired = fires_on(rule, [str(ROOT / "docs/examples/gathers.toml")], "h100", rules=(str(ROOT / RULE_FILE),))
    assert fired["gather_rows_1024"] > 0


BAD_RULE_FILES = {
    "syntax.py": ("def broken(:\n", "syntax.py:1:"),
    "no_family.py": ("RULES = []\n", "defines FAMILY"),
    "builtin_name.py": ("FAMILY = 'gather'\nRULES = []\ndef seed(e, k, m): pass\n", "built-in family"),
    "empty.py": ("FAMILY = 'x'\nRULES = []\ndef seed(e, k, m): pass\n", "at least one"),
    "raises.py": ("FAMILY = 'x'\nraise RuntimeError('boom')\n", "raises.py:2: error: importing the rule file "
                                                                  "failed: RuntimeError: boom"),
    "misnamed.py": ("from eqsat.rules import Rule\nFAMILY = 'x'\nRULES = [Rule('y.r', 'y', 'd', 'p', "
                    "'interpreter', lambda s: None, [object()])]\ndef seed(e, k, m): pass\n",
                    "its family is 'y', not this module's 'x'"),
}


@pytest.mark.parametrize("name", sorted(BAD_RULE_FILES))
def test_bad_rule_files_are_one_line(name: str, tmp_path: Path, capsys) -> None:
    text, expected = BAD_RULE_FILES[name]
    path = tmp_path / name
    path.write_text(text)
    assert main(["rules", "list", "--rules", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err, err


def test_unknown_selection_and_missing_file_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["optimize", "corpora/ir/softmax_rows.h100.ttgir", "--out", str(tmp_path / "r"),
                 "--disable", "gather.nope", "--no-store"]) == 2
    assert "no rule or family named 'gather.nope'" in capsys.readouterr().err
    assert main(["rules", "check", "--rules", str(tmp_path / "missing.py")]) == 2
    assert "no such rule file" in capsys.readouterr().err


def test_selections_are_cached_apart_with_their_hash(tmp_path: Path) -> None:
    from eqsat.rules.user import RuleSelection

    from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths

    manifest = str(ROOT / "docs/examples/gathers.toml")
    iso = RunIsolation(cache_dir=tmp_path / "cache")
    full = optimize_paths([manifest], ["h100"], tmp_path / "full", OptimizeOptions(), isolation=iso)
    off = optimize_paths([manifest], ["h100"], tmp_path / "off",
                         OptimizeOptions(rules=RuleSelection(disable=("gather.indirect_global",))), isolation=iso)
    mine = optimize_paths([manifest], ["h100"], tmp_path / "mine",
                          OptimizeOptions(rules=RuleSelection(sources=(str(ROOT / RULE_FILE),),
                                                              disable=("gather.indirect_global",))),
                          isolation=iso)
    hashes = [{r["rule_set"] for r in rows} for rows in (full, off, mine)]
    assert all(len(h) == 1 for h in hashes) and len(set.union(*hashes)) == 3
    row = {r["kernel"]: r for r in off}["gather_rows_1024"]
    assert row["choices"] == 0  # not served the full run's cached plan
    assert {r["kernel"]: r for r in mine}["gather_rows_1024"]["choices"] == 1
    plan = json.loads((tmp_path / "mine" / "gather_rows_1024" / "h100" / "plan.json").read_text())
    assert "mine" in plan["egraph"]["families"] and plan["egraph"]["rule_set"] == next(iter(hashes[2]))


def test_an_installed_rule_package_is_picked_up(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                              "--quiet", "--target", str(site), str(ROOT / "tests" / "rule_package")],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    listed = subprocess.run([sys.executable, "-m", "eqsat.cli", "rules", "list"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and "pkg.drop_self_convert" in listed.stdout, listed.stderr
    checked = subprocess.run([sys.executable, "-m", "eqsat.cli", "rules", "check", "--rule",
                              "pkg.drop_self_convert", "--examples", "5"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0 and "ok    pkg.drop_self_convert" in checked.stdout, checked.stderr
    # a broken installed family is skipped with one warning line; the run goes on
    (site / "eqsat_rules_example.py").write_text("raise ImportError('half-installed')\n")
    broken = subprocess.run([sys.executable, "-m", "eqsat.cli", "rules", "list"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert broken.returncode == 0 and "gather.indirect_global" in broken.stdout
    assert broken.stderr.count("warning: rule family skipped") == 1 and "half-installed" in broken.stderr
