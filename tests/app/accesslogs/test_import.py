"""`slamon import access-log`: real ALB and nginx log files written here (plain and gzip), imported by
the real command into the test database; idempotent on re-import, bad lines named by file and line."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "face-compare"
# (method, url path with query, status, target seconds, elb status) of the calls behind the load balancer
CALLS = [
    ("GET", "/api/v1/agents?page=2", 200, "0.043"),
    ("POST", "/api/v1/agents/7/execute", 201, "0.9185"),
    ("GET", "/api/v1/agents/7", 404, "0.002"),
    ("GET", "/api/v1/agents", 502, "-1"),  # no target answered
]


def slamon(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLAMON_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "import", "access-log", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def alb_line(received: datetime, method: str, path: str, status: int, target_s: str) -> str:
    """An entry of the documented ALB access-log format (all fields, through the newest ones)."""
    ms = 3  # ALB writes times in seconds with millisecond precision
    processing = f"0.001 {target_s} 0.000" if target_s != "-1" else "-1 -1 -1"
    answered = received + timedelta(seconds=0.5 if target_s == "-1" else 0.001 + float(target_s))
    target = "10.0.0.1:80" if target_s != "-1" else "-"
    target_status = str(status) if target_s != "-1" else "-"
    return (
        f"https {answered.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} app/my-loadbalancer/50dc6c495c0c9188 "
        f"192.168.131.39:2817 {target} {processing} {status} {target_status} 34 366 "
        f'"{method} https://api.example.com:443{path} HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
        "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
        f'"Root=1-58337262-36d228ad5d99923122bbe3{ms:02d}" "api.example.com" '
        '"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 '
        f'{received.strftime("%Y-%m-%dT%H:%M:%S.%fZ")} "forward" "-" "-" "{target}" "{target_status}" "-" "-" '
        "TID_1234abcd"
    )


def nginx_line(ended: datetime, method: str, path: str, status: int, request_s: str) -> str:
    """log_format slamon_combined '$remote_addr - $remote_user [$time_local] "$request" $status
    $body_bytes_sent "$http_referer" "$http_user_agent" $request_time';"""
    return (
        f'203.0.113.9 - - [{ended.strftime("%d/%b/%Y:%H:%M:%S %z")}] "{method} {path} HTTP/1.1" {status} 612 '
        f'"-" "Mozilla/5.0 (X11; Linux x86_64)" {request_s}'
    )


async def stored(conn):
    return [
        (r["ts"], r["method"], r["endpoint"], r["status_code"], r["latency_ms"])
        for r in await conn.fetch(
            "SELECT ts, method, endpoint, status_code, latency_ms FROM api_calls WHERE service_id = $1 "
            "ORDER BY ts, endpoint",
            SERVICE,
        )
    ]


async def test_alb_gzip_logs_import_once_with_bad_lines_named(conn, database_url, tmp_path):
    start = datetime.now(timezone.utc).replace(microsecond=250_000) - timedelta(days=2)
    lines = [alb_line(start + timedelta(minutes=i), *call) for i, call in enumerate(CALLS)]
    lines.insert(2, "https 2025-01-01T00:00:00Z truncated entry")  # line 3
    lines.append(alb_line(start + timedelta(days=5), "GET", "/future", 200, "0.010"))  # line 6: not yet happened
    path = tmp_path / "123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    first = slamon(database_url, "--service", SERVICE, str(path))
    assert first.returncode == 1, first.stderr  # some lines bad, the rest imported
    assert f"{path}:3: not an ALB access-log entry" in first.stderr
    assert f"{path}:6: ts:" in first.stderr and "in the future" in first.stderr
    assert f"{path} (alb): 6 lines, 4 imported, 0 already stored, 2 bad" in first.stdout
    expected = [
        (start, "GET", "/api/v1/agents", 200, 44),  # 0.001 + 0.043 + 0.000 s
        (start + timedelta(minutes=1), "POST", "/api/v1/agents/7/execute", 201, 920),  # 0.9195 s, half up
        (start + timedelta(minutes=2), "GET", "/api/v1/agents/7", 404, 3),
        (start + timedelta(minutes=3), "GET", "/api/v1/agents", 502, 500),  # -1: time - request_creation_time
    ]
    assert await stored(conn) == expected

    again = slamon(database_url, "--service", SERVICE, "--format", "alb", str(path))
    assert again.returncode == 1
    assert f"{path} (alb): 6 lines, 0 imported, 4 already stored, 2 bad" in again.stdout
    assert await stored(conn) == expected


