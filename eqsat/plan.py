"""A plan: the data-movement choices extracted for one kernel on one target, as saved in `plan.json`.

The plan is the contract between the e-graph engine (which extracts it), the cost models (which price each
alternative), the reports (which compare plans across targets and runs) and the lowering (which applies it
to the parsed TTGIR). It refers to the input program only through dm op ids (`eqsat ingest --format json`)
and to layouts only through encoding text in Triton's syntax, so it is plain JSON that any stage can read.

Choice kinds and their `params` (every lowering in `eqsat.lowering` implements exactly these):

    shared_encoding  {"encoding": TEXT}                 the dm `local_alloc` `op` (and every view of it:
                                                        memdesc_index/subslice/trans) gets this shared
                                                        encoding (swizzled/padded/nvmma/rotating/linear)
    convert_path     {"path": "drop"}                   the dm `convert` `op` is removed (identity)
                     {"path": "via", "layout": TEXT}    ... done as two converts through `layout`
                     {"path": "shared", "encoding": T}  ... done as local_alloc(encoding) + local_load
    load_layout      {"layout": TEXT}                   the global load `op` is issued directly in
                                                        `layout` (address, mask and other rematerialised);
                                                        the converts that consumed it then start from it
    gather_strategy  {"strategy": "warp_shuffle", "layout": TEXT}   gather `op` made warp-local in `layout`
                     {"strategy": "shared"}                          gather through shared memory
                     {"strategy": "indirect_load"}                   gather of a tile loaded from global
                                                                     memory replaced by an indirect global
                                                                     load of only the gathered elements
    staging          {"mode": "sync" | "async_copy" | "tma" | "direct_to_lds", "stages": N}
                                                        how the global tile `op` reaches its shared buffer
    transport        {"mode": "registers" | "cp_async" | "tma" | "lds" | "direct_to_lds", "stages": N,
                      "loads": [NAMES]}                 how the loads of the kernel's K loop travel: the TTIR
                                                        recompiled with num_stages N, the named loads as
                                                        tensor-descriptor (TMA) loads (lowering/transport.py);
                                                        `op` is 0 (a whole-loop choice); applied by the
                                                        optimizer, never by `lower` (the TTGIR is the result)
    specialize       {"layout": TEXT, "vec": V, "version": G}   (in a version only) the global load/store
                                                        `op` is issued in `layout` with V-element vectors,
                                                        valid under the version's guards G

Versions (`"versions"`, most specific first; rules/specialize.py, lowering/specialize.py): the kernel
compiled under guards on its runtime arguments, each

    {"name": "n_cols%8", "slug": "n_cols_mod8",
     "guards": [{"arg": "n_cols", "kind": "divisible", "by": 8}, {"arg": "x_ptr", "kind": "aligned",
                 "bytes": 16}],                         kinds: divisible {by}, equal {value},
                                                        at_most {bound}, aligned {bytes}; `arg` is the
                                                        original kernel's runtime parameter name
     "choices": [...],                                  a whole plan's choices (as above) for the version
     "cost_after": {...}, "predicted_ns": F,            the version's movement cost and kernel time
     "fallback_ns": F,                                  the fallback's kernel time (costmodels/issue.py)
     "ttgir": "versions/n_cols_mod8.ttgir"}             relative to the plan folder

At call time the first version whose guards all hold runs (`eqsat.lowering.specialize.guards_hold`), else
the plan itself (`optimized.ttgir`), which is always the fallback. `rejected_versions` lists candidate
versions that did not pay, with why.

Each choice carries the rule that produced it, its cost before/after (the op's `Cost.to_json()`), and the
alternatives that lost, each with why (`illegal: <reason>` or `costlier by X ns`).

A plan is a function of the kernel, the target and the options alone. The only fields that are not are
the wall-clock times (`TIMING_KEYS`: saturation, extraction and total seconds); `canonical_json()` is the
plan without them, byte-identical for the same input whatever ran before in the process.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CHOICE_KINDS: dict[str, tuple[str, ...]] = {
    "shared_encoding": ("encoding",),
    "convert_path": ("path",),
    "load_layout": ("layout",),
    "gather_strategy": ("strategy",),
    "staging": ("mode",),
    "specialize": ("layout",),
    "transport": ("mode",),
}


# wall-clock fields of plan.json (egraph.seconds/total_seconds/overrun_s, egraph.phases[].seconds,
# extraction.greedy_seconds/exact_seconds): the machine's speed, not the plan
TIMING_KEYS = frozenset({"seconds", "total_seconds", "overrun_s", "greedy_seconds", "exact_seconds"})


def without_timing(data: Any) -> Any:
    """`data` (plan or run JSON) with every `TIMING_KEYS` field removed, at any depth."""
    if isinstance(data, dict):
        return {k: without_timing(v) for k, v in data.items() if k not in TIMING_KEYS}
    if isinstance(data, list):
        return [without_timing(v) for v in data]
    return data


@dataclass
class Alternative:
    kind: str
    params: dict[str, Any]
    cost: dict[str, Any]
    rejected: str  # "illegal: <reason>" or "costlier by <ns> ns"
    rule: str = ""


@dataclass
class Choice:
    op: int
    kind: str
    params: dict[str, Any]
    rule: str
    cost_before: dict[str, Any] = field(default_factory=dict)
    cost_after: dict[str, Any] = field(default_factory=dict)
    alternatives: list[Alternative] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in CHOICE_KINDS:
            raise ValueError(f"unknown choice kind '{self.kind}'")
        missing = [k for k in CHOICE_KINDS[self.kind] if k not in self.params]
        if missing:
            raise ValueError(f"choice {self.kind} on op {self.op} lacks {', '.join(missing)}")


@dataclass
class Plan:
    kernel: str
    target: str
    cost_before: dict[str, Any]
    cost_after: dict[str, Any]
    choices: list[Choice] = field(default_factory=list)
    egraph: dict[str, Any] = field(default_factory=dict)      # nodes, classes, seconds, stop_reason, matches
    extraction: dict[str, Any] = field(default_factory=dict)  # greedy_ns, exact_ns, gap, method
    versions: list[dict[str, Any]] = field(default_factory=list)  # guarded versions (module docstring)
    rejected_versions: list[dict[str, Any]] = field(default_factory=list)  # candidates that did not pay

    @property
    def is_identity(self) -> bool:
        """The fallback changes nothing (versions, if any, are separate TTGIRs)."""
        return not self.choices

    def version_choices(self, version: dict[str, Any]) -> list[Choice]:
        return [Choice(**{**c, "alternatives": [Alternative(**a) for a in c.get("alternatives", [])]})
                for c in version.get("choices", [])]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def canonical_json(self) -> str:
        """plan.json's text without the wall-clock fields: equal for equal inputs."""
        return json.dumps(without_timing(self.to_json()), indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(data: dict[str, Any]) -> Plan:
        choices = [Choice(**{**c, "alternatives": [Alternative(**a) for a in c.get("alternatives", [])]})
                   for c in data.get("choices", [])]
        return Plan(data["kernel"], data["target"], data["cost_before"], data["cost_after"], choices,
                    data.get("egraph", {}), data.get("extraction", {}), list(data.get("versions", [])),
                    list(data.get("rejected_versions", [])))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @staticmethod
    def load(path: str | Path) -> Plan:
        return Plan.from_json(json.loads(Path(path).read_text()))
