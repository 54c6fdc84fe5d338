"""Target names the tool accepts and the Triton `GPUTarget` each compiles for.

A target here is only its identity (name, Triton backend/arch, warp size); the cost-model parameters of
each target live in `costmodels/` as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from eqsat.errors import EqsatError


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


TARGETS: dict[str, Target] = {
    "h100": Target("h100", "cuda", 90, 32),
    "h200": Target("h200", "cuda", 90, 32),
    "mi300x": Target("mi300x", "hip", "gfx942", 64),
}


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
