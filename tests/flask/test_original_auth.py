"""The original authentication service's route tests (reference §9.1), one test per case, over the Flask test client."""

from __future__ import annotations

from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of

# --- routes/__test__/currentuser.test.ts ---------------------------------------------------------


def test_responds_with_details_about_the_current_user(api: Api) -> None:
    client = api.client()
    assert client.post("/api/users/signup", json={"email": "test@test.com", "password": "password"}).status_code == 201

    response = client.get("/api/users/currentuser")

    assert response.status_code == 200
    assert response.get_json()["currentUser"]["email"] == "test@test.com"


def test_responds_with_null_if_not_authenticated(api: Api) -> None:
    response = api.client().get("/api/users/currentuser")

    assert response.status_code == 200
    assert response.get_json() == {"currentUser": None}


# --- routes/__test__/signin.test.ts --------------------------------------------------------------


def test_fails_when_an_email_that_does_not_exist_is_supplied(api: Api) -> None:
    response = api.client().post("/api/users/signin", json={"email": "test@test.com", "password": "test"})

    assert response.status_code == 400
    assert messages_of(response) == ["Invalid credentials"]


def test_fails_when_an_incorrect_password_is_supplied(api: Api) -> None:
    client = api.client()
    assert client.post("/api/users/signup", json={"email": "test@test.com", "password": "password"}).status_code == 201

    response = client.post("/api/users/signin", json={"email": "test@test.com", "password": "incorrect password"})

    assert response.status_code == 400
    assert messages_of(response) == ["Invalid credentials"]


def test_responds_with_a_cookie_when_given_valid_credentials(api: Api) -> None:
    api.client().post("/api/users/signup", json={"email": "test@test.com", "password": "password"})

    response = api.client().post("/api/users/signin", json={"email": "test@test.com", "password": "password"})

    assert response.status_code == 200
    assert response.headers.get("Set-Cookie", "").startswith("eventhive=")


# --- routes/__test__/signout.test.ts -------------------------------------------------------------


def test_clears_the_cookie_after_signing_out(api: Api) -> None:
    """Ours names the cookie ``eventhive`` and marks it Secure and SameSite=Lax (docs/flask/api.md#the-cookie).

    The original's exact header was ``session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly``;
    ours also revokes the token (docs/compatibility.md#signout-revokes).
    """
    client = api.client()
    assert client.post("/api/users/signup", json={"email": "test@test.com", "password": "password"}).status_code == 201

    response = client.post("/api/users/signout", json={})

    assert response.status_code == 200
    assert response.get_json() == {}
    cookie = response.headers.getlist("Set-Cookie")[0]
    assert cookie.startswith("eventhive=; ")
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in cookie
    assert {"HttpOnly", "Secure", "Path=/", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}


# --- routes/__test__/signup.test.ts --------------------------------------------------------------


def test_returns_a_201_on_successful_signup(api: Api) -> None:
    response = api.client().post("/api/users/signup", json={"email": "test@test.com", "password": "password"})

    assert response.status_code == 201
    assert response.get_json() == {"email": "test@test.com", "id": response.get_json()["id"]}


def test_returns_a_400_with_an_invalid_email(api: Api) -> None:
    response = api.client().post("/api/users/signup", json={"email": "invalidemail", "password": "password"})

    assert response.status_code == 400
    assert response.get_json() == {"errors": [{"message": "Email must be valid", "field": "email"}]}


def test_returns_a_400_with_an_invalid_password(api: Api) -> None:
    response = api.client().post("/api/users/signup", json={"email": "test@test.com", "password": "p"})

    assert response.status_code == 400
    assert response.get_json() == {
        "errors": [{"message": "Password must be between 4 and 20 characters", "field": "password"}]
    }


def test_returns_a_400_with_missing_email_and_password(api: Api) -> None:
    response = api.client().post("/api/users/signup", json={})

    assert response.status_code == 400
    assert {(e["field"], e["message"]) for e in response.get_json()["errors"]} == {
        ("email", "Email must be valid"),
        ("password", "Password must be between 4 and 20 characters"),
    }


def test_disallows_duplicate_emails(api: Api) -> None:
    body = {"email": "test@test.com", "password": "password"}
    assert api.client().post("/api/users/signup", json=body).status_code == 201

    response = api.client().post("/api/users/signup", json=body)

    assert response.status_code == 400
    assert messages_of(response) == ["Email already in use"]


def test_sets_a_cookie_after_successful_signup(api: Api) -> None:
    response = api.client().post("/api/users/signup", json={"email": "test@test.com", "password": "password"})

    assert response.status_code == 201
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("eventhive=ey")  # the bare JWT
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
