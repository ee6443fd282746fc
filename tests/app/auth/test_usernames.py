"""One username normalisation (NFKC + casefold) for storing, looking up and throttling: no spelling
of a name reaches an account while escaping that account's lock."""

import pytest

from app.auth.usernames import username_key
from tests.app.conftest import PASSWORD, create_user


@pytest.mark.parametrize(
    "typed, key",
    [
        ("Sec-Victim", "sec-victim"),
        ("  sec-victim ", "sec-victim"),
        ("ＳＥＣ－ｖｉｃｔｉｍ", "sec-victim"),
        ("ſec-victim", "sec-victim"),
        ("\u212aelvin", "kelvin"),
        ("Straße", "strasse"),
        ("sec-vİctim", "sec-vi\u0307ctim"),
    ],
)
def test_username_key(typed, key):
    assert username_key(typed) == key


async def _lock(client, username: str) -> None:
    for _ in range(5):
        assert (
            await client.post("/api/auth/login", json={"username": username, "password": "a wrong guess"})
        ).status_code == 401


async def test_a_dotted_capital_i_does_not_reach_a_locked_account(staff_db, make_app):
    """'sec-vİctim' (U+0130): PostgreSQL's lower() made it 'sec-victim', Python's did not, so it logged
    in as the locked sec-victim under a throttle key of its own."""
    await create_user(staff_db, "sec-victim", "viewer")
    _, client = make_app()
    attacker = client("203.0.113.9")
    await _lock(attacker, "sec-victim")
    r = await attacker.post("/api/auth/login", json={"username": "sec-vİctim", "password": PASSWORD})
    assert r.status_code == 401, r.text
    assert (
        await attacker.post("/api/auth/login", json={"username": "sec-victim", "password": PASSWORD})
    ).status_code == 429


@pytest.mark.parametrize("spelling", ["SEC-VICTIM", "ＳＥＣ－ｖｉｃｔｉｍ", "ſec-victim", " sec-victim"])
async def test_every_spelling_of_a_name_shares_its_lock_and_its_account(staff_db, make_app, spelling):
    await create_user(staff_db, "sec-victim", "viewer")
    _, client = make_app()
    attacker = client("203.0.113.10")
    await _lock(attacker, spelling)
    r = await attacker.post("/api/auth/login", json={"username": "sec-victim", "password": PASSWORD})
    assert r.status_code == 429, r.text
    owner = client("198.51.100.10")
    r = await owner.post("/api/auth/login", json={"username": spelling, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["username"] == "sec-victim"


async def test_usernames_are_unique_on_their_key(staff):
    headers = await staff.headers("admin")
    body = {"role": "viewer", "password": "a long enough passphrase"}
    assert (
        await staff.client.post("/api/users", json={**body, "username": "Dana.Ops"}, headers=headers)
    ).status_code == 201
    r = await staff.client.post("/api/users", json={**body, "username": "dana.OPS"}, headers=headers)
    assert r.status_code == 409 and "taken" in r.json()["message"]
    with pytest.raises(Exception, match="users_username_key"):
        await create_user(staff.conn, "DANA.ops", "viewer")
