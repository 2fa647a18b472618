from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eventhive_core.adapters.jwt_tokens import JwtTokenService, generate_ed25519_keypair
from eventhive_core.domain.errors import ConfigurationError, NotAuthorized
from eventhive_core.domain.ids import is_valid_id
from eventhive_core.testing.fakes import FrozenClock

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
TTL = timedelta(minutes=15)
USER = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01"


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_ed25519_keypair()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def hs256() -> JwtTokenService:
    return JwtTokenService("HS256", secret=SECRET, ttl=TTL)


@pytest.fixture
def eddsa(keypair: tuple[str, str]) -> JwtTokenService:
    private_pem, public_pem = keypair
    return JwtTokenService("EdDSA", private_key=private_pem, public_key=public_pem, ttl=TTL)


@pytest.fixture(params=["HS256", "EdDSA"])
def service(request: pytest.FixtureRequest, hs256: JwtTokenService, eddsa: JwtTokenService) -> JwtTokenService:
    return hs256 if request.param == "HS256" else eddsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unb64url_json(text: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return decoded


def hs256_by_hand(payload: dict[str, object], key: bytes, header: dict[str, object] | None = None) -> str:
    signing_input = f"{b64url_json(header or {'alg': 'HS256', 'typ': 'JWT'})}.{b64url_json(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims_at(clock: FrozenClock, **overrides: object) -> dict[str, object]:
    iat = int(clock.now().timestamp())
    payload: dict[str, object] = {
        "sub": USER,
        "email": "ann@example.com",
        "jti": "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02",
        "iat": iat,
        "exp": iat + 60,
        "iss": "eventhive",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def test_a_fresh_token_verifies_and_carries_its_claims(service: JwtTokenService, clock: FrozenClock) -> None:
    issued = service.issue(USER, "ann@example.com", clock.now())

    claims = service.verify(issued.token, clock.now())

    assert claims == issued.claims
    assert claims.user_id == USER
    assert claims.email == "ann@example.com"
    assert claims.issued_at == clock.now()
    assert claims.expires_at == clock.now() + TTL
    assert is_valid_id(claims.jti)


def test_the_token_holds_the_standard_claims_and_the_pinned_algorithm(
    service: JwtTokenService, clock: FrozenClock
) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token
    header, payload, _ = token.split(".")

    assert unb64url_json(header)["alg"] == service.algorithm
    body = unb64url_json(payload)
    assert set(body) == {"sub", "email", "jti", "iat", "exp", "iss"}
    assert body["iss"] == "eventhive"
    assert body["exp"] == body["iat"] + 15 * 60  # type: ignore[operator]


def test_every_token_gets_its_own_jti(service: JwtTokenService, clock: FrozenClock) -> None:
    first = service.issue(USER, "ann@example.com", clock.now())
    second = service.issue(USER, "ann@example.com", clock.now())

    assert first.claims.jti != second.claims.jti


def test_a_token_is_valid_until_the_second_before_it_expires(service: JwtTokenService, clock: FrozenClock) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token

    clock.advance(TTL - timedelta(seconds=1))
    assert service.verify(token, clock.now()).user_id == USER

    clock.advance(seconds=1)
    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now())


def test_an_expired_token_is_refused(service: JwtTokenService, clock: FrozenClock) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token
    clock.advance(TTL + timedelta(hours=1))

    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now())


@pytest.mark.parametrize("when", [datetime(2001, 1, 1, tzinfo=UTC), datetime(2199, 1, 1, tzinfo=UTC)])
def test_validity_follows_the_injected_clock_not_the_system_clock(service: JwtTokenService, when: datetime) -> None:
    # In 2001 the token would be long expired by the system clock; in 2199 it would be issued
    # in the future. Either way only the injected `now` counts.
    clock = FrozenClock(when)
    token = service.issue(USER, "ann@example.com", clock.now()).token

    assert service.verify(token, clock.now()).issued_at == when
    clock.advance(TTL)
    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now())


