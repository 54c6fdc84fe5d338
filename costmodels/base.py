"""The cost-model interface every target implements: a breakdown of named terms summing to nanoseconds.

A *target* is data plus a class: a parameter file `costmodels/params/<name>.toml` (clock, SM/CU count,
bandwidths, bank count and width, shared-memory capacity, phase tables per access width and instruction)
and a `CostModel` subclass named by the file's `model` key. `model_for("h100")` loads both; adding a
target means adding a file (and, for a new hardware family, a class registered with `register_model`),
never touching the engine.

A `Cost` is a breakdown, not a number: named counts (`terms`: global bytes and sectors, shared wavefronts
and conflicts, shuffle rounds, barriers, ...) and the nanoseconds each group of terms is estimated to take
(`ns`). Costs add term by term. An illegal choice (a TMA box wider than 256, cp.async of 12 bytes, TMA on
CDNA3) is a `Cost` with `illegal` set to the reason: its total is infinite and reports can say why the plan
was not taken.

Every method takes layouts as encoding text in Triton's syntax (`#ttg.blocked<{...}>`), the form the dm
JSON, the e-graph and the batch files carry, plus the tile shape and element type name (`f16`, `f32`, `i8`,
...). Ops are the dm JSON dicts of `eqsat ingest --format json` (`eqsat.dm.json.op_json`).
"""

from __future__ import annotations

import math
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARAMS_DIR = Path(__file__).with_name("params")

# Names of the terms a breakdown may carry (counts, per kernel launch unless a method says per tile).
TERMS: dict[str, str] = {
    "global_bytes": "bytes moved between global memory and the SMs/CUs",
    "global_sectors": "32-byte sectors touched by global accesses",
    "global_transactions": "memory instructions issued per warp for global accesses, summed over warps",
    "wasted_bytes": "bytes of sectors fetched for masked-off lanes or unused sector bytes",
    "l1_requests": "distinct 128-byte lines touched per warp instruction, summed (L1/TEX tag work)",
    "shared_wavefronts": "shared-memory wavefronts (one 128-byte bank cycle each)",
    "shared_conflicts": "wavefronts above the conflict-free minimum (Triton/Nsight definition)",
    "shared_bytes": "bytes written to or read from shared memory",
    "shuffle_rounds": "warp shuffle instructions per thread",
    "shuffle_selects": "register selects around shuffles",
    "barriers": "CTA-wide barriers",
    "async_setup": "cp.async / direct-to-LDS issue, commit and wait groups",
    "tma_setup": "TMA descriptor, mbarrier init/expect/wait",
    "occupancy_limit": "CTAs per SM allowed by shared memory (informational)",
    "assumed_trips": "ops priced with an assumed loop trip count, not one from the launch (informational)",
}


@dataclass
class Cost:
    """A cost breakdown. `terms` are counts, `ns` estimated nanoseconds per group; `illegal` = reason."""

    terms: dict[str, float] = field(default_factory=dict)
    ns: dict[str, float] = field(default_factory=dict)
    illegal: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def total_ns(self) -> float:
        return math.inf if self.illegal else float(sum(self.ns.values()))

    @property
    def legal(self) -> bool:
        return self.illegal is None

    def __add__(self, other: Cost) -> Cost:
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, 0.0) + v
        ns = dict(self.ns)
        for k, v in other.ns.items():
            ns[k] = ns.get(k, 0.0) + v
        return Cost(terms, ns, self.illegal or other.illegal, {})

    def scaled(self, factor: float) -> Cost:
        """The cost repeated `factor` times (loop trips, CTAs)."""
        terms = {k: v * factor for k, v in self.terms.items()}
        return Cost(terms, {k: v * factor for k, v in self.ns.items()}, self.illegal, dict(self.info))

    @staticmethod
    def infeasible(reason: str) -> Cost:
        return Cost(illegal=reason)

    def to_json(self) -> dict[str, Any]:
        total = self.total_ns
        return {"total_ns": None if math.isinf(total) else round(total, 3),
                "illegal": self.illegal,
                "terms": {k: round(v, 3) for k, v in sorted(self.terms.items())},
                "ns": {k: round(v, 3) for k, v in sorted(self.ns.items())},
                **({"info": self.info} if self.info else {})}


def cost_sum(costs: Sequence[Cost]) -> Cost:
    total = Cost()
    for c in costs:
        total = total + c
    return total


