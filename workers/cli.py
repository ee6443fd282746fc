"""`slamon worker`: the arq worker."""
from __future__ import annotations


def cmd_worker(args) -> int:
    from arq import run_worker

    from workers.settings import WorkerSettings

    run_worker(WorkerSettings)
    return 0


def add_commands(sub) -> None:
    sub.add_parser("worker", help="run the arq worker: rollup refresh, detection, SLOs, notifications").set_defaults(
        run=cmd_worker)