def test_a_token_issued_after_now_is_refused(service: JwtTokenService, clock: FrozenClock) -> None:
    token = service.issue(USER, "ann@example.com", clock.now() + timedelta(minutes=5)).token

    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now())


def test_a_tampered_payload_is_refused(service: JwtTokenService, clock: FrozenClock) -> None:
    header, payload, signature = service.issue(USER, "ann@example.com", clock.now()).token.split(".")
    body = unb64url_json(payload)
    body["sub"] = "someone-else"

    with pytest.raises(NotAuthorized):
        service.verify(f"{header}.{b64url_json(body)}.{signature}", clock.now())


def test_a_tampered_signature_is_refused(service: JwtTokenService, clock: FrozenClock) -> None:
    header, payload, signature = service.issue(USER, "ann@example.com", clock.now()).token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01

    with pytest.raises(NotAuthorized):
        service.verify(f"{header}.{payload}.{b64url(bytes(raw))}", clock.now())


def test_a_token_without_signature_is_refused(service: JwtTokenService, clock: FrozenClock) -> None:
    header, payload, _ = service.issue(USER, "ann@example.com", clock.now()).token.split(".")

    with pytest.raises(NotAuthorized):
        service.verify(f"{header}.{payload}.", clock.now())


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_alg_none_token_is_refused(service: JwtTokenService, clock: FrozenClock, alg: str) -> None:
    token = f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(claims_at(clock))}."

    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now())


def test_an_hs256_token_signed_with_another_secret_is_refused(hs256: JwtTokenService, clock: FrozenClock) -> None:
    other = JwtTokenService("HS256", secret="another-secret-that-is-long-enough-too!", ttl=TTL)
    token = other.issue(USER, "ann@example.com", clock.now()).token

    with pytest.raises(NotAuthorized):
        hs256.verify(token, clock.now())


def test_an_eddsa_token_signed_with_another_key_is_refused(eddsa: JwtTokenService, clock: FrozenClock) -> None:
    other_private, _ = generate_ed25519_keypair()
    token = JwtTokenService("EdDSA", private_key=other_private, ttl=TTL).issue(USER, "a@b.c", clock.now()).token

    with pytest.raises(NotAuthorized):
        eddsa.verify(token, clock.now())


def test_an_hs256_token_is_refused_by_an_eddsa_service(
    hs256: JwtTokenService, eddsa: JwtTokenService, clock: FrozenClock
) -> None:
    token = hs256.issue(USER, "ann@example.com", clock.now()).token

    with pytest.raises(NotAuthorized):
        eddsa.verify(token, clock.now())


def test_an_eddsa_token_is_refused_by_an_hs256_service(
    hs256: JwtTokenService, eddsa: JwtTokenService, clock: FrozenClock
) -> None:
    token = eddsa.issue(USER, "ann@example.com", clock.now()).token

    with pytest.raises(NotAuthorized):
        hs256.verify(token, clock.now())


def test_an_hs256_token_keyed_with_the_public_key_is_refused_by_an_eddsa_service(
    eddsa: JwtTokenService, keypair: tuple[str, str], clock: FrozenClock
) -> None:
    # The classic algorithm-confusion attack: the public key is public, so an attacker can
    # "sign" HS256 with it and hope the verifier uses it as an HMAC secret.
    token = hs256_by_hand(claims_at(clock), keypair[1].encode())

    with pytest.raises(NotAuthorized):
        eddsa.verify(token, clock.now())


def test_a_token_signed_by_hand_with_the_right_secret_verifies(hs256: JwtTokenService, clock: FrozenClock) -> None:
    # Guards the hand-made tokens below: they fail for the reason each test names, not by accident.
    assert hs256.verify(hs256_by_hand(claims_at(clock), SECRET.encode()), clock.now()).user_id == USER


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti", "iss", "email"])
def test_a_token_missing_a_required_claim_is_refused(hs256: JwtTokenService, clock: FrozenClock, missing: str) -> None:
    token = hs256_by_hand(claims_at(clock, **{missing: None}), SECRET.encode())

    with pytest.raises(NotAuthorized):
        hs256.verify(token, clock.now())


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"exp": "tomorrow"},
        {"exp": 1e300},
        {"exp": True},
        {"iat": "now"},
        {"exp": 10**30},
        {"sub": 42},
        {"sub": ""},
        {"jti": 7},
        {"email": ["ann@example.com"]},
        {"nbf": 4102444800},
    ],
)
def test_a_token_with_a_malformed_or_foreign_claim_is_refused(
    hs256: JwtTokenService, clock: FrozenClock, overrides: dict[str, object]
) -> None:
    token = hs256_by_hand(claims_at(clock, **overrides), SECRET.encode())

    with pytest.raises(NotAuthorized):
        hs256.verify(token, clock.now())


