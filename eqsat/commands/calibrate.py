"""`eqsat calibrate`: measure the cost model's parameters on the GPU at hand and write its parameter file.

    eqsat calibrate [--device NAME] [--base TARGET] [--params FILE.toml] [--out FILE.json] [--probe PREFIX]
    eqsat calibrate --from-json FILE.json [--base TARGET] [--params FILE.toml]      (no GPU: refit only)

On a GPU (torch and triton only, like `eqsat bench`; `python benchmarks/gpu_calibrate.py` is the same
command where eqsat is not installed) it runs the probes of `eqsat.calibrate.probes` (global access by
width, stride and random rows, L2 vs HBM, L1 lines, shuffles, shared wavefronts by instruction width,
barriers, cp.async and TMA issue, launch overhead, the copy rate by occupancy), writes every time to
FILE.json (default `calibrate_<device>.json`) with a Markdown table beside it, fits the parameters
(`eqsat.calibrate.fit`) and writes them into the device's parameter file: FILE.toml, default
`costmodels/params/<device>.toml`, starting from that file when it exists, else from `--base`'s (h100 for
an sm_90 card; the Triton target is set from the device's compute capability). `--keep SECTION` leaves a
section as it is (its measurements stay in the JSON and the Markdown). Measured keys leave the
file's `assumed` list and their comments name the probe. `--target <device>` then uses them. The device
name defaults to `h100`/`h200` for those cards, else a slug of the CUDA device name.

Exit 0 on success; 2 for bad input or a machine without a CUDA GPU (one line, no traceback).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError

PARAMS_DIR = Path(__file__).resolve().parent.parent.parent / "costmodels" / "params"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="measure the cost model's parameters on this GPU, write costmodels/params/<device>.toml",
    )
    p.add_argument("--device", metavar="NAME", help="target name to write (default: from the CUDA device)")
    p.add_argument(
        "--base",
        metavar="TARGET",
        help="parameter file to start from when the device has none (default h100)",
    )
    p.add_argument(
        "--params", metavar="FILE.toml", help="where to write (default costmodels/params/<device>.toml)"
    )
    p.add_argument(
        "--out",
        metavar="FILE.json",
        help="measurements (default calibrate_<device>.json); a Markdown table is written beside it (.md)",
    )
    p.add_argument("--probe", action="append", metavar="PREFIX", help="only the probes whose names start so")
    p.add_argument("--from-json", metavar="FILE.json", help="refit from measurements already taken (no GPU)")
    p.add_argument("--rep-ms", type=int, default=60, help="do_bench repetition time per probe (default 60)")
    p.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="SECTION",
        help="leave this section of the parameter file as it is (repeat for several); its "
        "measurements stay in FILE.json",
    )
    p.set_defaults(func=run)


def device_slug(name: str) -> str:
    """`NVIDIA H200` -> h200, `NVIDIA H100 80GB HBM3` -> h100, else a lower-case slug of the name."""
    m = re.search(r"\b([HB]\d{3})\b", name, re.I)
    if m:
        return m.group(1).lower()
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "gpu"


def _read_json(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise EqsatError("file not found", file=path) from None
    except json.JSONDecodeError as e:
        raise EqsatError(f"not JSON: {e.msg}", file=path, line=e.lineno, column=e.colno) from None
    if not isinstance(data, dict) or not isinstance(data.get("probes"), dict) or "sms" not in data:
        raise EqsatError("not an eqsat calibrate report (needs 'probes' and 'sms')", file=path)
    return data


def base_text(device: str, base: str | None, capability: list[int] | None, params: Path) -> str:
    """The text to update: the existing file, else `base`'s (default h100) with the device's Triton target."""
    if params.is_file() and base is None:
        return params.read_text()
    src = PARAMS_DIR / f"{base or 'h100'}.toml"
    if not src.is_file():
        known = ", ".join(sorted(p.stem for p in PARAMS_DIR.glob("*.toml")))
        raise EqsatError(f"no parameter file for base target '{base}' (known: {known})")
    text = src.read_text()
    if capability:
        arch = capability[0] * 10 + capability[1]
        text = re.sub(
            r"^triton_target = .*$",
            f'triton_target = ["cuda", {arch}, 32]  # this device: sm_{arch}',
            text,
            count=1,
            flags=re.M,
        )
    return text


def write_params(
    report: dict[str, Any],
    device: str,
    base: str | None,
    params: Path,
    source: str,
    keep: list[str] | None = None,
) -> str:
    from eqsat.calibrate.fit import fit
    from eqsat.calibrate.params_file import update_text

    values = {
        k: v for k, v in fit(report).items() if not any(k == s or k.startswith(s + ".") for s in keep or [])
    }
    text = base_text(device, base, report.get("capability"), params)
    note = (
        f"eqsat calibrate on {report.get('device')} (sm_{''.join(map(str, report.get('capability') or []))}, "
        f"{report.get('date', '')}), measurements in {source}"
    )
    out = update_text(text, values, note)
    params.parent.mkdir(parents=True, exist_ok=True)
    params.write_text(out)
    return out


def run(args: argparse.Namespace) -> int:
    from eqsat.calibrate.markdown import markdown

    command = getattr(args, "command_line", None) or "eqsat " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.from_json:
        report = _read_json(args.from_json)
        out_json = Path(args.from_json)
    else:
        from eqsat.lowering.bench import require_gpu

        require_gpu()
        from eqsat.calibrate.run import run_probes

        partial_path = Path(args.out or "calibrate_partial.json").with_suffix(".partial.json")
        report = run_probes(
            args.probe,
            rep_ms=args.rep_ms,
            log=lambda line: print(line, flush=True),
            partial=lambda r: partial_path.write_text(json.dumps(r, indent=1) + "\n"),
        )
        partial_path.unlink(missing_ok=True)
        report["date"] = time.strftime("%Y-%m-%d", time.gmtime())
        report["command"] = command
    device = args.device or device_slug(report.get("device", "gpu"))
    if not args.from_json:
        out_json = Path(args.out or f"calibrate_{device}.json")
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(report, indent=1) + "\n")
    params = Path(args.params) if args.params else PARAMS_DIR / f"{device}.toml"
    write_params(report, device, args.base, params, out_json.name, args.keep)
    md = markdown(report, report.get("command") or command)
    if args.from_json:
        md += f"\nParameter file {params.name} written from these measurements by:\n\n    {command}\n"
    out_json.with_suffix(".md").write_text(md)
    print(f"calibrated {device}: {params} (measurements {out_json})")
    return 0
