"""The detection rules as a pure replay (app/detection/rules.py): crossings act once, runs carry over
the anchor, replayed slots never act twice."""

from datetime import datetime, timedelta, timezone

import pytest

from app.detection.rules import FAILURES, LATENCY, Incident, Runs, Slot, replay

T0 = datetime(2025, 8, 1, tzinfo=timezone.utc)
FAR = T0 + timedelta(days=1)


def slots(*outcomes, start=0):
    """'x' failed, '.' fast, 's' slow (8 s), 'S' very slow (16 s)."""
    latency = {".": 300, "s": 8000, "S": 16000, "x": None}
    return [Slot(T0 + timedelta(minutes=start + i), o != "x", latency[o]) for i, o in enumerate(outcomes)]


def kinds(result):
    return [(a.kind, a.cause) for a in result.actions]


@pytest.mark.parametrize(
    "family, pattern, expected",
    [
        (FAILURES, "xxx", [("open", "failures")]),
        (FAILURES, "xx.xx.x", []),  # blips never make 3 in a row
        (FAILURES, "xxxxxxxx", [("open", "failures")]),  # a long outage acts once
        (FAILURES, "xxx....", [("open", "failures")]),  # 4 good: not yet recovered
        (FAILURES, "xxx.....", [("open", "failures"), ("recover", "failures")]),
        (FAILURES, "xxx.....xxx", [("open", "failures"), ("recover", "failures"), ("recur", "failures")]),
        (FAILURES, "sssSSS", []),  # slowness is the other family's business
        (LATENCY, "sss", [("open", "latency")]),
        (LATENCY, "SSS", [("open", "latency_severe")]),
        (LATENCY, "sssSSS", [("open", "latency"), ("escalate", "latency_severe")]),
        (LATENCY, "sSSS", [("open", "latency"), ("escalate", "latency_severe")]),
        (LATENCY, "ssxss", []),  # a failed slot breaks a latency run
        (LATENCY, "xxx", []),
        (LATENCY, "sss.....", [("open", "latency"), ("recover", "latency")]),
        (LATENCY, "sssSS.....SSS", [("open", "latency"), ("recover", "latency"), ("escalate", "latency_severe")]),
    ],
)
def test_crossings(family, pattern, expected):
    result = replay(family, slots(*pattern), Runs(), None, 7000, FAR, None, auto_resolve_slots=0)
    assert kinds(result) == expected


def test_open_names_the_run_that_crossed():
    result = replay(FAILURES, slots(*".xxx"), Runs(), None, 7000, FAR, None, 0)
    (action,) = result.actions
    assert [s.ts for s in action.run] == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]


def test_auto_resolve_after_the_recovery_and_only_from_monitoring():
    pattern = "xxx" + "." * 30
    result = replay(FAILURES, slots(*pattern), Runs(), None, 7000, FAR, None, auto_resolve_slots=30)
    assert kinds(result) == [("open", "failures"), ("recover", "failures"), ("resolve", "failures")]
    assert result.actions[-1].slot.ts == T0 + timedelta(minutes=32) and result.incident is None
    never = replay(FAILURES, slots(*pattern), Runs(), None, 7000, FAR, None, auto_resolve_slots=0)
    assert kinds(never)[-1] == ("recover", "failures")


def test_runs_carry_over_the_anchor():
    first = replay(FAILURES, slots(*"xx"), Runs(), None, 7000, FAR, None, 0)
    assert first.actions == [] and first.anchor == (T0 + timedelta(minutes=1), Runs(bad=2))
    second = replay(FAILURES, slots("x", start=2), first.anchor[1], None, 7000, FAR, None, 0)
    assert kinds(second) == [("open", "failures")]


def test_the_anchor_stops_at_the_first_unsettled_slot():
    settled_before = T0 + timedelta(minutes=2)
    result = replay(FAILURES, slots(*"..x."), Runs(), None, 7000, settled_before, None, 0)
    assert result.anchor == (T0 + timedelta(minutes=1), Runs(good=2))


def test_a_replayed_crossing_does_not_act_again():
    incident = Incident("failures", "recovered", "monitoring")
    # Same slots as an earlier run that opened and recovered: the replay must not call it a recurrence.
    result = replay(
        FAILURES,
        slots(*"xxx....."),
        Runs(),
        incident,
        7000,
        FAR,
        last_action_ts=T0 + timedelta(minutes=7),
        auto_resolve_slots=0,
    )
    assert result.actions == []


def test_an_open_incident_is_not_opened_twice():
    incident = Incident("failures", "problem", "investigating")
    assert replay(FAILURES, slots(*"xxxx"), Runs(), incident, 7000, FAR, None, 0).actions == []
