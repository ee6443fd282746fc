"""Red-team findings (issue 15): inputs and requests that abused the API. Each case failed once."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path, field", [
    ("/api/uptime/face-compare?startDate=9999-12-31", "startDate"),
    ("/api/uptime/face-compare?months=3&startDate=9999-10-01", "startDate"),
    ("/api/uptime/face-compare?months=24&startDate=0001-02-01", None),
    ("/api/uptime/face-compare?months=2&startDate=9999-10-01", None),
    ("/api/realtime/replay?since=18446744073709551616", "since"),
    ("/api/realtime/replay?since=0-18446744073709551616", "since"),
])
async def test_out_of_range_query_parameters_are_a_4xx_naming_the_parameter(staff, path, field):
    response = await staff.client.get(path)
    if field is None:  # the earliest representable months are fine
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["message"]
    assert [d["field"] for d in body["details"]] == [field]


async def test_the_largest_stream_id_is_still_accepted(staff):
    response = await staff.client.get("/api/realtime/replay?since=18446744073709551615-18446744073709551615")
    assert response.status_code == 200, response.text


async def test_the_first_months_of_year_one_are_refused_in_a_zone_ahead_of_utc(staff_db, make_app):
    _, client = make_app(timezone="Asia/Tokyo")
    response = await client().get("/api/uptime/face-compare?months=2&startDate=0001-01-01")
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "startDate"
