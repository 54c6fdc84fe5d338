"""The optimizer as a service (`eqsat serve`): an HTTP API in front of a persistent job queue.

    app.py       the FastAPI routes, request models (OpenAPI), limits, auth and one-line errors
    jobs.py      the job queue in the run store (SQLite WAL): submit, claim, progress, cancel, recover
    executor.py  threads that run each job in a child process through eqsat.optimize.optimize_paths
    metrics.py   Prometheus metrics

Jobs and their runs live in the run store (eqsat.store) and under the data directory
(`<data>/jobs/<id>/{inputs,run}`); the server holds nothing that a restart would lose.
"""
