"""/api/auth and /api/users moved to camelCase (docs/api.md#casing). For one release the answers also
carry the old snake_case keys, with a `Deprecation` header, and request bodies take either spelling."""

from datetime import datetime, timezone

from tests.app.conftest import PASSWORD

RENAMED_USER = {"isActive": "is_active", "createdAt": "created_at", "lastLoginAt": "last_login_at"}
RENAMED_PAIR = {
    "accessToken": "access_token",
    "refreshToken": "refresh_token",
    "tokenType": "token_type",
    "expiresIn": "expires_in",
    "refreshExpiresIn": "refresh_expires_in",
}
# RFC 9745: "@" and the Unix time from which the old keys are deprecated
DEPRECATION = f"@{int(datetime(2026, 12, 3, tzinfo=timezone.utc).timestamp())}"


def assert_both_spellings(body: dict, renamed: dict[str, str]) -> None:
    for camel, snake in renamed.items():
        assert camel in body and snake in body, (camel, snake, sorted(body))
        assert body[camel] == body[snake]


async def test_login_answers_camel_case_with_the_old_keys_beside_for_one_release(staff):
    await staff.user("reporter", "alice")
    r = await staff.client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.headers["Deprecation"] == DEPRECATION
    body = r.json()
    assert_both_spellings(body, RENAMED_PAIR)
    assert_both_spellings(body["user"], RENAMED_USER)
    assert body["tokenType"] == "bearer" and body["user"]["username"] == "alice" and body["user"]["isActive"] is True

    refreshed = await staff.client.post("/api/auth/refresh", json={"refreshToken": body["refreshToken"]})
    assert refreshed.status_code == 200 and refreshed.headers["Deprecation"] == DEPRECATION
    assert_both_spellings(refreshed.json(), RENAMED_PAIR)

    me = await staff.client.get("/api/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['accessToken']}"})
    assert me.status_code == 200 and me.headers["Deprecation"] == DEPRECATION
    assert_both_spellings(me.json(), {"sessionId": "session_id"})
    assert_both_spellings(me.json()["user"], RENAMED_USER)


async def test_refresh_takes_the_old_spelling_and_refuses_both_at_once(staff):
    pair = await staff.login("reporter", "bob")
    old = await staff.client.post("/api/auth/refresh", json={"refresh_token": pair["refreshToken"]})
    assert old.status_code == 200, old.text
    both = await staff.client.post(
        "/api/auth/refresh", json={"refreshToken": old.json()["refreshToken"], "refresh_token": "x"}
    )
    assert both.status_code == 422 and both.json()["details"][0]["field"] == "refresh_token"


async def test_users_answer_camel_case_and_take_either_spelling(staff):
    admin = await staff.headers("admin")
    created = await staff.client.post(
        "/api/users", json={"username": "carol", "role": "viewer", "password": PASSWORD}, headers=admin
    )
    assert created.status_code == 201 and created.headers["Deprecation"] == DEPRECATION
    user = created.json()["user"]
    assert_both_spellings(user, RENAMED_USER) and user["lastLoginAt"] is None

    disabled = await staff.client.put(f"/api/users/{user['id']}", json={"isActive": False}, headers=admin)
    assert disabled.status_code == 200 and disabled.json()["user"]["isActive"] is False
    enabled = await staff.client.put(f"/api/users/{user['id']}", json={"is_active": True}, headers=admin)
    assert enabled.status_code == 200 and enabled.json()["user"]["isActive"] is True

    listed = await staff.client.get("/api/users", headers=admin)
    assert listed.status_code == 200 and listed.headers["Deprecation"] == DEPRECATION
    assert all("isActive" in u and "is_active" in u for u in listed.json()["users"])
    assert set(listed.json()["pagination"]) == {"page", "limit", "total", "totalPages", "hasNext"}


async def test_the_schema_marks_the_old_keys_deprecated(staff):
    schemas = staff.app.openapi()["components"]["schemas"]
    user = schemas["UserRead"]["properties"]
    assert user["isActive"].get("deprecated") is None and user["is_active"]["deprecated"] is True
    assert schemas["TokenPair"]["properties"]["access_token"]["deprecated"] is True
    password = schemas["PasswordChangeIn"]["properties"]
    assert {"currentPassword", "newPassword"} <= set(password) and "new_password" not in password
