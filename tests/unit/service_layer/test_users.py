from __future__ import annotations

import json

import pytest

from eventhive_core import (
    BanUser,
    EmailInUse,
    Hive,
    InvalidCredentials,
    NotAuthorized,
    NotFound,
    SignIn,
    SignOut,
    SignUp,
    ValidationFailed,
)
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive


def test_signing_up_returns_the_user_and_a_token_that_authenticates(hive: Hive) -> None:
    signed = hive.handle(SignUp(email="Ann@Example.com", password="password"))
    assert signed.user.email == "ann@example.com"
    assert hive.authenticate(signed.token.token).user_id == signed.user.id


def test_an_email_is_taken_whatever_its_case(hive: Hive) -> None:
    hive.handle(SignUp(email="ann@example.com", password="password"))
    with pytest.raises(EmailInUse) as caught:
        hive.handle(SignUp(email="ANN@example.com", password="password"))
    assert caught.value.to_dict() == {"errors": [{"message": "Email already in use"}]}


def test_a_bad_sign_up_reports_every_failing_rule_with_its_field(hive: Hive) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hive.handle(SignUp(email="invalidemail", password="p"))
    assert caught.value.serialize() == [
        {"message": "Email must be valid", "field": "email"},
        {"message": "Password must be between 4 and 20 characters", "field": "password"},
    ]


def test_signing_in_with_the_right_password_issues_a_token(hive: Hive) -> None:
    hive.handle(SignUp(email="ann@example.com", password="password"))
    signed = hive.handle(SignIn(email="ann@example.com", password="password"))
    assert hive.authenticate(signed.token.token).email == "ann@example.com"


@pytest.mark.parametrize(("email", "password"), [("nobody@example.com", "password"), ("ann@example.com", "wrong")])
def test_unknown_emails_and_wrong_passwords_get_the_same_answer(hive: Hive, email: str, password: str) -> None:
    hive.handle(SignUp(email="ann@example.com", password="password"))
    with pytest.raises(InvalidCredentials) as caught:
        hive.handle(SignIn(email=email, password=password))
    assert caught.value.message == "Invalid credentials"


def test_the_password_is_not_trimmed(hive: Hive) -> None:
    hive.handle(SignUp(email="ann@example.com", password=" pass "))
    with pytest.raises(InvalidCredentials):
        hive.handle(SignIn(email="ann@example.com", password="pass"))
    hive.handle(SignIn(email="ann@example.com", password=" pass "))


def test_signing_out_revokes_that_token_only(hive: Hive) -> None:
    first = hive.handle(SignUp(email="ann@example.com", password="password")).token.token
    second = hive.handle(SignIn(email="ann@example.com", password="password")).token.token
    hive.handle(SignOut(token=first))
    with pytest.raises(NotAuthorized):
        hive.authenticate(first)
    assert hive.authenticate(second).email == "ann@example.com"


def test_signing_out_with_a_garbage_token_does_nothing(hive: Hive) -> None:
    assert hive.handle(SignOut(token="not-a-token")) is None


def test_an_expired_token_is_refused(hive: Hive, clock: FrozenClock) -> None:
    token = hive.handle(SignUp(email="ann@example.com", password="password")).token.token
    clock.advance(seconds=hive.settings.token_ttl.total_seconds() + 1)
    with pytest.raises(NotAuthorized):
        hive.authenticate(token)


def test_a_banned_user_cannot_sign_in_and_their_tokens_die(hive: Hive) -> None:
    token = hive.handle(SignUp(email="ann@example.com", password="password")).token.token
    view = hive.handle(BanUser(email="ann@example.com"))
    assert view.banned
    with pytest.raises(NotAuthorized):
        hive.authenticate(token)
    with pytest.raises(InvalidCredentials):
        hive.handle(SignIn(email="ann@example.com", password="password"))


def test_banning_publishes_user_banned_once(hive: Hive) -> None:
    hive.handle(SignUp(email="ann@example.com", password="password"))
    hive.handle(BanUser(email="ann@example.com"))
    hive.handle(BanUser(email="ann@example.com"))
    with hive.uow() as uow:
        assert uow.outbox.pending() == 1


def test_banning_an_unknown_email_is_not_found(hive: Hive) -> None:
    with pytest.raises(NotFound):
        hive.handle(BanUser(email="nobody@example.com"))


def test_signing_out_publishes_user_signed_out_with_the_token_id_and_its_expiry(clock: FrozenClock) -> None:
    bus = RecordingBus()
    with make_test_hive(clock, event_bus=bus) as hive:
        signed = hive.handle(SignUp(email="ann@example.com", password="password"))
        hive.handle(SignOut(token=signed.token.token))
        hive.relay_outbox()

    [message] = bus.of_type("user:signed_out")
    assert json.loads(message.body)["data"] == {
        "user_id": signed.user.id,
        "token_id": signed.token.claims.jti,
        "expires_at": signed.token.claims.expires_at.isoformat().replace("+00:00", "Z"),
    }


def test_signing_out_twice_with_one_token_publishes_once(clock: FrozenClock) -> None:
    bus = RecordingBus()
    with make_test_hive(clock, event_bus=bus) as hive:
        token = hive.handle(SignUp(email="ann@example.com", password="password")).token.token
        hive.handle(SignOut(token=token))
        hive.handle(SignOut(token=token))
        hive.relay_outbox()

    assert bus.types().count("user:signed_out") == 1