def test_a_service_with_another_issuer_refuses_our_tokens(hs256: JwtTokenService, clock: FrozenClock) -> None:
    token = hs256.issue(USER, "ann@example.com", clock.now()).token
    other = JwtTokenService("HS256", secret=SECRET, ttl=TTL, issuer="someone-else")

    with pytest.raises(NotAuthorized):
        other.verify(token, clock.now())


@pytest.mark.parametrize(
    "garbage", ["", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30.", "\x00", "é.é.é", None, 42]
)
def test_garbage_is_refused(service: JwtTokenService, clock: FrozenClock, garbage: object) -> None:
    with pytest.raises(NotAuthorized):
        service.verify(garbage, clock.now())  # type: ignore[arg-type]


def test_a_verify_only_eddsa_service_checks_tokens_but_cannot_issue(
    eddsa: JwtTokenService, keypair: tuple[str, str], clock: FrozenClock
) -> None:
    verifier = JwtTokenService("EdDSA", public_key=keypair[1], ttl=TTL)
    token = eddsa.issue(USER, "ann@example.com", clock.now()).token

    assert verifier.verify(token, clock.now()).user_id == USER
    assert not verifier.can_issue
    with pytest.raises(ConfigurationError, match="no private key"):
        verifier.issue(USER, "ann@example.com", clock.now())


def test_the_public_key_is_derived_from_the_private_key_when_omitted(
    eddsa: JwtTokenService, keypair: tuple[str, str], clock: FrozenClock
) -> None:
    signer = JwtTokenService("EdDSA", private_key=keypair[0], ttl=TTL)

    assert eddsa.verify(signer.issue(USER, "a@b.c", clock.now()).token, clock.now()).user_id == USER


def test_a_token_minted_by_plain_pyjwt_with_our_key_verifies(keypair: tuple[str, str], clock: FrozenClock) -> None:
    # Interoperability: a token minted by another PyJWT user with our key and claims is accepted.
    private_key = serialization.load_pem_private_key(keypair[0].encode(), password=None)
    token = jwt.encode(claims_at(clock), private_key, algorithm="EdDSA")  # type: ignore[arg-type]
    verifier = JwtTokenService("EdDSA", public_key=keypair[1], ttl=TTL)

    assert verifier.verify(token, clock.now()).email == "ann@example.com"


@pytest.mark.parametrize("secret", ["", "short", "x" * 31, "é" * 15])
def test_a_short_hs256_secret_is_refused_at_construction_without_echoing_it(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="at least 32") as caught:
        JwtTokenService("HS256", secret=secret, ttl=TTL)

    if secret:
        assert secret not in str(caught.value)


def test_a_32_byte_secret_is_enough() -> None:
    assert JwtTokenService("HS256", secret="x" * 32, ttl=TTL).can_issue


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "HS256"}, "needs a secret"),
        ({"algorithm": "EdDSA"}, "EdDSA needs"),
        ({"algorithm": "RS256", "secret": SECRET}, "Unknown JWT algorithm"),
        ({"algorithm": "none", "secret": SECRET}, "Unknown JWT algorithm"),
        ({"algorithm": "EdDSA", "private_key": "not a pem"}, "not an unencrypted PEM private key"),
        ({"algorithm": "EdDSA", "public_key": "not a pem"}, "not a PEM public key"),
        ({"algorithm": "HS256", "secret": SECRET, "ttl": timedelta(0)}, "at least one second"),
        ({"algorithm": "HS256", "secret": SECRET, "issuer": ""}, "issuer"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("ttl", TTL)
    with pytest.raises(ConfigurationError, match=message):
        JwtTokenService(**kwargs)  # type: ignore[arg-type]


def test_keys_that_do_not_belong_together_are_refused(keypair: tuple[str, str]) -> None:
    _, other_public = generate_ed25519_keypair()

    with pytest.raises(ConfigurationError, match="does not belong"):
        JwtTokenService("EdDSA", private_key=keypair[0], public_key=other_public, ttl=TTL)


def test_a_key_of_another_type_is_refused_for_eddsa() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    with pytest.raises(ConfigurationError, match="Ed25519 private key"):
        JwtTokenService("EdDSA", private_key=private_pem, ttl=TTL)
    with pytest.raises(ConfigurationError, match="Ed25519 public key"):
        JwtTokenService("EdDSA", public_key=public_pem, ttl=TTL)


def test_secrets_and_private_keys_never_appear_in_the_repr(keypair: tuple[str, str]) -> None:
    hs = JwtTokenService("HS256", secret=SECRET, ttl=TTL)
    ed = JwtTokenService("EdDSA", private_key=keypair[0], ttl=TTL)
    private_body = "".join(keypair[0].splitlines()[1:-1])

    assert SECRET not in repr(hs)
    assert SECRET not in str(hs)
    assert private_body not in repr(ed)
    assert repr(hs) == "JwtTokenService(algorithm='HS256', issuer='eventhive', ttl=900s, can_issue=True)"


def test_a_naive_now_is_a_programming_error(hs256: JwtTokenService) -> None:
    with pytest.raises(ValueError, match="aware"):
        hs256.issue(USER, "ann@example.com", datetime(2026, 1, 1))


def test_the_generated_keypair_is_a_matching_ed25519_pair(clock: FrozenClock) -> None:
    private_pem, public_pem = generate_ed25519_keypair()
    signer = JwtTokenService("EdDSA", private_key=private_pem, public_key=public_pem, ttl=TTL)

    assert signer.verify(signer.issue(USER, "a@b.c", clock.now()).token, clock.now()).user_id == USER
    assert generate_ed25519_keypair()[0] != private_pem


def test_a_token_checked_once_is_not_checked_for_its_signature_again(
    service: JwtTokenService, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token
    decoded: list[str] = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: decoded.append(args[0]) or real_decode(*args, **kwargs))

    first = service.verify(token, clock.now())
    second = service.verify(token, clock.now() + timedelta(minutes=1))

    assert first == second
    assert decoded == [token]


def test_a_remembered_token_is_still_refused_once_it_expires(service: JwtTokenService, clock: FrozenClock) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token
    service.verify(token, clock.now())

    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now() + TTL)


def test_a_remembered_token_is_refused_before_it_was_issued(service: JwtTokenService, clock: FrozenClock) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token
    service.verify(token, clock.now())

    with pytest.raises(NotAuthorized):
        service.verify(token, clock.now() - timedelta(seconds=1))


def test_a_bad_token_is_refused_every_time_and_not_remembered(
    service: JwtTokenService, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = service.issue(USER, "ann@example.com", clock.now()).token
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    decoded: list[str] = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: decoded.append(args[0]) or real_decode(*args, **kwargs))

    for _ in range(2):
        with pytest.raises(NotAuthorized):
            service.verify(tampered, clock.now())

    assert decoded == [tampered, tampered]


def test_a_token_with_an_expiry_beyond_any_calendar_is_refused_not_an_error(clock: FrozenClock) -> None:
    now = int(clock.now().timestamp())
    claims = {"sub": USER, "email": "a@example.com", "jti": "j", "iat": now, "exp": 10**15, "iss": "eventhive"}
    token = jwt.encode(claims, SECRET, algorithm="HS256")

    with pytest.raises(NotAuthorized):
        JwtTokenService("HS256", secret=SECRET, ttl=TTL).verify(token, clock.now())
