"""Target names the tool accepts and the Triton `GPUTarget` each compiles for.

A target here is only its identity (name, Triton backend/arch, warp size); the cost-model parameters of
each target live in `costmodels/` as data. The built-in targets are h100, h200 and mi300x; every other
parameter file `costmodels/params/<name>.toml` that names its `triton_target = [backend, arch, warp]` is a
target too, so a card `eqsat calibrate --device <name>` measured (another sm_90 or sm_100 card) is accepted
by `--target <name>` with no code change.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from eqsat.errors import EqsatError

PARAMS_DIR = Path(__file__).resolve().parent.parent / "costmodels" / "params"


@dataclass(frozen=True)
class Target:
    name: str
    backend: str  # "cuda" or "hip"
    arch: int | str  # 90 or "gfx942"
    warp_size: int

    def gpu_target(self):  # -> triton.backends.compiler.GPUTarget
        from triton.backends.compiler import GPUTarget

        return GPUTarget(self.backend, self.arch, self.warp_size)

    @property
    def triton_name(self) -> str:
        """The value of the `ttg.target` module attribute, e.g. `cuda:90` or `hip:gfx942`."""
        return f"{self.backend}:{self.arch}"


BUILTIN_TARGETS: dict[str, Target] = {
    "h100": Target("h100", "cuda", 90, 32),
    "h200": Target("h200", "cuda", 90, 32),
    "mi300x": Target("mi300x", "hip", "gfx942", 64),
}


def params_targets(params_dir: Path = PARAMS_DIR) -> dict[str, Target]:
    """The targets the parameter files declare (`triton_target = ["cuda", 90, 32]`), built-ins excluded;
    a file that does not parse or declares no valid triton_target declares none (`eqsat cost` reports the
    file's own error when it is used)."""
    out: dict[str, Target] = {}
    for path in sorted(params_dir.glob("*.toml")):
        name = path.stem
        if name in BUILTIN_TARGETS:
            continue
        try:
            with path.open("rb") as f:
                backend, arch, warp = tomllib.load(f)["triton_target"]
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
            continue
        if backend in ("cuda", "hip") and isinstance(warp, int) and isinstance(arch, (int, str)):
            out[name] = Target(name, backend, arch, warp)
    return out


TARGETS: dict[str, Target] = {**BUILTIN_TARGETS, **params_targets()}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise EqsatError(f"unknown target '{name}' (known: {', '.join(sorted(TARGETS))})") from None


def target_for_triton_name(triton_name: str) -> Target | None:
    """Map a `ttg.target` attribute value back to our target (h100 for cuda:90)."""
    for t in TARGETS.values():
        if t.triton_name == triton_name:
            return t
    return None
