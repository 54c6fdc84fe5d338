"""The service's metrics in the Prometheus text format (prometheus_client, one registry per app).

    eqsat_http_requests_total{method, route, status}      counter
    eqsat_http_request_seconds{method, route}             histogram
    eqsat_jobs_submitted_total                            counter
    eqsat_jobs{status}                                    gauge, read from the store at scrape time
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("eqsat_http_requests", "HTTP requests", ("method", "route", "status"),
                                registry=self.registry)
        self.latency = Histogram("eqsat_http_request_seconds", "HTTP request latency", ("method", "route"),
                                 registry=self.registry)
        self.submitted = Counter("eqsat_jobs_submitted", "jobs accepted", registry=self.registry)
        self.jobs = Gauge("eqsat_jobs", "jobs by status", ("status",), registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self, job_counts: dict[str, int]) -> str:
        for status in ("queued", "running", "done", "failed", "cancelled"):
            self.jobs.labels(status).set(job_counts.get(status, 0))
        return generate_latest(self.registry).decode()
