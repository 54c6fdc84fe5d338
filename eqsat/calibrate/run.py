"""Launch and time every probe of eqsat/calibrate/probes.py on the GPU at hand (torch + triton only).

Per probe: its tensors are allocated and filled with random data (never zeros; buffers of equal size and
dtype are shared between probes), the kernel is launched once (compile, warm-up), then timed with
`triton.testing.do_bench` (medians; L2 flushed before each launch; the probes that measure a cache re-read
their footprint inside the kernel, so the flush only costs their first pass). `clock` also reads its output:
elapsed %clock64 cycles over %globaltimer ns per CTA, the median taken. The result is JSON-able:

    {"device", "capability", "sms", "l2_bytes", "torch", "triton", "probes": {name: {"ms", "runs_ms",
     "work", "kernel", "grid", "num_warps", ...}}}
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from eqsat.calibrate.probes import Probe, probes

TORCH_DTYPES = ("float32", "float16", "int8", "int32", "int64")


class _Buffers:
    """Random tensors shared between probes that ask for the same (numel, dtype, init)."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.pool: dict[tuple[int, str, str], Any] = {}

    def get(self, numel: int, dtype: str, init: str) -> Any:
        key = (numel, dtype, init)
        if key not in self.pool:
            torch = self.torch
            dt = getattr(torch, dtype)
            if init == "rand":
                if dt.is_floating_point:
                    t = torch.rand(numel, device="cuda", dtype=torch.float32).to(dt)
                else:
                    t = torch.randint(1, 100, (numel,), device="cuda", dtype=dt)
            elif init.startswith("randint:"):
                t = torch.randint(0, int(init.split(":")[1]), (numel,), device="cuda", dtype=dt)
            else:
                t = torch.full((numel,), 7, device="cuda", dtype=dt)
            self.pool[key] = t
        return self.pool[key]

    def drop_large(self, limit: int = 1 << 30) -> None:
        for k in [k for k, t in self.pool.items() if t.numel() * t.element_size() >= limit]:
            del self.pool[k]
        self.torch.cuda.empty_cache()


def _launcher(p: Probe, bufs: _Buffers) -> Callable[[], None]:
    import triton.language as tl

    from eqsat.calibrate.kernels import KERNELS

    fn = KERNELS[p.kernel]
    kwargs: dict[str, Any] = {a: bufs.get(*spec) for a, spec in p.tensors.items()}
    kwargs.update(p.ints)
    for k, v in p.constexprs.items():
        kwargs[k] = getattr(tl, v) if k == "DTYPE" else v
    grid = (p.grid,)

    def launch() -> None:
        fn[grid](**kwargs, num_warps=p.num_warps, num_stages=p.num_stages)

    return launch


def run_probes(
    names: list[str] | None = None,
    rep_ms: int = 60,
    log: Callable[[str], None] = print,
    partial: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Time every probe (or those named); the report as a JSON-able dict. `partial`, if given, gets the
    report so far after each probe (so a run cut short still leaves its measurements)."""
    import torch
    import triton
    from triton.testing import do_bench

    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count
    from eqsat.lowering.loader import ensure_allocator

    ensure_allocator()
    bufs = _Buffers(torch)
    out: dict[str, Any] = {}
    todo = [p for p in probes(sms) if not names or any(p.name.startswith(n) for n in names)]
    for p in todo:
        t0 = time.perf_counter()
        rec: dict[str, Any] = {
            "kernel": p.kernel,
            "grid": p.grid,
            "num_warps": p.num_warps,
            "num_stages": p.num_stages,
            "work": p.work,
        }
        try:
            launch = _launcher(p, bufs)
            launch()
            torch.cuda.synchronize()
            runs = [do_bench(launch, warmup=10, rep=rep_ms, return_mode="median") for _ in range(3)]
            rec["ms"] = statistics.median(runs)
            rec["runs_ms"] = runs
            if p.name == "clock":
                o = bufs.get(*p.tensors["out_ptr"]).view(-1, 3)
                cycles, ns = o[:, 0].double(), o[:, 1].double()
                ok = ns > 0
                rec["ghz_per_cta"] = statistics.median((cycles[ok] / ns[ok]).tolist())
                rec["cycles_median"] = float(cycles.median())
                rec["ns_median"] = float(ns.median())
        except Exception as e:  # noqa: BLE001 - one probe fails alone
            rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        rec["seconds"] = round(time.perf_counter() - t0, 2)
        out[p.name] = rec
        log(f"{p.name:22} " + (f"{rec['ms'] * 1e3:10.2f} us" if "ms" in rec else f"ERROR {rec['error']}"))
        if partial is not None:
            partial(_report(torch, triton, props, rep_ms, out))
    bufs.pool.clear()
    torch.cuda.empty_cache()
    return _report(torch, triton, props, rep_ms, out)


def _report(torch: Any, triton: Any, props: Any, rep_ms: int, probes_done: dict[str, Any]) -> dict[str, Any]:
    cap = torch.cuda.get_device_capability()
    return {
        "device": torch.cuda.get_device_name(),
        "capability": list(cap),
        "sms": props.multi_processor_count,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "rep_ms": rep_ms,
        "probes": dict(probes_done),
    }
