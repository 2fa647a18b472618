"""EdDSA keys per role: the Hive with the private key signs; a Hive with the public key alone only verifies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eventhive_core import ConfigurationError, Hive, NotAuthorized, SignIn, SigningKeyMissing, SignUp
from eventhive_core.adapters.jwt_tokens import JwtTokenService, generate_ed25519_keypair
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive

KEYS = generate_ed25519_keypair()


def signer(clock: FrozenClock, **settings: object) -> Hive:
    return make_test_hive(clock, jwt_algorithm="EdDSA", jwt_private_key=KEYS[0], **settings)


def verifier(clock: FrozenClock, **settings: object) -> Hive:
    return make_test_hive(clock, jwt_algorithm="EdDSA", jwt_public_key=KEYS[1], **settings)


def test_a_hive_with_only_the_public_key_cannot_sign_anyone_up_or_in(clock: FrozenClock) -> None:
    with verifier(clock) as hive:
        with pytest.raises(SigningKeyMissing, match="EVENTHIVE_JWT_PRIVATE_KEY") as caught:
            hive.handle(SignUp(email="ann@example.com", password="password"))
        with pytest.raises(SigningKeyMissing):
            hive.handle(SignIn(email="ann@example.com", password="password"))
        with hive.uow() as uow:
            assert uow.users.get_by_email("ann@example.com") is None

    assert isinstance(caught.value, ConfigurationError)


def test_a_token_service_with_only_the_public_key_refuses_to_issue_naming_the_setting(clock: FrozenClock) -> None:
    service = JwtTokenService("EdDSA", public_key=KEYS[1], ttl=timedelta(hours=1))

    with pytest.raises(SigningKeyMissing, match="EVENTHIVE_JWT_PRIVATE_KEY"):
        service.issue("0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01", "ann@example.com", clock.now())


def test_a_hive_with_only_the_public_key_trusts_a_token_the_signer_issued(clock: FrozenClock) -> None:
    with signer(clock) as auth, verifier(clock) as orders:
        signed = auth.handle(SignUp(email="ann@example.com", password="password"))

        identity = orders.authenticate(signed.token.token)

    assert (identity.user_id, identity.email) == (signed.user.id, "ann@example.com")


def test_a_hive_with_both_keys_signs_and_verifies_its_own_tokens(clock: FrozenClock) -> None:
    with make_test_hive(clock, jwt_algorithm="EdDSA", jwt_private_key=KEYS[0], jwt_public_key=KEYS[1]) as hive:
        token = hive.handle(SignUp(email="ann@example.com", password="password")).token.token

        assert hive.authenticate(token).email == "ann@example.com"


def test_a_hive_that_signs_still_refuses_a_valid_token_of_a_user_it_does_not_store(clock: FrozenClock) -> None:
    # The signer owns the users: a token for someone it never signed up stays refused, as before.
    with signer(clock) as auth, signer(clock) as other:
        token = auth.handle(SignUp(email="ann@example.com", password="password")).token.token

        with pytest.raises(NotAuthorized):
            other.authenticate(token)
