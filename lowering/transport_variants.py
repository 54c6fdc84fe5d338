"""Every transport variant of a kernel's loop loads, each a real compile, with what the cost model needs.

    variants(spec, target) -> [Variant]

A variant is (mode, stages, which loads go through TMA), compiled from the kernel's TTIR by
`triton.compile` with `num_stages = stages` (eqsat/lowering/transport.py):

    registers      num_stages 1: loads into registers, written to shared memory where a dot needs them
    cp_async       num_stages N >= 2 on NVIDIA: Triton's pointer pipeline, a ring of N cp.async buffers
    tma            num_stages N >= 2 on Hopper: the proven-box loads rewritten to descriptor loads
                   (`tma_loads` names them; the others stay cp.async), a ring of N TMA buffers + mbarriers
    lds            num_stages N >= 2 on CDNA3: Triton's AMD stream pipeline (global -> registers -> LDS)
    direct_to_lds  num_stages N >= 2 on CDNA3: TRITON_HIP_USE_ASYNC_COPY=1, buffer_load ... lds
                   (`amdg.buffer_load_to_local`) rings

Each variant records its shared bytes and registers (from the compile), whether it fits (shared memory
per block, 255 registers without spills), the typestate check of its pipeline (eqsat.rules.typestate.
check_ttgir_pipeline) and the features `eqsat.costmodels.pipeline` prices: tile bytes and rows per trip,
MMA flops per trip, the loop's float vector work (ALU and SFU tensor elements per trip: an online softmax),
TMA requests (a row per 128-byte span), the epilogue's stored bytes, trips, programs.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from eqsat.lowering.transport import ELEM_BYTES, LoopLoad, compile_variant, loop_loads, rewrite_tma

SHARED_LIMIT = {"cuda": 232448, "hip": 65536}  # bytes per block (Hopper 227 KiB opt-in; CDNA3 64 KiB LDS)
MAX_STAGES = 6


@dataclass
class Variant:
    mode: str
    stages: int
    tma_loads: tuple[str, ...] = ()
    ttir: str = ""
    ttgir: str = ""
    shared: int = 0
    registers: int | None = None
    legal: bool = True
    reason: str = ""
    protocol: str = ""  # "ok" or the typestate error
    features: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        tail = "" if self.mode != "tma" or not self.tma_loads else "[" + ",".join(self.tma_loads) + "]"
        return f"{self.mode}{tail}@{self.stages}"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "mode": self.mode, "stages": self.stages, "tma_loads": list(self.tma_loads),
                "shared": self.shared, "registers": self.registers, "legal": self.legal,
                "reason": self.reason,
                "protocol": self.protocol, "features": self.features}


def kernel_ttir(spec: Any, target_name: str) -> str:
    from eqsat.ingest.compile import compile_spec
    from eqsat.targets import get_target

    return compile_spec(spec, get_target(target_name), upto="ttgir").ttir


def variants(spec: Any, target_name: str, stages: tuple[int, ...] = (2, 3, 4), mixed: bool = False,
             ttir: str | None = None) -> list[Variant]:
    """The kernel's transport variants on `target_name`, compiled (illegal ones kept, with the reason).
    `mixed` also tries every proper subset of the TMA-legal loads through TMA."""
    from eqsat.rules.typestate import TypestateError, check_ttgir_pipeline

    from eqsat.targets import get_target

    target = get_target(target_name)
    ttir = ttir if ttir is not None else kernel_ttir(spec, target_name)
    loads = loop_loads(ttir, f"{spec.name}.ttir", target.triton_name)
    legal_tma = [ll for ll in loads if ll.box is not None]
    plans: list[tuple[str, int, tuple[LoopLoad, ...]]] = [("registers", 1, ())]
    backend = "cuda" if target.triton_name.startswith("cuda") else "hip"
    for n in stages:
        if backend == "cuda":
            plans.append(("cp_async", n, ()))
            if legal_tma:
                subsets = [tuple(legal_tma)]
                if mixed:
                    subsets += [s for k in range(1, len(legal_tma))
                                for s in itertools.combinations(legal_tma, k)]
                plans += [("tma", n, s) for s in subsets]
        else:
            plans += [("lds", n, ()), ("direct_to_lds", n, ())]
    base = features_of(ttir, loads, spec)
    out: list[Variant] = []
    for mode, n, chosen in plans:
        v = Variant(mode, n, tuple(ll.name for ll in chosen))
        v.ttir = rewrite_tma(ttir, list(chosen)) if chosen else ttir
        try:
            cv = compile_variant(v.ttir, target, mode, n, spec.num_warps, spec.num_ctas, spec.options)
        except Exception as e:  # noqa: BLE001 - a variant Triton refuses is an illegal alternative
            v.legal, v.reason = False, f"does not compile: {str(e).splitlines()[0][:200] if str(e) else e}"
            out.append(v)
            continue
        v.ttgir, v.shared, v.registers = cv.ttgir, cv.shared, cv.registers
        limit = SHARED_LIMIT[backend]
        if v.shared > limit:
            v.legal, v.reason = False, f"{v.shared} bytes of shared memory, the block limit is {limit}"
        elif (v.registers or 0) > 255 or (cv.spills or 0) > 0:
            v.legal, v.reason = False, f"{v.registers} registers, {cv.spills or 0} spilled"
        try:
            check_ttgir_pipeline(v.ttgir)
            v.protocol = "ok"
        except TypestateError as e:
            v.legal, v.protocol = False, str(e)
            v.reason = v.reason or f"protocol: {e}"
        v.features = {**base, "mode": mode, "stages": n, "shared": v.shared, "registers": v.registers,
                      "num_warps": spec.num_warps,
                      "tma_bytes": sum(ll.tile_bytes for ll in chosen),
                      "tma_rows": sum(math.prod(ll.shape[:-1]) for ll in chosen),
                      "tma_requests": sum(tma_requests(ll.shape, ll.elem) for ll in chosen)}
        out.append(v)
    return out


def tma_requests(shape: list[int], elem: str) -> int:
    """L2 requests the TMA engine issues for one box: a request per row and 128-byte span of the inner
    dimension (Triton splits a box wider than the 128-byte swizzle into several copies)."""
    if not shape:
        return 0
    inner = shape[-1] * ELEM_BYTES.get(elem, 4)
    return math.prod(shape[:-1]) * max(1, -(-inner // 128))


def features_of(ttir: str, loads: list[LoopLoad], spec: Any) -> dict[str, Any]:
    """What the pipeline model prices, from the TTIR and the spec's bench (else launch) table."""
    launch = spec.bench or spec.launch or {}
    args = launch.get("args", {}) if isinstance(launch, dict) else {}
    grid = list(launch.get("grid", [1])) if isinstance(launch, dict) else [1]
    trips = None
    m = re.search(r"scf\.for %[\w$.-]+ = %([\w$.-]+) to %([\w$.-]+) step %([\w$.-]+)", ttir)
    if m:
        consts = dict(re.findall(r"%([\w$.-]+) = arith\.constant (-?\d+) : i\d+", ttir))
        lb = int(consts.get(m.group(1), 0)) if m.group(1) in consts else 0
        ub = consts.get(m.group(2)) or args.get(m.group(2))
        step = consts.get(m.group(3)) or args.get(m.group(3))
        if ub is not None and step:
            trips = max(0, -(-(int(ub) - lb) // int(step)))
    flops = 0
    dots = re.findall(r"tt\.dot %[^:]*: tensor<(\d+x\d+)x\w+> \* tensor<(\d+x\d+)x\w+>", ttir)
    for a, b in dots:
        (mm, kk), (_, nn) = (tuple(int(x) for x in a.split("x")), tuple(int(x) for x in b.split("x")))
        flops += 2 * mm * nn * kk
    alu, sfu = vector_work(ttir)
    return {"programs": math.prod(int(g) for g in grid), "trips": trips, "flops_per_trip": flops,
            "dots_per_trip": len(dots), "alu_elems_per_trip": alu, "sfu_elems_per_trip": sfu,
            "epilogue_bytes": epilogue_bytes(ttir),
            "bytes_per_trip": sum(ll.tile_bytes for ll in loads),
            "rows_per_trip": sum(math.prod(ll.shape[:-1]) for ll in loads if ll.shape),
            "row_bytes": [ll.shape[-1] * ELEM_BYTES.get(ll.elem, 4) for ll in loads if ll.shape],
            "loads": [ll.to_json() for ll in loads]}


SFU_OPS = ("math.exp", "math.exp2", "math.log", "math.log2", "math.sqrt", "math.rsqrt", "math.sin",
           "math.cos", "math.tanh", "math.erf")

def vector_work(ttir: str) -> tuple[int, int]:
    """(ALU, SFU) tensor elements per trip of the loop that feeds a dot: floating-point arith/math ops
    and tt.reduce inputs on float tensors (an online softmax between two dots); MUFU ops (exp, log,
    sqrt, ...) count apart. Pointer and integer arithmetic are not counted (address work is the issue
    cost of the loads)."""
    body = _dot_loop_body(ttir)
    alu = sfu = 0
    for line in body.splitlines():
        if "tensor<" not in line:
            continue
        m = re.search(r"= (arith|math)\.(\w+) [^\n]*?: tensor<([\dx]+)x(f16|f32|f64|bf16)>", line)
        if m is None:
            m2 = re.search(r"\}\) : \(tensor<([\dx]+)x(?:f16|f32|f64|bf16)>", line)
            if m2:
                alu += math.prod(int(d) for d in m2.group(1).split("x"))
            continue
        n = math.prod(int(d) for d in m.group(3).split("x"))
        if f"{m.group(1)}.{m.group(2)}" in SFU_OPS:
            sfu += n
        elif m.group(1) == "arith" and m.group(2) not in ("constant",):
            alu += n
    return alu, sfu


def _dot_loop_body(ttir: str) -> str:
    for m in re.finditer(r"scf\.for .*?\{\n(.*?)\n\s*scf\.yield", ttir, re.S):
        if "tt.load" in m.group(1) and "tt.dot" in m.group(1):
            return m.group(1)
    return ""


def epilogue_bytes(ttir: str) -> int:
    """Bytes of the tile stores after the loop (the accumulator's epilogue), per program."""
    end = ttir.rfind("scf.yield")
    total = 0
    tail = ttir[end:] if end >= 0 else ttir
    for m in re.finditer(r"tt\.store [^\n]*: tensor<([\dx]+)x!tt\.ptr<(\w+)>>", tail):
        total += math.prod(int(d) for d in m.group(1).split("x")) * ELEM_BYTES.get(m.group(2), 4)
    return total


MIN_GAIN = 0.02  # the optimizer's default margin (eqsat.optimize.OptimizeOptions.min_gain_frac)


@dataclass
class TransportDecision:
    """The variant the pipeline model picks, with every alternative priced (or illegal, with why)."""

    chosen: Variant
    input: Variant | None
    priced: list[tuple[Variant, Any]]  # (variant, PipelineCost)
    note: str = ""  # why the input was kept regardless of the prices

    def choice_json(self) -> dict[str, Any]:
        base = self.cost_of(self.input)
        out: dict[str, Any] = {"mode": self.chosen.mode, "stages": self.chosen.stages,
                               "tma_loads": list(self.chosen.tma_loads), "key": self.chosen.key}
        alts = []
        for v, c in self.priced:
            if v is self.chosen:
                continue
            if not v.legal or c is None or math.isinf(c.ns):
                why = f"illegal: {v.reason or (c.illegal if c is not None else 'not priced')}"
            elif self.cost_of(self.chosen) is None:
                why = f"not taken: {self.note or 'the input is kept'}"
            else:
                why = f"costlier by {c.ns - self.cost_of(self.chosen).ns:.1f} ns"
            alts.append({"key": v.key, "mode": v.mode, "stages": v.stages, "tma_loads": list(v.tma_loads),
                         "cost": c.to_json() if c is not None else {}, "rejected": why,
                         "predicted_speedup": _ratio(base, c)})
        out["alternatives"] = alts
        out["predicted_speedup"] = _ratio(base, self.cost_of(self.chosen))
        return out

    def cost_of(self, v: Variant | None) -> Any:
        return next((c for w, c in self.priced if w is v), None)

    @property
    def changes(self) -> bool:
        return self.input is None or self.chosen.key != self.input.key


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or math.isinf(a.ns) or math.isinf(b.ns) or b.ns <= 0:
        return None
    return round(a.ns / b.ns, 4)


def decide(vs: list[Variant], spec: Any, target_name: str, min_gain: float = MIN_GAIN) -> TransportDecision:
    """The cheapest legal variant under the pipeline model; the input's (pointer loads at the spec's
    num_stages) unless another is cheaper by more than `min_gain`. A loop with several dots (attention)
    is priced with its vector work (the fit includes attention_fwd_128x64, where TMA measured 0.97x)."""
    from eqsat.costmodels.pipeline import price

    priced = [(v, price(v.features, target_name) if v.legal and v.features else None) for v in vs]
    in_mode = "cp_async" if not target_name.startswith("mi") else "lds"
    n = spec.num_stages
    inp = next((v for v in vs if (v.mode, v.stages) == ((in_mode, n) if n > 1 else ("registers", 1))), None)
    legal = [(v, c) for v, c in priced if c is not None and not math.isinf(c.ns)]
    if not legal:
        return TransportDecision(inp or vs[0], inp, priced)
    best_v, best_c = min(legal, key=lambda vc: (round(vc[1].ns, 3), vc[0].stages != n, vc[0].stages))
    base = next((c for v, c in priced if v is inp), None)
    if inp is not None and base is not None and not math.isinf(base.ns) \
            and best_c.ns > base.ns * (1 - min_gain):
        best_v = inp
    return TransportDecision(best_v, inp, priced)


CALIBRATED = ("h100", "h200")  # targets whose pipeline constants are fitted to measurements


def loop_feeds_dot(ttir: str) -> bool:
    """Whether some scf.for body has both a tt.load and a tt.dot (the loops this choice is about)."""
    for m in re.finditer(r"scf\.for .*?\{\n(.*?)\n\s*scf\.yield", ttir, re.S):
        body = m.group(1)
        if "tt.load" in body and "tt.dot" in body:
            return True
    return False


def transport_hook(spec_json: dict[str, Any] | None, target: str, plan: Any) -> tuple[Any, str | None]:
    """The optimizer's transport step for one kernel x target (eqsat.optimize): `(plan, ttgir)` where
    `ttgir` is the chosen variant's TTGIR (the new optimized.ttgir) when the transport choice is taken,
    else None and the plan unchanged but for `extraction["transport"]` (what was priced and why not).
    Taken when the pipeline model, calibrated for the target, predicts a gain over the input's transport
    larger than the margin and than the e-graph plan's own predicted gain (the two do not compose: the
    variant is a recompile of the TTIR, the e-graph choices edit the input TTGIR)."""
    import dataclasses

    from eqsat.lowering.rundir import spec_from_json

    from eqsat.plan import Alternative, Choice

    if spec_json is None or os.environ.get("EQSAT_TRANSPORT", "1") == "0":
        return plan, None
    spec = spec_from_json(spec_json, spec_json.get("name", "kernel"))
    if spec.kind != "python":
        return plan, None
    ttir = kernel_ttir(spec, target)
    if not loop_feeds_dot(ttir):
        return plan, None
    dec = decide(variants(spec, target, stages=(2, 3, 4), ttir=ttir), spec, target)
    summary = dec.choice_json()
    record: dict[str, Any] = {"input": dec.input.key if dec.input else None, "chosen": dec.chosen.key,
                              "note": dec.note or None,
                              "predicted_speedup": summary["predicted_speedup"],
                              "variants": [{"key": a["key"], "rejected": a["rejected"],
                                            "predicted_speedup": a["predicted_speedup"]}
                                           for a in summary["alternatives"]]}
    base, best = dec.cost_of(dec.input), dec.cost_of(dec.chosen)
    taken = dec.changes and base is not None and best is not None
    if taken and target not in CALIBRATED:
        record["not_applied"] = f"the pipeline model is not calibrated for {target}"
        taken = False
    egraph_gain = (plan.cost_before.get("total_ns") or 0) - (plan.cost_after.get("total_ns") or 0)
    if taken and plan.choices and egraph_gain >= base.ns - best.ns:
        record["not_applied"] = f"the e-graph plan's predicted gain ({egraph_gain:.1f} ns) is larger"
        taken = False
    plan.extraction["transport"] = record
    if not taken:
        return plan, None
    params = {"mode": dec.chosen.mode, "stages": dec.chosen.stages, "loads": list(dec.chosen.tma_loads)}
    alts = [Alternative("transport", {"mode": a["mode"], "stages": a["stages"], "loads": a["tma_loads"]},
                        a["cost"], a["rejected"], f"transport.{a['mode']}") for a in summary["alternatives"]]
    choice = Choice(0, "transport", params, f"transport.{dec.chosen.mode}", base.to_json(), best.to_json(),
                    alts)
    if plan.choices:
        record["replaced_choices"] = [{"op": c.op, "kind": c.kind} for c in plan.choices]
    new = dataclasses.replace(plan, cost_before={**base.to_json(), "model": "pipeline"},
                              cost_after={**best.to_json(), "model": "pipeline"}, choices=[choice])
    return new, dec.chosen.ttgir
