"""Every Python package of the distribution is listed in pyproject.toml (the list is explicit because
rules/, costmodels/ and lowering/ live outside eqsat/), and package data is declared."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "eqsat").rglob("__init__.py")}
    for name, folder in tool["package-dir"].items():
        if name != "eqsat":
            assert (ROOT / folder / "__init__.py").is_file()
            assert not [p for p in (ROOT / folder).rglob("__init__.py") if p.parent != ROOT / folder], \
                f"{folder}/ must stay flat (no subpackages)"
            found.add(name)
    assert found == listed, f"missing {sorted(found - listed)}, stale {sorted(listed - found)}"


def test_cost_model_parameters_are_package_data() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "params/*.toml" in tool["package-data"]["eqsat.costmodels"]
    assert list((ROOT / "costmodels" / "params").glob("*.toml"))
