"""Sign-up, log-in, refresh rotation with reuse detection, log-out and bad credentials."""

from __future__ import annotations

import uuid

import pytest

from app.security import tokens
from app.settings import Settings
from tests.support.api import PASSWORD, SIGN_UP, Api, error_codes, user_error_codes

LOG_IN = """
mutation($input: LogInInput!) {
  logIn(input: $input) {
    accessToken refreshToken user { id email }
    userErrors { code message field }
  }
}"""

REFRESH = """
mutation($token: String!) {
  refreshSession(input: {refreshToken: $token}) {
    accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt
    userErrors { code message field }
  }
}"""

LOG_OUT = """
mutation($token: String) {
  logOut(input: {refreshToken: $token}) { ok userErrors { code message field } }
}"""

VIEWER = "{ viewer { user { id email } } }"


def _email() -> str:
    return f"id-{uuid.uuid4().hex[:8]}@example.com"


async def _sign_up(api: Api, email: str, password: str = PASSWORD) -> dict:
    return await api.payload(SIGN_UP, {"input": {"email": email, "password": password}})


# Sign-up


async def test_sign_up_returns_working_tokens(api: Api) -> None:
    email = _email().upper()
    p = await _sign_up(api, email)
    assert p["userErrors"] == []
    assert p["user"]["email"] == email.lower()
    assert p["refreshToken"].startswith("srt_")
    data = await api.ok(VIEWER, token=p["accessToken"])
    assert data["viewer"]["user"] == p["user"]


@pytest.mark.parametrize(
    ("email", "password", "code", "field"),
    [
        ("not-an-email", PASSWORD, "INVALID_EMAIL", ["email"]),
        ("two@@example.com", PASSWORD, "INVALID_EMAIL", ["email"]),
        ("", PASSWORD, "INVALID_EMAIL", ["email"]),
        (None, "short", "WEAK_PASSWORD", ["password"]),
        (None, "x" * 257, "WEAK_PASSWORD", ["password"]),
    ],
)
async def test_sign_up_validation(
    api: Api, email: str | None, password: str, code: str, field: list[str]
) -> None:
    address = email if email is not None else _email()
    p = await _sign_up(api, address, password)
    assert [(e["code"], e["field"]) for e in p["userErrors"]] == [(code, field)]
    assert p["accessToken"] is None and p["user"] is None
    if email is None:  # nothing was written: the address is still free
        assert (await _sign_up(api, address))["userErrors"] == []


async def test_sign_up_duplicate_email_case_insensitive(api: Api) -> None:
    email = _email()
    assert (await _sign_up(api, email))["userErrors"] == []
    p = await _sign_up(api, email.upper())
    assert user_error_codes(p) == ["EMAIL_TAKEN"]
    assert p["userErrors"][0]["field"] == ["email"]


# Log-in


async def test_log_in(api: Api) -> None:
    acct = await api.sign_up("login")
    p = await api.payload(
        LOG_IN, {"input": {"email": acct.email.upper(), "password": acct.password}}
    )
    assert p["userErrors"] == []
    assert p["user"]["id"] == acct.user_id
    assert (await api.ok(VIEWER, token=p["accessToken"]))["viewer"]["user"]["id"] == acct.user_id


async def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    acct = await api.sign_up("login")
    wrong = await api.payload(
        LOG_IN, {"input": {"email": acct.email, "password": "wrong password!"}}
    )
    unknown = await api.payload(LOG_IN, {"input": {"email": _email(), "password": PASSWORD}})
    assert wrong == unknown
    assert user_error_codes(wrong) == ["INVALID_CREDENTIALS"]
    assert wrong["accessToken"] is None


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer", "Bearer sk_nothex_x", "token"],
)
async def test_log_in_works_with_a_bad_credential_present(api: Api, authorization: str) -> None:
    acct = await api.sign_up("stale")
    r = await api.post(
        LOG_IN,
        {"input": {"email": acct.email, "password": acct.password}},
        headers={"authorization": authorization},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    assert body["data"]["logIn"]["accessToken"]
    # ... while a field that needs the principal still fails clearly.
    r = await api.post(VIEWER, headers={"authorization": authorization})
    assert r.status_code == 200
    assert error_codes(r.json()) == ["UNAUTHENTICATED"]


async def test_sign_up_and_refresh_work_with_an_expired_token_present(
    api: Api, test_settings: Settings
) -> None:
    acct = await api.sign_up("expired")
    expired = _expired_token(acct.user_id, test_settings)
    email = _email()
    body = await api.gql(SIGN_UP, {"input": {"email": email, "password": PASSWORD}}, token=expired)
    assert "errors" not in body and body["data"]["signUp"]["accessToken"], body
    # The usual refresh flow: the access token has just expired.
    body = await api.gql(REFRESH, {"token": acct.refresh_token}, token=expired)
    assert "errors" not in body, body
    assert body["data"]["refreshSession"]["accessToken"]
    # Log-out naming the session by its refresh token needs no valid access token either.
    new_refresh = body["data"]["refreshSession"]["refreshToken"]
    body = await api.gql(LOG_OUT, {"token": new_refresh}, token=expired)
    assert body["data"]["logOut"] == {"ok": True, "userErrors": []}, body


# Tokens


def _expired_token(global_user_id: str, settings: Settings) -> str:
    from resolvers.ids import from_global_id

    _, user_id = from_global_id(global_user_id)
    token, _ = tokens.issue_access_token(
        user_id, uuid.uuid4(), secret=settings.jwt_secret, ttl_seconds=-60
    )
    return token


async def test_expired_access_token_is_unauthenticated_with_a_clear_message(
    api: Api, test_settings: Settings
) -> None:
    acct = await api.sign_up("expired")
    body = await api.gql(VIEWER, token=_expired_token(acct.user_id, test_settings))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in body["errors"][0]["message"]


async def test_token_signed_with_another_secret_is_rejected(api: Api) -> None:
    acct = await api.sign_up("forged")
    from resolvers.ids import from_global_id

    forged, _ = tokens.issue_access_token(
        from_global_id(acct.user_id)[1], uuid.uuid4(), secret="x" * 32, ttl_seconds=60
    )
    body = await api.gql(VIEWER, token=forged)
    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "Bearer    ", "bearer-x y"])
