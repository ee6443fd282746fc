"""Settings from SLAMON_* environment variables (and .env); defaults match `make services`."""

from __future__ import annotations

import importlib.metadata
import ipaddress
import secrets
from datetime import time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent
LOCAL_SERVICES_ENV = ROOT_DIR / ".data" / "services.env"
DISTRIBUTION = "sla-monitor"
DATA_FILES = "share/sla-monitor"  # where pyproject's [tool.setuptools.data-files] puts sql/ and services.toml


@lru_cache
def installed_data_dir() -> Path | None:
    """The folder pip installed the distribution's data files into (under the environment's prefix),
    found through the installed file list; None for a checkout or an editable install."""
    try:
        files = importlib.metadata.distribution(DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.as_posix().endswith(f"{DATA_FILES}/services.toml"):
            return Path(file.locate()).resolve().parent
    return None


def resource_path(name: str) -> Path:
    """A file or folder the project ships beside its code (`sql`, `services.toml`, `frontend`): in the checkout
    when running from one (editable installs, PYTHONPATH), else from the installed data files."""
    if (ROOT_DIR / "pyproject.toml").exists():
        return ROOT_DIR / name
    installed = installed_data_dir()
    return installed / name if installed else ROOT_DIR / name


def _local_service(name: str, fallback: str) -> str:
    """The DSN `make services` recorded for this checkout's private PostgreSQL/Redis, if any."""
    try:
        for line in LOCAL_SERVICES_ENV.read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return fallback


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLAMON_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: _local_service("SLAMON_DATABASE_URL", "postgresql://postgres@127.0.0.1:55432/slamon")
    )
    redis_url: str = Field(default_factory=lambda: _local_service("SLAMON_REDIS_URL", "redis://127.0.0.1:56379/0"))
    timezone: str = "UTC"
    services_file: Path = Field(default_factory=lambda: resource_path("services.toml"))
    customers_file: Path = Field(default_factory=lambda: resource_path("customers.toml"))  # app/customers
    # Who sends the customers' statements (app/customers): printed on every statement.
    organisation_name: str = "SLA Monitor"
    organisation_logo: Path | None = None  # a PNG, JPEG or SVG file, embedded in statements
    # Statement delivery (app/customers/delivery.py, docs/operations.md): each customer's statement of the
    # month before is emailed to its contacts (PDF attached, a link) and posted to the statements webhook
    # if one is set, on the day rule's day ('first-friday', 'first-monday', ..., or a day of the month
    # '1'..'28') at the time, in the zone (default: the reporting zone); a worker that was down delivers
    # within the catch-up days after; 'off' delivers nothing by itself (`slamon report deliver` still does).
    statement_delivery_day: str = "first-friday"
    statement_delivery_time: time = time(9, 0)
    statement_delivery_timezone: str | None = None
    statement_delivery_catch_up_days: int = Field(7, ge=0, le=27)
    statement_delivery_language: Literal["ko", "en"] = "ko"
    statement_webhook_url: str | None = None
    statement_webhook_secret: str | None = None
    statement_webhook_allow_private: bool = False
    escalation_file: Path = Field(default_factory=lambda: resource_path("escalation.toml"))
    data_dir: Path = ROOT_DIR / ".data"
    secret_key: str | None = None
    rollup_grace_s: int = Field(300, ge=0)  # the refresh leaves the newest minutes to live reads
    # Where rollups live: 'auto' = continuous aggregates on a verified Timescale License release
    # (app/db.py VERIFIED_CAGG_RELEASES), else tables kept by the worker; chosen at the first migrate.
    rollup_backend: Literal["auto", "tables", "caggs"] = "auto"
    # A maintenance window leaves the SLA figures only when announced this long before it starts
    # (the SLA document's SLO-001: 72 hours; docs/sla-math.md).
    maintenance_notice_hours: float = Field(72, ge=0, le=24 * 365)
    raw_retention_days: int = Field(400, ge=30)
    # Worker: every job's time limit; a job lost with a killed worker runs again this + 10 s later.
    worker_job_timeout_s: int = Field(300, ge=5)
    # Detection: a recovered incident (moved to monitoring) is resolved after this many minutes of
    # good slots, with a note saying so; 0 leaves resolving to people.
    detection_auto_resolve_minutes: int = Field(30, ge=0, le=7 * 24 * 60)
    ingest_max_rows: int = Field(10_000, ge=1)
    ingest_max_future_s: int = Field(60, ge=0)  # clock skew allowed to the ingest API (app.ingest.service)
    # Regions pushed check rows (push-only services) may name besides 'push' and the probers' regions.
    ingest_regions: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # bcrypt runs in this many threads; logins and password changes beyond workers + queue at once get
    # a fast 503 with Retry-After instead of waiting (each check is ~0.25 s of CPU).
    password_hash_workers: int = Field(2, ge=1, le=64)
    password_hash_queue: int = Field(8, ge=0, le=1000)
    # Load shedding (app/load.py): requests handled at once, requests that may wait for a turn and for
    # how long; the rest get 503 + Retry-After at once. Health checks and Socket.IO are not counted.
    max_concurrent_requests: int = Field(32, ge=1, le=10_000)
    max_queued_requests: int = Field(64, ge=0, le=100_000)
    queue_wait_s: float = Field(5.0, gt=0, le=60)
    pool_min: int = 2
    pool_max: int = 20
    log_format: Literal["auto", "json", "text"] = "auto"
    # Socket.IO: the Redis channel shared by every process of one installation (default
    # slamon:<database name>), and the browser origins allowed besides the API's own.
    realtime_channel: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (IPs or CIDRs, comma-separated in
    # SLAMON_TRUSTED_PROXIES); none by default, so a client cannot pick the IP that throttling and the
    # audit trail see.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where the public reaches this installation: every absolute link the app hands out (the feeds, the
    # links of public subscriptions) starts with it, never with the request's Host header, which any client sets.
    public_base_url: str = "http://localhost:3001/"
    # Monthly reports: a month is closed (frozen) this long after it ends in the reporting time zone,
    # so that late check results (prober spools, replays) are in; and the browser that prints PDFs.
    report_close_grace_s: int = Field(3600, ge=0, le=31 * 86400)
    chromium_path: str | None = None
    # Notifications (app/notifications): webhook attempts, back-off, and email through SMTP (off
    # without a host); SLO and maintenance transitions older than the horizon are not announced.
    webhook_timeout_s: float = Field(10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(8, ge=1, le=50)
    webhook_backoff_s: float = Field(30.0, gt=0)
    webhook_backoff_max_s: float = Field(3600.0, gt=0)
    notify_horizon_s: int = Field(86_400, ge=60)
    # Forecast alerts (docs/sla-math.md "Forecasts"): an SLO whose error budget is forecast to run out
    # within this many hours, or to be missed with at least this probability.
    forecast_horizon_h: int = Field(24, ge=1, le=720)
    forecast_miss_probability: float = Field(0.5, gt=0, le=1)
    # Escalation (app/escalation): an acknowledged open incident without an update for this long
    # gets a reminder to the subscriptions paged (the PRD's "update every 30 minutes"); 0: never.
    escalation_reminder_s: int = Field(1800, ge=0)
    # ... and still quiet this long after the reminder, its escalation resumes at the next level; 0: never.
    escalation_resume_s: int = Field(600, ge=0)
    # How long the acknowledgement link in a page's email works (signed with the app secret).
    escalation_ack_link_hours: int = Field(24, ge=1, le=24 * 30)
    # The paging services' callbacks (app/escalation/callbacks.py), refused while unset: the secret of
    # the PagerDuty webhook subscription (X-PagerDuty-Signature), and the token Opsgenie's webhook
    # integration sends as a custom header (X-SLAMon-Callback-Token).
    pagerduty_webhook_secret: str | None = None
    opsgenie_callback_token: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65_535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "SLA Monitor <slamon@localhost>"
    # Public subscriptions (app/subscribers, docs/operations.md): subscribe requests per client IP and
    # messages per receiver an hour, how long a confirmation link lasts, and whether a public webhook
    # may be a loopback/private address (off: the public names receivers on the internet only).
    subscribe_ip_per_hour: int = Field(20, ge=1, le=100_000)
    subscribe_receiver_per_hour: int = Field(3, ge=1, le=1000)
    subscribe_confirm_hours: float = Field(48, gt=0, le=24 * 30)
    subscribe_allow_private: bool = False
    # Backups (app/backup.py): pgBackRest's config (default <data_dir>/pgbackrest/pgbackrest.conf, which
    # scripts/services.sh writes) and the stanza, pgBackRest's name for this cluster in its repository.
    pgbackrest_config: Path | None = None
    backup_stanza: str = "slamon"
    # Prometheus (docs/operations.md, "Metrics"): who may read an API process's GET /metrics (IPs or
    # CIDRs, comma-separated in SLAMON_METRICS_ALLOW; loopback by default), and where `slamon worker`
    # serves its own (port 0: not at all).
    metrics_allow: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(3009, ge=0, le=65_535)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("statement_delivery_timezone")
    @classmethod
    def _known_delivery_zone(cls, value: str | None) -> str | None:
        return None if value is None else cls._known_zone(value)

    @field_validator("statement_delivery_day")
    @classmethod
    def _day_rule(cls, value: str) -> str:
        from app.customers.schedule import parse_day_rule

        parse_day_rule(value)  # ValueError naming the accepted forms
        return value.strip().lower()

    @field_validator("organisation_logo")
    @classmethod
    def _logo_file(cls, value: Path | None) -> Path | None:
        # embedded in every statement (app/customers/render.py): refused at start, not at the first PDF
        if value is not None and (value.suffix.lower() not in (".png", ".jpg", ".jpeg", ".svg") or not value.is_file()):
            raise ValueError(f"{value}: not a PNG, JPEG or SVG file")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"public_base_url must be an absolute http(s) URL without query, got {value!r}")
        return value.strip().rstrip("/") + "/"

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _network_list(cls, value: str | list[str], info: ValidationInfo) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        networks = [str(item).strip() for item in items if str(item).strip()]
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{info.field_name}: {network!r} is not an IP address or network") from exc
        return networks

    def public_url(self, path: str = "") -> str:
        """An absolute link for the public: public_base_url joined with `path`."""
        return self.public_base_url.rstrip("/") + "/" + path.lstrip("/")

    @property
    def maintenance_notice(self) -> timedelta:
        return timedelta(hours=self.maintenance_notice_hours)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def delivery_zone(self) -> ZoneInfo:
        """The zone of the statement delivery's day and time (the reporting zone unless set)."""
        return ZoneInfo(self.statement_delivery_timezone or self.timezone)

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept under data_dir (local use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
