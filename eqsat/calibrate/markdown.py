"""The Markdown page of an `eqsat calibrate` report: the fitted parameters, the derived rates, every probe."""

from __future__ import annotations

from typing import Any


def _f(v: Any, spec: str = ".4g") -> str:
    return "-" if v is None else format(v, spec)


def markdown(report: dict[str, Any], command: str = "") -> str:
    from eqsat.calibrate.fit import derived, fit, spread, summary_rows

    d = derived(report)
    out = [f"# eqsat calibrate: {report.get('device')}", ""]
    if command:
        out += ["Command:", "", f"    {command}", ""]
    out += [
        f"Device: {report.get('device')} (sm_{''.join(map(str, report.get('capability') or []))}, "
        f"{report.get('sms')} SMs, L2 {_f((report.get('l2_bytes') or 0) / 2**20, '.0f')} MiB), torch "
        f"{report.get('torch')}, triton {report.get('triton')}. Each probe: 3 `do_bench` medians "
        f"({report.get('rep_ms')} ms each), their median; largest spread of the three "
        f"{100 * spread(report):.1f}%.",
        "",
        "## Fitted parameters",
        "",
        "| key | value | measurement |",
        "| --- | --- | --- |",
    ]
    for k, (v, c) in fit(report).items():
        out.append(f"| `{k}` | {v} | {c} |")
    out += [
        "",
        "## Global loads by width and level (streaming reads)",
        "",
        "| probe | GB/s | warp instructions / clk / SM | 128 B lines / clk / SM |",
        "| --- | ---: | ---: | ---: |",
    ]
    for k, r in d["read"].items():
        out.append(
            f"| read.{k} | {_f(r['GBps'], '.0f')} | {_f(r['instructions_per_clock'], '.3f')} | "
            f"{_f(r['lines_per_clock'], '.3f')} |"
        )
    out += [
        "",
        "## Copy rate by occupancy (1 GiB, CTAs of 4 warps)",
        "",
        "| warps / SM | GB/s |",
        "| ---: | ---: |",
    ]
    for k, v in d["copy"].items():
        out.append(f"| {k} | {_f(v, '.0f')} |")
    out += [
        "",
        "## Strided and random-row (indirect) reads",
        "",
        "| probe | useful GB/s | sector GB/s | lines / clk / SM |",
        "| --- | ---: | ---: | ---: |",
    ]
    for k, r in d["strided"].items():
        out.append(
            f"| strided.{k} | {_f(r['GBps_useful'], '.0f')} | {_f(r['sector_GBps'], '.0f')} | "
            f"{_f(r['lines_per_clock'], '.3f')} |"
        )
    for k, r in d["gather"].items():
        out.append(f"| gather.{k} | {_f(r['GBps_useful'], '.0f')} | {_f(r['sector_GBps'], '.0f')} | - |")
    out += [
        "",
        "## Shared memory by instruction width (barrier loop taken off)",
        "",
        "| probe | clocks / instruction | wavefronts / clk / SM | modelled wavefronts / instr | measured |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for k, r in d["shared"].items():
        out.append(
            f"| shared.{k} | {_f(r['clocks_per_instruction'], '.3f')} | "
            f"{_f(r['wavefronts_per_clock'], '.3f')} "
            f"| {_f(r['modelled_wavefronts_per_instruction'], '.2f')} | "
            f"{_f(r.get('measured_wavefronts_per_instruction'), '.2f')} |"
        )
    out += [
        "",
        "## Async copies (SM time per copy, 8 CTAs per SM, L2-resident source)",
        "",
        "| probe | 4 KiB ns | 8 KiB ns | fixed ns | ns per KiB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label in ("cp_async", "sync_copy", "tma", "ptr"):
        if label in d:
            r = d[label]
            per = r["ns_per_copy_per_sm"]
            out.append(
                f"| {label} | {_f(per.get(4096), '.2f')} | {_f(per.get(8192), '.2f')} | "
                f"{_f(r['fixed_ns'], '.2f')} | {_f(r['ns_per_kib'], '.3f')} |"
            )
    out += ["", "## Every probe", "", "| probe | us | launch |", "| --- | ---: | --- |"]
    for n, us, what in summary_rows(report):
        out.append(f"| {n} | {us:.2f} | {what} |")
    errors = [(n, r["error"]) for n, r in report["probes"].items() if "error" in r]
    if errors:
        out += ["", "Failed probes:", ""] + [f"- {n}: {e}" for n, e in errors]
    return "\n".join(out) + "\n"
