"""The channel interface: every module of app/notifications/channels is a registered channel, a new
module is picked up with nothing else changed, and a channel with settings of its own (options) and a
credential goes through the same validation, outbox, delivery log and SSRF-guarded client."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from pydantic import BaseModel, ConfigDict, Field

from app.notifications import delivery
from app.notifications.channels import CHANNELS
from app.notifications.channels.base import Config, ConfigError, Delivery, HttpChannel
from tests.app.conftest import ROOT
from tests.app.notifications.conftest import subscribe, wait_until
from workers import notify

BUILT_IN = sorted(
    ["email", "slack", "teams", "webhook", "discord", "mattermost", "googlechat", "telegram", "ntfy"]
    + ["pagerduty", "opsgenie", "sms"]
)
INCIDENT = {"title": "Face compare down", "severity": "critical", "affected_services": ["face-compare"]}


class PingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: int = Field(3, ge=1, le=5)


class Ping(HttpChannel):
    """An ntfy-like channel: a priority setting, the secret sent as a bearer token instead of signing."""

    kind = "ping"
    label = "ping (test)"
    signs = False
    Options = PingOptions

    def validate(self, config: Config) -> dict:
        options = super().validate(config)
        if not config.secret:
            raise ConfigError("secret", "a ping subscription needs its access token as secret")
        return options

    def body(self, item: Delivery) -> dict:
        return {"title": item.message().title, "priority": item.options["priority"]}

    def headers(self, item: Delivery) -> dict[str, str]:
        return {"Authorization": f"Bearer {item.secret}"}


def test_every_module_is_a_registered_channel_and_an_api_kind():
    modules = sorted(p.stem for p in (ROOT / "app/notifications/channels").glob("*.py") if p.stem[0] != "_")
    assert sorted(CHANNELS) == [m for m in modules if m != "base"] == BUILT_IN
    for kind, channel in CHANNELS.items():
        assert channel.kind == kind and channel.label


def test_a_new_module_is_a_new_channel(tmp_path):
    """One file in the package's folder: the registry and the API's `kind` enum take it up."""
    (tmp_path / "ping.py").write_text(
        textwrap.dedent(
            """
            from app.notifications.channels.base import HttpChannel

            class Ping(HttpChannel):
                kind = "ping"
                label = "ping"

                def body(self, delivery):
                    return {"title": delivery.message().title}

            CHANNEL = Ping()
            """
        )
    )
    program = f"""
import importlib.util, json, sys
import app.notifications
spec = importlib.util.find_spec("app.notifications.channels")
spec.submodule_search_locations.append({str(tmp_path)!r})  # the folder, as if ping.py were in it
channels = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = channels
spec.loader.exec_module(channels)
from app.notifications.models import SubscriptionCreate
enum = SubscriptionCreate.model_json_schema()["properties"]["kind"]["enum"]
print(json.dumps([list(channels.CHANNELS), enum]))
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    kinds, enum = json.loads(done.stdout)
    assert kinds == enum == sorted([*BUILT_IN, "ping"])


def test_a_channel_names_the_field_it_refuses():
    ping = Ping()
    assert ping.validate(Config("https://ntfy.example/alerts", None, "tk_secret", {})) == {"priority": 3}
    with pytest.raises(ConfigError) as refused:
        ping.validate(Config("https://ntfy.example/alerts", None, "tk_secret", {"priority": 9}))
    assert refused.value.field == "options.priority"
    with pytest.raises(ConfigError) as refused:
        ping.validate(Config("https://ntfy.example/alerts", None, None, {}))
    assert refused.value.field == "secret"
    with pytest.raises(ConfigError) as refused:
        ping.validate(Config(None, "ops@example.com", "tk_secret", {}))
    assert refused.value.field == "url"


async def test_options_are_refused_by_a_channel_without_settings(staff):
    admin = await staff.headers("admin")
    body = {"name": "n", "kind": "slack", "url": "http://127.0.0.1:9/", "allow_private": True}
    r = await staff.client.post("/api/subscriptions", json={**body, "options": {"channel": "#ops"}}, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["details"] == [
        {"in": "body", "field": "options.channel", "message": "Extra inputs are not permitted"}
    ]
    for options in ({"x": "y" * 5000}, {"x": "nul \u0000"}):  # longer than the column takes; no NUL in jsonb
        r = await staff.client.post("/api/subscriptions", json={**body, "options": options}, headers=admin)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "options", r.text
    created = await subscribe(staff, **body)
    assert created["options"] == {}


async def test_a_channel_with_options_and_a_credential_is_delivered(staff, make_receiver, run_worker, monkeypatch):
    monkeypatch.setitem(CHANNELS, "ping", Ping())
    receiver = await make_receiver()
    subscription_id = await staff.conn.fetchval(
        """INSERT INTO subscriptions (name, kind, url, secret, options, allow_private)
           VALUES ('ping', 'ping', $1, 'tk_secret', '{"priority": 5}', true) RETURNING id""",
        receiver.url,
    )
    admin = await staff.headers("admin")
    read = (await staff.client.get(f"/api/subscriptions/{subscription_id}", headers=admin)).json()["subscription"]
    assert (read["kind"], read["options"]) == ("ping", {"priority": 5})
    r = await staff.client.put(
        f"/api/subscriptions/{subscription_id}", headers=admin, json={"options": {"priority": 0}}
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "options.priority", r.text

    ctx = await run_worker()
    await ctx["notify_listener"].close()  # only this test runs the job
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    assert await delivery.dispatch(staff.conn) == 1
    [(delivery_id, _)] = await delivery.due(staff.conn)
    assert await notify.notify_deliver(ctx, delivery_id) == "delivered"
    [request] = receiver.requests
    assert request.json == {"title": f"[P1] Incident opened: {INCIDENT['title']}", "priority": 5}
    assert request.headers["Authorization"] == "Bearer tk_secret"
    assert request.delivery_id == delivery_id and "X-SLAMon-Signature" not in request.headers
    status = await staff.conn.fetchval("SELECT status FROM notification_deliveries WHERE id = $1", delivery_id)
    assert status == "delivered"


async def test_a_stored_kind_this_version_lacks_fails_for_good(staff, make_receiver, run_worker):
    receiver = await make_receiver()
    await staff.conn.execute(
        "INSERT INTO subscriptions (name, kind, url, allow_private) VALUES ('gone', 'pager', $1, true)", receiver.url
    )
    ctx = await run_worker()
    await ctx["notify_listener"].close()
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    assert await delivery.dispatch(staff.conn) == 1
    [(delivery_id, _)] = await delivery.due(staff.conn)
    assert await notify.notify_deliver(ctx, delivery_id) == "failed"
    row = await wait_until(
        lambda: staff.conn.fetchrow("SELECT status, last_error FROM notification_deliveries WHERE id = $1", delivery_id)
    )
    assert dict(row) == {"status": "failed", "last_error": "no 'pager' channel in this version"}
    assert receiver.requests == []
