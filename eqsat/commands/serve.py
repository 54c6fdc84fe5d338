"""`eqsat serve [--host 127.0.0.1] [--port 8000] [--data DIR] [--store FILE] [--workers N]
[--jobs-per-worker N] [--queue-size N] [--max-body BYTES] [--token T] [--executor local|ray]
[--ray-address ADDR]`: the optimizer as an HTTP service
(eqsat.service). The token may also come from $EQSAT_TOKEN; binding another host than loopback without a
token is refused."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from eqsat.errors import EqsatError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the optimizer as an HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data", default="eqsat-service", metavar="DIR", help="job inputs and run directories")
    p.add_argument("--store", metavar="FILE", help="run store (default DIR/store.sqlite)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="jobs run at once")
    p.add_argument("--jobs-per-worker", type=int, default=1, metavar="N",
                   help="kernel x target optimized in parallel within a job")
    p.add_argument("--queue-size", type=int, default=64, metavar="N",
                   help="unfinished jobs accepted before answering 429")
    p.add_argument("--max-body", type=int, default=4 << 20, metavar="BYTES", help="largest request body")
    p.add_argument("--token", default=os.environ.get("EQSAT_TOKEN"), help="require this bearer token")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where a job's kernels run: worker processes here, or Ray tasks")
    p.add_argument("--ray-address", metavar="ADDR", help="an existing Ray cluster (else $RAY_ADDRESS)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from eqsat.service.app import Settings, create_app
    from eqsat.service.executor import Executor

    for name in ("port", "workers", "jobs_per_worker", "queue_size", "max_body"):
        if getattr(args, name) < 1:
            raise EqsatError(f"--{name.replace('_', '-')} must be positive")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        raise EqsatError(f"refusing to serve on {args.host} without --token (or $EQSAT_TOKEN)")
    data = Path(args.data).resolve()
    if data.exists() and not data.is_dir():
        raise EqsatError("--data must be a directory", str(data))
    data.mkdir(parents=True, exist_ok=True)
    store = Path(args.store).resolve() if args.store else data / "store.sqlite"
    settings = Settings(store_path=store, data_dir=data, token=args.token, max_body_bytes=args.max_body,
                        max_queued=args.queue_size)
    app = create_app(settings)
    executor = Executor(store, data, args.workers, args.jobs_per_worker, args.executor, args.ray_address)
    again = executor.start()
    if again:
        print(f"resuming {len(again)} job(s) left running: {', '.join(again)}", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        executor.stop()
    return 0