async def test_malformed_authorization_header(api: Api, authorization: str) -> None:
    r = await api.post(VIEWER, headers={"authorization": authorization})
    assert r.status_code == 200
    body = r.json()
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_no_credentials_is_unauthenticated(api: Api) -> None:
    assert await api.error(VIEWER) == "UNAUTHENTICATED"


# Refresh rotation


async def test_refresh_rotates_and_new_tokens_work(api: Api) -> None:
    acct = await api.sign_up("rotate")
    p = await api.payload(REFRESH, {"token": acct.refresh_token})
    assert p["userErrors"] == []
    assert p["refreshToken"] != acct.refresh_token
    assert (await api.ok(VIEWER, token=p["accessToken"]))["viewer"]["user"]["id"] == acct.user_id
    # The original access token of the session still works until it expires.
    await api.ok(VIEWER, token=acct.token)
    # And the new refresh token rotates again.
    p2 = await api.payload(REFRESH, {"token": p["refreshToken"]})
    assert p2["userErrors"] == [] and p2["accessToken"]


async def test_reused_refresh_token_revokes_the_whole_family(api: Api) -> None:
    acct = await api.sign_up("reuse")
    first = await api.payload(REFRESH, {"token": acct.refresh_token})
    second = await api.payload(REFRESH, {"token": first["refreshToken"]})
    await api.ok(VIEWER, token=second["accessToken"])

    # The first refresh token, used again: it leaked.
    body = await api.gql(REFRESH, {"token": acct.refresh_token})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None

    # Every token of the family is dead: the newest refresh token and the access tokens.
    body = await api.gql(REFRESH, {"token": second["refreshToken"]})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    for token in (second["accessToken"], first["accessToken"], acct.token):
        assert await api.error(VIEWER, token=token) == "UNAUTHENTICATED"

    # Other sessions of the same user are untouched.
    other = await api.payload(LOG_IN, {"input": {"email": acct.email, "password": PASSWORD}})
    await api.ok(VIEWER, token=other["accessToken"])


async def test_unknown_refresh_token_is_unauthenticated(api: Api) -> None:
    body = await api.gql(REFRESH, {"token": "srt_" + uuid.uuid4().hex})
    assert error_codes(body) == ["UNAUTHENTICATED"]


# Log-out


async def test_log_out_revokes_the_access_token_at_once(api: Api) -> None:
    acct = await api.sign_up("logout")
    other = await api.payload(LOG_IN, {"input": {"email": acct.email, "password": PASSWORD}})
    p = await api.payload(LOG_OUT, {"token": None}, token=acct.token)
    assert p == {"ok": True, "userErrors": []}
    assert await api.error(VIEWER, token=acct.token) == "UNAUTHENTICATED"
    body = await api.gql(REFRESH, {"token": acct.refresh_token})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    # Only that session ended.
    await api.ok(VIEWER, token=other["accessToken"])


async def test_log_out_by_refresh_token(api: Api) -> None:
    acct = await api.sign_up("logout")
    p = await api.payload(LOG_OUT, {"token": acct.refresh_token})
    assert p == {"ok": True, "userErrors": []}
    assert await api.error(VIEWER, token=acct.token) == "UNAUTHENTICATED"
    p = await api.payload(LOG_OUT, {"token": "srt_unknown"})
    assert p["ok"] is False
    assert user_error_codes(p) == ["INVALID_TOKEN"]


async def test_log_out_without_credentials_is_unauthenticated(api: Api) -> None:
    assert await api.error(LOG_OUT, {"token": None}) == "UNAUTHENTICATED"
