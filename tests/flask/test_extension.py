"""The extension itself: init_app in the pallets style, config, per-app Hives, errors, hooks, CLI, create_app."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask

from eventhive_core import ConfigurationError, Identity, hookimpl
from eventhive_core.testing.hives import TEST_JWT_SECRET
from eventhive_flask import EventHive, create_app, current_hive
from eventhive_flask.config import DEFAULTS
from eventhive_flask.testing import TEST_CONFIG, ApiHarness, make_test_app, messages_of


def _flask(**config: Any) -> Flask:
    app = Flask("t")
    app.config.update(TEST_CONFIG)
    app.config.update(config)
    return app


def test_a_second_init_app_on_the_same_app_fails_with_a_clear_message() -> None:
    app = _flask()
    extension = EventHive(app)

    with pytest.raises(RuntimeError, match="reuse the existing EventHive instance"):
        extension.init_app(app)
    EventHive.hive_for(app).close()


def test_one_extension_serves_two_apps_with_separate_hives() -> None:
    extension = EventHive()
    first, second = _flask(), _flask()
    extension.init_app(first)
    extension.init_app(second)

    signed_up = first.test_client().post("/api/users/signup", json={"email": "a@test.com", "password": "password"})
    signin_elsewhere = second.test_client().post(
        "/api/users/signin", json={"email": "a@test.com", "password": "password"}
    )

    assert signed_up.status_code == 201
    assert signin_elsewhere.status_code == 400
    assert EventHive.hive_for(first) is not EventHive.hive_for(second)
    assert not hasattr(extension, "app")
    with first.app_context():
        assert current_hive.settings is EventHive.hive_for(first).settings
    for app in (first, second):
        EventHive.hive_for(app).close()


def test_current_hive_needs_an_app_that_was_set_up() -> None:
    bare = Flask("bare")

    with pytest.raises(RuntimeError, match=r"call EventHive.init_app\(app\) first"):
        EventHive.hive_for(bare)
    with bare.app_context(), pytest.raises(RuntimeError, match="init_app"):
        current_hive.settings  # noqa: B018


def test_every_default_is_set_without_overwriting_what_the_app_set() -> None:
    app = make_test_app(EVENTHIVE_RESERVATION_TTL=5)

    assert set(DEFAULTS) <= set(app.config)
    assert app.config["EVENTHIVE_RESERVATION_TTL"] == 5
    assert EventHive.hive_for(app).settings.ttl_seconds() == 5
    assert app.config["EVENTHIVE_COOKIE_NAME"] == "eventhive"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"EVENTHIVE_RESERVATON_TTL": 5}, "EVENTHIVE_RESERVATON_TTL"),
        ({"EVENTHIVE_RESERVATION_TTL": 0}, "reservation_ttl"),
        ({"EVENTHIVE_COOKIE_NAME": "bad name;"}, "cookie_name"),
        ({"EVENTHIVE_STORAGE": "nosuch"}, "nosuch"),
        ({"EVENTHIVE_JWT_SECRET": None, "SECRET_KEY": None}, "SECRET_KEY"),
    ],
)
def test_bad_configuration_fails_at_init_app(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        EventHive(_flask(**config))


def test_the_apps_secret_key_signs_tokens_when_no_jwt_secret_is_set() -> None:
    app = _flask(EVENTHIVE_JWT_SECRET=None, SECRET_KEY=TEST_JWT_SECRET)
    EventHive(app)

    response = app.test_client().post("/api/users/signup", json={"email": "a@test.com", "password": "password"})

    assert response.status_code == 201
    EventHive.hive_for(app).close()


def test_the_url_prefix_moves_the_api() -> None:
    app = make_test_app(EVENTHIVE_URL_PREFIX="/shop")
    client = app.test_client()

    assert client.get("/shop/api/tickets").status_code == 200
    assert client.get("/api/tickets").status_code == 404


def test_unknown_api_routes_and_methods_answer_in_the_original_shape(api: ApiHarness) -> None:
    client = api.client()

    missing = client.get("/api/nothing/here")
    wrong_method = client.patch("/api/tickets")

    assert missing.status_code == 404
    assert missing.get_json() == {"errors": [{"message": "Not Found"}]}
    assert wrong_method.status_code == 405
    assert messages_of(wrong_method) == ["Method Not Allowed"]
    assert set(wrong_method.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_paths_outside_the_api_keep_the_apps_own_error_pages() -> None:
    app = make_test_app()

    @app.errorhandler(404)
    def page_not_found(exc: Exception) -> tuple[str, int]:
        return "<h1>Lost?</h1>", 404

    assert app.test_client().get("/elsewhere").get_data(as_text=True) == "<h1>Lost?</h1>"


def test_a_body_over_the_configured_limit_gets_413_in_the_original_shape() -> None:
    app = make_test_app(EVENTHIVE_MAX_CONTENT_LENGTH=100)
    client = app.test_client()
    client.post("/api/users/signup", json={"email": "a@test.com", "password": "password"})

    response = client.post("/api/tickets", json={"title": "x" * 200, "price": 1})

    assert response.status_code == 413
    assert messages_of(response) == ["Request body too large"]


class Exploding:
    @hookimpl
    def eventhive_flask_identity(self, request: Any, hive: Any) -> None:
        raise RuntimeError("database password is hunter2")


def test_an_unexpected_error_is_a_logged_500_that_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    app = make_test_app(plugins=(Exploding(),))

    with caplog.at_level(logging.ERROR, logger="eventhive_flask"):
        response = app.test_client().get("/api/orders")

    assert response.status_code == 500
    assert response.get_json() == {"errors": [{"message": "Something went wrong"}]}
    assert "hunter2" not in response.get_data(as_text=True)
    assert any("hunter2" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


class Gateway:
    """Trusts an identity header (as behind an authenticating proxy) and adds a blueprint."""

    @hookimpl
    def eventhive_flask_identity(self, request: Any, hive: Any) -> Identity | None:
        token = request.headers.get("X-Forwarded-Token")
        return hive.authenticate(token) if token else None

    @hookimpl
    def eventhive_flask_register_blueprints(self, app: Flask, hive: Any) -> None:
        extra = Blueprint("extra", __name__)
        extra.add_url_rule("/extra", "extra", lambda: "extra page")
        app.register_blueprint(extra)


def test_plugins_can_supply_the_identity_and_add_blueprints() -> None:
    harness = ApiHarness.build(plugins=(Gateway(),))
    user = harness.user()
    token = user.get_cookie("eventhive").value  # type: ignore[union-attr]

    mine = harness.client().get("/api/users/currentuser", headers={"X-Forwarded-Token": token})

    assert mine.get_json()["currentUser"]["id"] == user.user_id  # type: ignore[attr-defined]
    assert harness.client().get("/extra").get_data(as_text=True) == "extra page"


def test_the_default_storage_is_a_sqlite_file_in_the_instance_folder(tmp_path: Path) -> None:
    app = Flask("t", instance_path=str(tmp_path / "instance"))
    app.config.update({"TESTING": True, "EVENTHIVE_JWT_SECRET": TEST_JWT_SECRET, "EVENTHIVE_SCHEDULER": "none"})
    EventHive(app)
    try:
        response = app.test_client().post("/api/users/signup", json={"email": "a@test.com", "password": "password"})
        assert response.status_code == 201
        assert (tmp_path / "instance" / "eventhive.sqlite3").is_file()
    finally:
        EventHive.hive_for(app).close()


def test_create_app_reads_the_environment_and_keeps_a_secret_in_its_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTHIVE_STORAGE", "memory")
    monkeypatch.setenv("EVENTHIVE_SCHEDULER", "none")
    monkeypatch.setenv("EVENTHIVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVENTHIVE_RESERVATION_TTL", "7")
    monkeypatch.setenv("EVENTHIVE_COOKIE_SECURE", "false")
    monkeypatch.setenv("EVENTHIVE_TEST_SOMETHING_ELSE", "ignored")

    first, second = create_app(), create_app()

    assert EventHive.hive_for(first).settings.ttl_seconds() == 7
    secret = tmp_path / "data" / "jwt-secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert first.config["EVENTHIVE_JWT_SECRET"] == second.config["EVENTHIVE_JWT_SECRET"] == secret.read_text()
    assert first.config["EVENTHIVE_COOKIE_SECURE"] == "false"
    signup = first.test_client().post("/api/users/signup", json={"email": "a@test.com", "password": "password"})
    assert "Secure" not in signup.headers["Set-Cookie"]
    for app in (first, second):
        EventHive.hive_for(app).close()


def test_the_flask_cli_group_works_on_the_apps_hive(api: ApiHarness) -> None:
    api.user("bad@test.com")
    runner = api.app.test_cli_runner()

    # The harness's app keeps memory storage in this very process, so the data is really there.
    refused = runner.invoke(args=["eventhive", "users", "ban", "bad@test.com"])
    banned = runner.invoke(args=["eventhive", "users", "ban", "bad@test.com", "--allow-memory"])
    swept = runner.invoke(args=["eventhive", "sweep", "--allow-memory"])
    unknown = runner.invoke(args=["eventhive", "users", "ban", "nobody@test.com", "--allow-memory"])
    listed = runner.invoke(args=["eventhive", "plugins"])

    assert refused.exit_code == 2
    assert "EVENTHIVE_STORAGE is memory" in refused.output
    assert banned.exit_code == 0, banned.output
    assert "Banned bad@test.com" in banned.output
    assert swept.output.strip() == "Expired 0 order(s)."
    assert unknown.exit_code != 0
    assert "flask" in listed.output
    signin = api.client().post("/api/users/signin", json={"email": "bad@test.com", "password": "password"})
    assert signin.status_code == 400


def test_health_answers_ok(api: ApiHarness) -> None:
    response = api.client().get("/api/health")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