@dataclass(frozen=True)
class TargetParams:
    """The numbers of one target, read from `costmodels/params/<name>.toml` (see those files)."""

    name: str
    model: str
    data: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def load_params(name: str) -> TargetParams:
    path = PARAMS_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PARAMS_DIR.glob("*.toml")))
        raise KeyError(f"no cost-model parameters for target '{name}' (known: {known})")
    with path.open("rb") as f:
        data = tomllib.load(f)
    return TargetParams(name=name, model=str(data["model"]), data=data)


class CostModel(ABC):
    """What the engine and the reports ask of a target. All times in nanoseconds."""

    def __init__(self, params: TargetParams):
        self.params = params

    @property
    def target(self) -> str:
        return self.params.name

    @abstractmethod
    def shared_access(self, distributed: str, shared: str, shape: Sequence[int], dtype: str,
                      direction: str) -> Cost:
        """One warp-collective store (`direction="store"`) or load (`"load"`) of a register tile in layout
        `distributed` into/from a buffer with shared encoding `shared`, simulated instruction by
        instruction. `terms` holds `shared_wavefronts`, `shared_conflicts` (whole tile, all warps);
        `info` holds `instruction`, `vector_bytes`, `wavefronts_per_instruction`,
        `conflicts_per_instruction` (Triton's definition, for the bank-conflicts CLI)."""

    @abstractmethod
    def convert(self, src: str, dst: str, shape: Sequence[int], dtype: str) -> Cost:
        """`ttg.convert_layout` as Triton lowers it; `info["path"]` is `none`, `registers`, `shuffle` or
        `shared` (with Triton's own swizzle and `info["reps"]`)."""

    @abstractmethod
    def convert_via_shared(self, src: str, dst: str, shared: str, shape: Sequence[int], dtype: str) -> Cost:
        """An explicit shared round trip: store in `src` into `shared`, barrier, load in `dst`."""

    @abstractmethod
    def gather(self, src: str, index: str, src_shape: Sequence[int], index_shape: Sequence[int], axis: int,
               dtype: str) -> Cost:
        """`tt.gather` as Triton lowers it (shuffles when warp-local, else the shared-memory path)."""

    @abstractmethod
    def global_access(self, op: Mapping[str, Any], layout: str | None = None) -> Cost:
        """A global load/store/indirect access of a dm op (its `access`, `guard`, shape, dtype), optionally
        issued in another register `layout` than the op's own."""

    @abstractmethod
    def legality(self, kind: str, **params: Any) -> str | None:
        """None when the choice is legal on this target, else the reason. `kind` is `tma`, `cp_async`,
        `direct_to_lds`, `shared_encoding` (e.g. nvmma on CDNA3), `shared_capacity`."""

    @abstractmethod
    def op_cost(self, op: Mapping[str, Any], kernel: Mapping[str, Any]) -> Cost:
        """The cost of one dm op as it stands in `kernel` (a dm JSON kernel), per launch."""

    def kernel_cost(self, kernel: Mapping[str, Any]) -> Cost:
        """The movement cost of a whole dm JSON kernel as it stands; `info["ops"]` maps op id to op cost."""
        per_op = {op["id"]: self.op_cost(op, kernel) for op in kernel["ops"]}
        total = cost_sum(list(per_op.values()))
        total.info["ops"] = {i: c.to_json() for i, c in per_op.items()}
        return total

    def kernel_time(self, kernel: Mapping[str, Any]) -> Cost:
        """The whole kernel's time: max(memory, instruction issue + other on-SM work)
        (eqsat.costmodels.issue); what decides whether a guarded version pays."""
        from eqsat.costmodels.issue import kernel_time

        return kernel_time(self, kernel)


_MODELS: dict[str, type[CostModel]] = {}


def register_model(name: str):
    """Class decorator: make a cost-model class available to parameter files as `model = "<name>"`."""

    def wrap(cls: type[CostModel]) -> type[CostModel]:
        _MODELS[name] = cls
        return cls

    return wrap


def model_for(target: str) -> CostModel:
    """The cost model of a target name (`h100`, `h200`, `mi300x`, or any params file)."""
    import importlib

    params = load_params(target)
    if params.model not in _MODELS:
        # model classes live in eqsat.costmodels.<model>; importing the module registers the class
        importlib.import_module(f"eqsat.costmodels.{params.model}")
    if params.model not in _MODELS:
        raise KeyError(f"target '{target}' names cost model '{params.model}', which no module registers")
    return _MODELS[params.model](params)
