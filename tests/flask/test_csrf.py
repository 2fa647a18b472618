"""CSRF: unsafe requests relying on the cookie must be JSON and same-origin; Bearer clients are exempt.

(docs/flask/api.md#csrf)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventhive_core import ConfigurationError
from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of
from eventhive_flask.views.page_forms import signing_secret

TICKET = {"title": "t", "price": 1}


def _tickets_of(api: Api, seller: FlaskClient) -> int:
    return len(seller.get("/api/tickets?owner=me").get_json())


def test_the_original_json_client_keeps_working_with_the_cookie(api: Api) -> None:
    seller = api.user()

    assert seller.post("/api/tickets", json=TICKET).status_code == 201


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/x-www-form-urlencoded", "title=t&price=1"),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--x--'),
        ("text/plain", '{"title": "t", "price": 1}'),
    ],
)
def test_a_form_like_post_with_the_cookie_is_refused(api: Api, content_type: str, data: str) -> None:
    seller = api.user()

    response = seller.post("/api/tickets", data=data, content_type=content_type)

    assert response.status_code == 403
    assert messages_of(response) == ["Requests signed in with the cookie must send Content-Type: application/json"]
    assert _tickets_of(api, seller) == 0


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["foreign origin", "null origin", "sec-fetch-site cross-site"],
)
def test_a_cross_site_json_request_with_the_cookie_is_refused(api: Api, headers: dict[str, str]) -> None:
    seller = api.user()

    response = seller.post("/api/tickets", json=TICKET, headers=headers)

    assert response.status_code == 403
    assert messages_of(response) == ["Cross-site request refused"]
    assert _tickets_of(api, seller) == 0


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}],
    ids=["own origin", "same-origin", "typed by the user"],
)
def test_a_same_origin_json_request_with_the_cookie_is_accepted(api: Api, headers: dict[str, str]) -> None:
    assert api.user().post("/api/tickets", json=TICKET, headers=headers).status_code == 201


def test_a_trusted_origin_is_accepted(make_api: Callable[..., Api]) -> None:
    api = make_api(EVENTHIVE_TRUSTED_ORIGINS="https://shop.example")

    response = api.user().post("/api/tickets", json=TICKET, headers={"Origin": "https://shop.example"})

    assert response.status_code == 201


def test_cross_site_deletes_are_refused_but_a_bodiless_same_site_delete_needs_no_content_type(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])

    refused = buyer.delete(f"/api/orders/{order['id']}", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert buyer.get(f"/api/orders/{order['id']}").get_json()["status"] == "created"

    assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204


def test_bearer_clients_are_exempt(api: Api) -> None:
    user = api.user("ann@test.com")
    token = api.client().post("/api/users/tokens", json={"email": "ann@test.com", "password": "password"}).json["token"]
    headers = {"Authorization": f"Bearer {token}", "Origin": "https://elsewhere.example"}

    json_from_elsewhere = api.client().post("/api/tickets", json=TICKET, headers=headers)
    plain_text = api.client().post("/api/tickets", data="x", content_type="text/plain", headers=headers)

    assert json_from_elsewhere.status_code == 201
    assert plain_text.status_code == 415  # not JSON, but no CSRF refusal
    assert _tickets_of(api, user) == 1


def test_cross_site_sign_in_is_refused_so_nobody_is_signed_in_behind_their_back(api: Api) -> None:
    api.user("attacker@test.com")

    response = api.client().post(
        "/api/users/signin",
        json={"email": "attacker@test.com", "password": "password"},
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


def test_safe_requests_from_anywhere_are_fine(api: Api) -> None:
    user = api.user()

    assert user.get("/api/orders", headers={"Origin": "https://evil.example"}).status_code == 200


def _client_replica(data_dir: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> Flask:
    """One replica of the split's pages client, with its own data folder (its own machine)."""
    from eventhive_flask.app import create_app
    from eventhive_flask.service import prepare_client_environment

    for name in [key for key in os.environ if key.startswith("EVENTHIVE_")]:
        monkeypatch.delenv(name)
    environ = {"EVENTHIVE_API_URL": "http://127.0.0.1:9", **extra}
    prepare_client_environment(environ, data_dir, "0.0.0.0")
    return create_app(environ)


def test_client_replicas_on_different_machines_sign_the_csrf_cookie_alike_with_the_pages_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "pages-" + "s" * 40
    one = _client_replica(tmp_path / "one", monkeypatch, EVENTHIVE_PAGES_SECRET=secret)
    other = _client_replica(tmp_path / "other", monkeypatch, EVENTHIVE_PAGES_SECRET=secret)

    assert signing_secret(one) == signing_secret(other) == secret


def test_client_replicas_without_the_pages_secret_each_sign_with_a_secret_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _client_replica(tmp_path / "one", monkeypatch)
    other = _client_replica(tmp_path / "other", monkeypatch)

    assert signing_secret(one) != signing_secret(other)


def test_a_short_pages_secret_is_refused_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="EVENTHIVE_PAGES_SECRET is too short"):
        _client_replica(tmp_path, monkeypatch, EVENTHIVE_PAGES_SECRET="short")
