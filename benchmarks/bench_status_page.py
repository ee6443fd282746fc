"""The status page on its worst day: 400 concurrent clients against `slamon api --site status` (a real
uvicorn process) for 50 services x 90 days of minute checks with 30 incidents, measured side by side in
the same run with the trivial endpoints: `/api/health/live` (no database) and `/api/health` (one
`SELECT 1`, the same database round trip a status read makes for its version). For each of `/` and
`/api/system-status`: plain GETs, and GETs with `If-None-Match` (what a browser, a reverse proxy or a
CDN revalidating its copy sends). Two phases: quiet (nothing written: every read is served from
memory), then the worst day (a prober's flush of new checks every second and an incident update every
10 s while the page is read: the body changes every second and is built again once per change).

The clients are `wrk` (Debian's package; C, so the 400 clients cost the 2 cores little: each run
reports the share of a core they took, `client_cores`), one run per endpoint, one after the other.
Prints req/s, p50 and p99, the status codes seen, and the API process's CPU per request (user +
system, from /proc: the figure the machine's other load moves least); the goals (docs:
benchmarks/README.md): >= 1,000 req/s and p99 < 200 ms for the page and its JSON, the page within 3x
of the trivial endpoint (req/s).
With `BENCH_BASELINE=DIR` (another checkout, e.g. a worktree of `main`), a second API process is
started from DIR's code on the same database, and every run is made against both, alternating which
goes first, while the same writer writes: old and new code measured in the same run, under the same
load (`"baseline"` in the output, and the ratios `baseline_over_this` of req/s and CPU per request).
usage: python benchmarks/bench_status_page.py [days=90] [seconds=10] [clients=400]"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from bench_pages import add_incidents

from common import (
    connect,
    emit,
    floor_minute,
    int_setting,
    load_minute_checks,
    log,
    machine,
    scratch_database,
    server_versions,
    settle,
    utc_now,
)

from app.incidents import queries as incident_queries
from app.ingest.service import CheckRow, write_checks
from app.rollups import service as rollups

ROOT = Path(__file__).resolve().parent.parent
GOAL_REQ_PER_S = 1000
GOAL_P99_MS = 200
GOAL_TIMES_TRIVIAL = 3
# Counts the status codes wrk saw (its own summary only counts "non-2xx or 3xx").
WRK_SCRIPT = """
counts = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d %d\\n", status, n)) end
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit], 2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (/proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the children waited for: each wrk run
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, seconds: int, clients: int, script: Path, api_pid: int, headers: dict[str, str] | None = None):
    """One wrk run, with the CPU the API process and wrk itself used in it: what a request costs the
    server whatever else the machine runs, and what the clients take of the same 2 cores."""
    command = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    api_before, client_before, started = cpu_seconds(api_pid), children_cpu_seconds(), time.monotonic()
    run = subprocess.run([*command, url], capture_output=True, text=True)
    wall = time.monotonic() - started
    api_cpu, client_cpu = cpu_seconds(api_pid) - api_before, children_cpu_seconds() - client_before
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed: {run.stderr or run.stdout}")
    out = run.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if len(latency) != 2:
        raise RuntimeError(f"no latency distribution in wrk's output:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {
        "req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "statuses": {code: int(n) for code, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)},
        "socket_errors": (re.search(r"Socket errors: (.*)$", out, re.M) or [None, None])[1],
        # CPU per request of the API process (user + system: the loopback sends count too), and the
        # share of one core the API and the wrk clients each had over the run
        "api_cpu_ms_per_request": round(1000 * api_cpu / max(requests, 1), 3),
        "api_cores": round(api_cpu / wall, 2),
        "client_cores": round(client_cpu / wall, 2),
    }


