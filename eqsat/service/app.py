"""The HTTP API of `eqsat serve` (FastAPI; the OpenAPI spec is served at /openapi.json).

    POST   /v1/jobs               IR text of one or many kernels (TTGIR or TTIR, each with the shape it
                                  runs at), or a named corpus; targets and limits -> 202 {"id", ...}
    GET    /v1/jobs/{id}          status, progress (kernel x target done of total), attempts, error
    GET    /v1/jobs/{id}/plans    every kernel x target of a finished job: its run.json row and plan
    GET    /v1/jobs/{id}/report   the HTML report of a finished job (eqsat.report)
    DELETE /v1/jobs/{id}          cancel (a queued job at once, a running one when its executor sees it)
    GET    /v1/rules | /v1/targets | /healthz | /metrics (Prometheus text format)

Security: IR text only, never Python (a named corpus is one of the installation's own manifests); each
kernel's IR is verified by Triton's parser at submission (a bad one is a 422 naming the kernel and the
line); bodies over `max_body_bytes` get 413; a full queue 429; with a token, every route but /healthz
wants `Authorization: Bearer <token>` (401). Every error is JSON `{"error": "<one line>"}` with a 4xx
status; an unexpected exception is logged and answered with a 500 of the same form, never a traceback.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from eqsat.errors import EqsatError
from eqsat.service.jobs import JobQueue, QueueFull
from eqsat.service.metrics import Metrics
from eqsat.targets import TARGETS

log = logging.getLogger("eqsat.service")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
CORPORA_DIR = Path(__file__).resolve().parents[2] / "corpora"
_verify_lock = threading.Lock()  # Triton's diagnostics are read from fd 2: one verification at a time


class LaunchIn(BaseModel):
    """The shape a kernel runs at: its program grid and the values of its integer arguments (by name).
    Prices scale to the grid; guards of masked accesses and loop trip counts read the values."""

    grid: list[int] = Field(min_length=1, max_length=3, description="programs per grid dimension")
    args: dict[str, int] = Field(default_factory=dict, max_length=256,
                                 description="integer runtime arguments by parameter name")

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: list[int]) -> list[int]:
        if any(g < 1 or g > 2**31 - 1 for g in v):
            raise ValueError("every grid dimension is between 1 and 2^31 - 1")
        return v

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, int]) -> dict[str, int]:
        for name, value in v.items():
            if not NAME.match(name):
                raise ValueError(f"'{name[:40]}' is not a parameter name")
            if not -(2**63) <= value < 2**63:
                raise ValueError(f"argument '{name}' does not fit in 64 bits")
        return v


class KernelIn(BaseModel):
    name: str = Field(description="kernel name: letters, digits, _ . - (1-100 characters)")
    ir: str = Field(description="the TTGIR or TTIR text", min_length=1)
    format: Literal["ttgir", "ttir"] = "ttgir"
    launch: LaunchIn | None = Field(None, description="the shape it runs at (default: one program)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("a kernel name is 1-100 letters, digits, '_', '.' or '-', not starting with a "
                             "digit, '.' or '-'")
        return v


class Limits(BaseModel):
    timeout_s: float = Field(10.0, gt=0, le=600, description="saturation time limit per kernel x target")
    kernel_timeout_s: float = Field(120.0, gt=0, le=3600, description="wall clock per kernel x target")
    node_limit: int = Field(20_000, ge=1, le=200_000)
    min_gain_pct: float = Field(2.0, ge=0, le=100)


class JobRequest(BaseModel):
    kernels: list[KernelIn] | None = Field(None, max_length=256)
    corpus: str | None = Field(None, description="a corpus manifest of this installation (corpora/NAME.toml)")
    targets: list[str] = Field(default_factory=lambda: ["h100"], min_length=1, max_length=4)
    limits: Limits = Field(default_factory=Limits)


class JobOut(BaseModel):
    id: str
    status: str
    created_at: float
    updated_at: float
    attempts: int
    progress: dict[str, int]
    error: str | None
    run_id: str | None


class ErrorOut(BaseModel):
    error: str


@dataclass
class Settings:
    store_path: Path
    data_dir: Path
    token: str | None = None
    max_body_bytes: int = 4 << 20
    max_queued: int = 64
    metrics: Metrics = field(default_factory=Metrics)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def _job_out(job: dict[str, Any]) -> dict[str, Any]:
    return {"id": job["id"], "status": job["status"], "created_at": job["created_at"],
            "updated_at": job["updated_at"], "attempts": job["attempts"],
            "progress": {"done": job["done"], "total": job["total"]}, "error": job["error"],
            "run_id": job["run_id"]}


def corpora() -> dict[str, Path]:
    return {p.stem: p for p in sorted(CORPORA_DIR.glob("*.toml"))}


def _validate(req: JobRequest) -> None:
    if (req.kernels is None) == (req.corpus is None):
        raise ApiError(422, "give either 'kernels' (IR text) or 'corpus' (a name), not both or neither")
    for t in req.targets:
        if t not in TARGETS:
            raise ApiError(422, f"unknown target '{t}' (known: {', '.join(TARGETS)})")
    if req.corpus is not None and req.corpus not in corpora():
        raise ApiError(422, f"unknown corpus '{req.corpus}' (known: {', '.join(corpora())})")
    if req.kernels is not None:
        if not req.kernels:
            raise ApiError(422, "'kernels' is empty")
        names = [k.name for k in req.kernels]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ApiError(422, f"kernel names must be unique: {', '.join(dup)}")
        from eqsat.ir.verify import triton_verify

        for k in req.kernels:
            try:
                with _verify_lock:
                    triton_verify(k.ir, f"{k.name}.{k.format}", suffix=f".{k.format}")
            except EqsatError as e:
                raise ApiError(422, _one_line(str(e))) from None


def create_app(settings: Settings) -> FastAPI:
    from eqsat import __version__

    queue = JobQueue(settings.store_path, settings.data_dir, settings.max_queued)
    metrics = settings.metrics
    from eqsat.ir.verify import triton_verify  # noqa: F401 - libtriton loaded before the first request
    from eqsat.rules import all_rules

    rule_list = [{"name": r.name, "family": r.family, "doc": r.doc, "soundness": r.soundness,
                  "plan_choice": r.plan_choice} for r in all_rules()]
    app = FastAPI(title="eqsat", version=__version__,
                  description="Equality-saturation optimizer for the data movement of Triton kernels.")
    app.state.settings = settings
    app.state.queue = queue

    @app.middleware("http")
    async def guard(request: Request, call_next):  # size limit, auth, metrics
        t0 = time.perf_counter()
        response = await _guarded(request, call_next)
        route = request.scope.get("route")
        metrics.observe(request.method, getattr(route, "path", "unmatched"), response.status_code,
                        time.perf_counter() - t0)
        return response

    async def _guarded(request: Request, call_next) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return _error(413, f"request body over {settings.max_body_bytes} bytes")
        if settings.token and request.url.path != "/healthz":
            auth = request.headers.get("authorization", "")
            if not hmac.compare_digest(auth.encode(), f"Bearer {settings.token}".encode()):
                return _error(401, "missing or wrong bearer token")
        if request.method in ("POST", "PUT", "PATCH") and length is None:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > settings.max_body_bytes:
                    return _error(413, f"request body over {settings.max_body_bytes} bytes")
            request._body = body  # starlette reads it from here
        try:
            return await call_next(request)
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("internal error on %s %s", request.method, request.url.path)
            return _error(500, "internal error (logged by the server)")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return _error(e.status, e.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
        return _error(422, _one_line(f"{where}: {first.get('msg', 'invalid request')}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        msg = {404: "no such route", 405: "method not allowed"}.get(e.status_code, str(e.detail))
        return _error(e.status_code, msg)

    responses: dict[int | str, dict[str, Any]] = {
        c: {"model": ErrorOut} for c in (401, 404, 409, 413, 422, 429)}

    @app.post("/v1/jobs", status_code=202, response_model=JobOut, responses=responses)
    def submit(req: JobRequest) -> dict[str, Any]:
        _validate(req)
        try:
            job = queue.submit(req.model_dump())
        except QueueFull as e:
            raise ApiError(429, str(e)) from None
        metrics.submitted.inc()
        return _job_out(job)

    def _job(job_id: str) -> dict[str, Any]:
        job = queue.get(job_id) if re.fullmatch(r"[0-9a-f]{16}", job_id) else None
        if job is None:
            raise ApiError(404, f"no job '{_one_line(job_id)[:40]}'")
        return job

    def _finished(job_id: str) -> dict[str, Any]:
        job = _job(job_id)
        if job["status"] != "done":
            raise ApiError(409, f"job {job_id} is {job['status']}, not done"
                           + (f": {job['error']}" if job["error"] else ""))
        return job

    @app.get("/v1/jobs/{job_id}", response_model=JobOut, responses=responses)
    def status(job_id: str) -> dict[str, Any]:
        return _job_out(_job(job_id))

    @app.get("/v1/jobs/{job_id}/plans", responses=responses)
    def plans(job_id: str) -> dict[str, Any]:
        job = _finished(job_id)
        run_dir = Path(job["run_dir"])
        rows = json.loads((run_dir / "run.json").read_text())
        from eqsat.store.index import plans_of

        found = plans_of(run_dir)
        return {"id": job_id, "run_id": job["run_id"],
                "kernels": [{**r, "plan": found.get((r["kernel"], r["target"]), (None, None))[1]}
                            for r in rows]}

    @app.get("/v1/jobs/{job_id}/report", response_class=HTMLResponse, responses=responses)
    def report(job_id: str) -> HTMLResponse:
        job = _finished(job_id)
        from eqsat.report import render
        from eqsat.report.data import report_data
        from eqsat.store import open_store

        with open_store(settings.store_path) as store:
            return HTMLResponse(render(report_data(store, job["run_id"]), "html"))

    @app.delete("/v1/jobs/{job_id}", response_model=JobOut, responses=responses)
    def cancel(job_id: str) -> dict[str, Any]:
        _job(job_id)
        return _job_out(queue.cancel(job_id))  # type: ignore[arg-type]

    @app.get("/v1/rules")
    def rules() -> list[dict[str, str]]:
        return rule_list

    @app.get("/v1/targets")
    def targets() -> list[dict[str, Any]]:
        return [{"name": t.name, "triton": t.triton_name} for t in TARGETS.values()]

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "jobs": queue.counts()}

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(queue.counts()),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": _one_line(message)}, status_code=status)
