"""Bad tokens are no tokens: 401 on protected routes, ``{"currentUser": null}`` on currentuser.

(docs/compatibility.md#jwt, #signout-revokes, #banned-users)
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from flask.testing import FlaskClient

from eventhive_core import BanUser
from eventhive_core.testing.hives import TEST_JWT_SECRET
from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of


def _token_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("eventhive")
    assert cookie is not None
    return cookie.value


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _tampered(token: str, api: Api) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = api.user().user_id  # type: ignore[attr-defined]  # pretend to be someone else
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def _unsigned(token: str, api: Api) -> str:
    return jwt.encode(_claims(token), key=None, algorithm="none")  # type: ignore[arg-type]


def _wrong_key(token: str, api: Api) -> str:
    return jwt.encode(_claims(token), "another-secret-0123456789abcdef0123456789", algorithm="HS256")


def _other_algorithm(token: str, api: Api) -> str:
    with warnings.catch_warnings():  # PyJWT warns that the key is short for HS512; that is beside the point
        warnings.simplefilter("ignore")
        return jwt.encode(_claims(token), TEST_JWT_SECRET, algorithm="HS512")


def _garbage(token: str, api: Api) -> str:
    return "not.a.token"


def _expired(token: str, api: Api) -> str:
    api.clock.advance(timedelta(days=1, seconds=1))
    return token


BAD_TOKENS: dict[str, Callable[[str, Api], str]] = {
    "expired": _expired,
    "tampered": _tampered,
    "unsigned (alg none)": _unsigned,
    "signed with another key": _wrong_key,
    "signed with another algorithm": _other_algorithm,
    "garbage": _garbage,
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
@pytest.mark.parametrize("carrier", ["cookie", "bearer"])
def test_a_bad_token_is_refused_on_protected_routes_and_is_nobody_on_currentuser(
    api: Api, kind: str, carrier: str
) -> None:
    user = api.user()
    token = BAD_TOKENS[kind](_token_of(user), api)
    client = api.client()
    headers = {}
    if carrier == "cookie":
        client.set_cookie("eventhive", token)
    else:
        headers["Authorization"] = f"Bearer {token}"

    protected = client.get("/api/orders", headers=headers)
    creating = client.post("/api/tickets", json={"title": "t", "price": 1}, headers=headers)
    current = client.get("/api/users/currentuser", headers=headers)

    assert protected.status_code == creating.status_code == 401
    assert messages_of(protected) == ["Not authorized"]
    assert current.status_code == 200
    assert current.get_json() == {"currentUser": None}


def test_a_good_token_works_in_the_cookie_and_as_a_bearer_header(api: Api) -> None:
    user = api.user()
    token = _token_of(user)

    by_bearer = api.client().get("/api/users/currentuser", headers={"Authorization": f"Bearer {token}"})

    assert user.get("/api/orders").status_code == 200
    assert by_bearer.get_json()["currentUser"]["id"] == user.user_id  # type: ignore[attr-defined]


def test_tokens_endpoint_trades_credentials_for_a_bearer_token(api: Api) -> None:
    api.user("ann@test.com")

    response = api.client().post("/api/users/tokens", json={"email": "ann@test.com", "password": "password"})

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    body = response.get_json()
    assert body["tokenType"] == "Bearer"
    assert body["expiresAt"] == "2026-01-02T12:00:00Z"  # the frozen clock + EVENTHIVE_TOKEN_TTL
    created = api.client().post(
        "/api/tickets", json={"title": "t", "price": 1}, headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert created.status_code == 201


def test_tokens_endpoint_refuses_wrong_credentials(api: Api) -> None:
    api.user("ann@test.com")

    response = api.client().post("/api/users/tokens", json={"email": "ann@test.com", "password": "wrong"})

    assert response.status_code == 400
    assert messages_of(response) == ["Invalid credentials"]


def test_signing_out_revokes_the_token_even_for_a_copy_of_it(api: Api) -> None:
    user = api.user()
    copy = _token_of(user)

    assert user.post("/api/users/signout", json={}).status_code == 200

    stolen = api.client().get("/api/orders", headers={"Authorization": f"Bearer {copy}"})
    assert stolen.status_code == 401
    assert user.get("/api/users/currentuser").get_json() == {"currentUser": None}


def test_a_banned_users_tokens_are_refused_and_they_cannot_sign_in(api: Api) -> None:
    user = api.user("bad@test.com")
    token = _token_of(user)

    api.hive.handle(BanUser(email="bad@test.com"))

    assert api.client().get("/api/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    signin = api.client().post("/api/users/signin", json={"email": "bad@test.com", "password": "password"})
    assert messages_of(signin) == ["Invalid credentials"]
    assert [e.data["user_id"] for e in api.published().of_type("user:banned")] == [user.user_id]  # type: ignore[attr-defined]


def test_the_cookie_holds_the_bare_token_and_is_http_only_same_site_lax_and_secure(api: Api) -> None:
    response = api.client().post("/api/users/signup", json={"email": "a@test.com", "password": "password"})

    name, _, rest = response.headers["Set-Cookie"].partition("=")
    value = rest.split(";")[0]
    flags = {part.strip() for part in rest.split(";")[1:]}

    assert name == "eventhive"
    assert _claims(value)["email"] == "a@test.com"
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= flags


def test_cookie_name_and_secure_flag_follow_the_config(make_api: Callable[..., Api]) -> None:
    api = make_api(EVENTHIVE_COOKIE_NAME="ticket_session", EVENTHIVE_COOKIE_SECURE=False)

    response = api.client().post("/api/users/signup", json={"email": "a@test.com", "password": "password"})

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("ticket_session=ey")
    assert "Secure" not in cookie
