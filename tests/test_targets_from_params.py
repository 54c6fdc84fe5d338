"""A parameter file that names its `triton_target` is a target (a card `eqsat calibrate` measured)."""

from __future__ import annotations

import shutil
from pathlib import Path

from eqsat.ingest.manifest import KernelSpec
from eqsat.targets import BUILTIN_TARGETS, PARAMS_DIR, TARGETS, params_targets


def test_builtin_targets_come_first_and_params_files_add_none_today() -> None:
    assert list(TARGETS)[:3] == ["h100", "h200", "mi300x"]
    assert set(TARGETS) == set(BUILTIN_TARGETS) | set(params_targets())
    assert {p.stem for p in PARAMS_DIR.glob("*.toml")} <= set(TARGETS)


def test_a_calibrated_card_file_declares_its_target(tmp_path: Path) -> None:
    shutil.copy(PARAMS_DIR / "h200.toml", tmp_path / "h800.toml")
    text = (PARAMS_DIR / "h100.toml").read_text().replace('triton_target = ["cuda", 90, 32]',
                                                           'triton_target = ["cuda", 100, 32]')
    assert 'triton_target = ["cuda", 100, 32]' in text
    (tmp_path / "b200.toml").write_text(text)
    (tmp_path / "broken.toml").write_text("triton_target = [\n")  # does not parse: no target
    (tmp_path / "nocard.toml").write_text('model = "nvidia"\n')  # no triton_target: no target
    found = params_targets(tmp_path)
    assert set(found) == {"h800", "b200"}
    assert found["h800"].triton_name == "cuda:90" and found["h800"].warp_size == 32
    assert found["b200"].triton_name == "cuda:100"


def test_per_target_overrides_of_h100_apply_to_every_cuda90_target() -> None:
    spec = KernelSpec(name="k", manifest="<inline>", per_target={"h100": {"num_warps": 8}, "mi300x": {"num_warps": 2}})
    assert spec.for_target("h200").num_warps == 8
    assert spec.for_target("mi300x").num_warps == 2