async def test_nginx_identical_lines_stay_two_calls_and_copies_add_nothing(conn, database_url, tmp_path):
    ended = datetime.now(timezone(timedelta(hours=9))).replace(microsecond=0) - timedelta(hours=3)
    same = nginx_line(ended, "GET", "/api/v1/agents?x=1", 200, "0.0125")
    lines = [
        nginx_line(ended - timedelta(seconds=5), "POST", "/api/v1/agents/7/execute", 503, "1.250"),
        same,
        same,  # two equal requests in the same second
        '198.51.100.4 - - [01/Jan/2026:00:00:00 +0000] "\\x16\\x03\\x01" 400 157 "-" "-" 0.001',  # line 4
        "",
        nginx_line(ended, "GET", "/api/v1/agents/7", 499, "0.300"),
    ]
    plain = tmp_path / "access.log"
    plain.write_text("\n".join(lines) + "\n")
    rotated = tmp_path / "access.log.1.gz"
    rotated.write_bytes(gzip.compress(plain.read_bytes()))

    first = slamon(database_url, "--service", SERVICE, str(plain))
    assert first.returncode == 1
    assert f"{plain}:4: request '\\\\x16\\\\x03\\\\x01' is not 'METHOD URL PROTOCOL'" in first.stderr
    assert f"{plain} (nginx): 5 lines, 4 imported, 0 already stored, 1 bad" in first.stdout
    utc = ended.astimezone(timezone.utc)
    expected = [
        (utc - timedelta(seconds=5), "POST", "/api/v1/agents/7/execute", 503, 1250),
        (utc, "GET", "/api/v1/agents", 200, 13),
        (utc, "GET", "/api/v1/agents", 200, 13),
        (utc, "GET", "/api/v1/agents/7", 499, 300),
    ]
    assert await stored(conn) == expected

    copy = slamon(database_url, "--service", SERVICE, "--format", "nginx", str(rotated), str(plain))
    assert f"{rotated} (nginx): 5 lines, 0 imported, 4 already stored, 1 bad" in copy.stdout
    assert await stored(conn) == expected


async def test_a_clean_file_exits_0_and_usage_errors_exit_2(conn, database_url, tmp_path):
    path = tmp_path / "access.log"
    path.write_text(nginx_line(datetime.now(timezone.utc) - timedelta(hours=1), "GET", "/", 200, "0.001") + "\n")
    done = slamon(database_url, "--service", SERVICE, str(path))
    assert done.returncode == 0, done.stderr
    assert "1 imported" in done.stdout

    unknown = slamon(database_url, "--service", "nope", str(path))
    assert unknown.returncode == 2 and "unknown or archived service 'nope'" in unknown.stderr
    missing = slamon(database_url, "--service", SERVICE, str(tmp_path / "absent.log"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    other = tmp_path / "syslog"
    other.write_text("Dec  3 12:00:00 host kernel: something\n")
    unknown_format = slamon(database_url, "--service", SERVICE, str(other))
    assert unknown_format.returncode == 1 and f"{other}:1: neither an ALB nor an nginx line" in unknown_format.stderr
    assert len(await stored(conn)) == 1


@pytest.mark.parametrize(
    "line, problem",
    [
        (nginx_line(datetime(2026, 1, 1, tzinfo=timezone.utc), "GET", "/", 200, "abc"), "$request_time 'abc'"),
        (nginx_line(datetime(2026, 1, 1, tzinfo=timezone.utc), "GET", "/", 200, "-0.5"), "is not a duration"),
        ('1.2.3.4 - - [31/Foo/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 0.1', "$time_local"),
        ('1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 700 1 "-" "-" 0.1', "$status '700'"),
    ],
)
def test_nginx_lines_say_what_is_wrong(line, problem):
    from app.accesslogs.parsers import LineError, parse_nginx

    with pytest.raises(LineError, match=problem.replace("$", r"\$")):
        parse_nginx(line)