class Writer:
    """The worst day's writes while the page is read: one service's new slot a second (50 services
    checked every minute), through the ingest as a prober's flush; an incident update every 10 s."""

    def __init__(self, url: str, service_ids: list[str], incident_id: str):
        self.url, self.service_ids, self.incident_id = url, service_ids, incident_id
        self.writes = 0

    async def run(self) -> None:
        conn = await connect(self.url)
        try:
            while True:
                now = datetime.now(timezone.utc).replace(microsecond=0)
                service_id = self.service_ids[self.writes % len(self.service_ids)]
                await write_checks(conn, [CheckRow(now, service_id, "default", True, 200, 150)], now=now)
                if self.writes % 10 == 0:
                    await conn.execute(
                        incident_queries.INSERT_UPDATE_AT, self.incident_id, "investigating", f"update {self.writes}",
                        "ops", now,
                    )  # fmt: skip
                self.writes += 1
                await asyncio.sleep(1)
        finally:
            await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_api(url: str, data_dir: str, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`slamon api --site status` of the code in `root` (`python -m` imports `app` from its working
    directory first)."""
    port = free_port()
    env = {**os.environ, "SLAMON_DATABASE_URL": url, "SLAMON_DATA_DIR": data_dir}
    api = subprocess.Popen(  # noqa: ASYNC220 — started once, before any measurement; never waited on here
        [sys.executable, "-m", "app.cli", "api", "--site", "status", "--port", str(port)], cwd=root, env=env
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(600):
            try:
                if (await http.get("/api/health")).status_code == 200:
                    return api, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    api.terminate()
    raise RuntimeError("slamon api did not start")


def _ratios(results: dict) -> None:
    for name in ("system_status", "page"):
        for trivial in ("health_live", "health"):
            ratio = results[trivial]["req_per_s"] / max(results[name]["req_per_s"], 0.1)
            results[name][f"{trivial}_over_this"] = round(ratio, 2)
        # the same comparison by the server's CPU per request: what the machine's load does not move
        cost = results[name]["api_cpu_ms_per_request"] / max(results["health_live"]["api_cpu_ms_per_request"], 1e-6)
        results[name]["cpu_over_health_live"] = round(cost, 2)


async def phase(apis: dict[str, tuple[str, int]], seconds: int, clients: int, script: Path) -> dict[str, dict]:
    """Every run against each API (`apis`: label -> (base URL, pid)), alternating which goes first."""
    browser = {"Accept-Language": "en", "Accept-Encoding": "gzip"}  # what browsers and CDNs send
    etags = {}
    for label, (base, _) in apis.items():
        async with httpx.AsyncClient(base_url=base, timeout=60, headers=browser) as http:
            etags[label] = {path: (await http.get(path)).headers["etag"] for path in ("/", "/api/system-status")}
    runs = {
        "health_live": ("/api/health/live", browser, None),
        "health": ("/api/health", browser, None),
        "system_status": ("/api/system-status", browser, None),
        "system_status_if_none_match": ("/api/system-status", browser, "/api/system-status"),
        "page": ("/", browser, None),
        "page_if_none_match": ("/", browser, "/"),
    }
    results: dict[str, dict] = {label: {} for label in apis}
    for n, (name, (path, headers, etag_of)) in enumerate(runs.items()):
        labels = list(apis) if n % 2 == 0 else list(reversed(apis))
        for label in labels:
            base, pid = apis[label]
            sent = headers if etag_of is None else {**headers, "If-None-Match": etags[label][etag_of]}
            results[label][name] = await asyncio.to_thread(wrk, base + path, seconds, clients, script, pid, sent)
            log(f"  {label} {name}: {results[label][name]}")
            await asyncio.sleep(2)  # what a run left queued in the server is done before the next starts
    for runs_of in results.values():
        _ratios(runs_of)
    if "baseline" in results:
        for name, this in results["this"].items():
            old = results["baseline"][name]
            this["baseline_req_per_s_over_this"] = round(old["req_per_s"] / max(this["req_per_s"], 0.1), 2)
            this["baseline_cpu_over_this"] = round(
                old["api_cpu_ms_per_request"] / max(this["api_cpu_ms_per_request"], 1e-6), 2
            )
    return results


def baseline_root() -> Path | None:
    """BENCH_BASELINE: the checkout whose code is measured beside this one's."""
    return Path(os.environ["BENCH_BASELINE"]).resolve() if os.environ.get("BENCH_BASELINE") else None


async def main() -> None:
    days = int_setting(1, "BENCH_DAYS", 90)
    seconds = int_setting(2, "BENCH_SECONDS", 10)
    clients = int_setting(3, "BENCH_CLIENTS", 400)
    baseline = baseline_root()
    load_before = os.getloadavg()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk; scripts/system-deps.sh installs it)")
    async with scratch_database("status_page") as (url, service_ids):
        now = utc_now()
        conn = await connect(url)
        t = time.perf_counter()
        loaded = await load_minute_checks(conn, service_ids, floor_minute(now) - timedelta(days=days), days, now)
        log(f"loaded {loaded} checks in {time.perf_counter() - t:.1f}s")
        await add_incidents(conn, service_ids, now)
        open_incident = await conn.fetchval("SELECT id FROM incidents WHERE status <> 'resolved' LIMIT 1")
        await rollups.refresh(conn, "UTC", utc_now())
        await settle(conn)
        versions = await server_versions(conn)
        await conn.close()
        with tempfile.TemporaryDirectory() as data_dir:
            script = Path(data_dir) / "statuses.lua"
            script.write_text(WRK_SCRIPT)
            processes: list[subprocess.Popen] = []
            try:
                apis = {}
                for label, root in (("this", ROOT), ("baseline", baseline)):
                    if root is not None:
                        api, base = await start_api(url, data_dir, root)
                        processes.append(api)
                        apis[label] = (base, api.pid)
                log("quiet: nothing written")
                quiet = await phase(apis, seconds, clients, script)
                log("worst day: a new slot every second, an incident update every 10 s")
                writer = Writer(url, service_ids, open_incident)
                writing = asyncio.create_task(writer.run())
                try:
                    busy = await phase(apis, seconds, clients, script)
                finally:
                    writing.cancel()
                    await asyncio.gather(writing, return_exceptions=True)
            finally:
                for api in processes:
                    api.terminate()
                    api.wait(timeout=30)
    load = os.getloadavg()
    emit(
        {
            "bench": "status_page",
            "services": len(service_ids),
            "days": days,
            "checks": loaded,
            "clients": clients,
            "seconds_per_run": seconds,
            "quiet": quiet["this"],
            "worst_day": busy["this"],
            **(
                {"baseline": {"root": str(baseline), "quiet": quiet["baseline"], "worst_day": busy["baseline"]}}
                if baseline is not None
                else {}
            ),
            "worst_day_writes": writer.writes,
            "goals": {
                "req_per_s": GOAL_REQ_PER_S,
                "p99_ms": GOAL_P99_MS,
                "trivial_over_page_at_most": GOAL_TIMES_TRIVIAL,
            },
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load],
            "machine": machine(),
            "server": versions,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
