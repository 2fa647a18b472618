from __future__ import annotations

import pytest

from eventhive_core.adapters import passwords
from eventhive_core.adapters.passwords import ScryptPasswordHasher
from eventhive_core.domain.errors import ConfigurationError

# Cheap parameters keep the suite fast; one test below exercises the real defaults.
FAST = {"n": 2**10, "r": 8, "p": 1}


@pytest.fixture(scope="module")
def hasher() -> ScryptPasswordHasher:
    return ScryptPasswordHasher(**FAST)


def test_the_default_hash_embeds_its_algorithm_and_parameters_and_round_trips() -> None:
    hasher = ScryptPasswordHasher()

    stored = hasher.hash("s3cret-pass")

    algorithm, n, r, p, salt, key = stored.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(passwords._b64decode(salt)) == 16
    assert len(passwords._b64decode(key)) == 64
    assert hasher.verify("s3cret-pass", stored)
    assert not hasher.needs_rehash(stored)


def test_the_right_password_verifies(hasher: ScryptPasswordHasher) -> None:
    assert hasher.verify("correct horse battery staple", hasher.hash("correct horse battery staple"))


@pytest.mark.parametrize(
    "attempt",
    ["wrong", "", "correct horse battery stapl", "Correct horse battery staple", " correct horse battery staple"],
)
def test_a_wrong_password_does_not_verify(hasher: ScryptPasswordHasher, attempt: str) -> None:
    assert not hasher.verify(attempt, hasher.hash("correct horse battery staple"))


def test_passwords_are_not_trimmed(hasher: ScryptPasswordHasher) -> None:
    stored = hasher.hash("  spaced out  ")

    assert hasher.verify("  spaced out  ", stored)
    assert not hasher.verify("spaced out", stored)


def test_unicode_passwords_round_trip(hasher: ScryptPasswordHasher) -> None:
    stored = hasher.hash("pässwörd-密码-🔑")

    assert hasher.verify("pässwörd-密码-🔑", stored)
    assert not hasher.verify("passwort-密码-🔑", stored)


def test_two_hashes_of_one_password_use_different_salts(hasher: ScryptPasswordHasher) -> None:
    first, second = hasher.hash("same password"), hasher.hash("same password")

    assert first.split("$")[4] != second.split("$")[4]
    assert first != second
    assert hasher.verify("same password", first)
    assert hasher.verify("same password", second)


def test_a_hash_made_with_other_parameters_still_verifies_and_asks_for_a_rehash(
    hasher: ScryptPasswordHasher,
) -> None:
    old = ScryptPasswordHasher(n=2**11, r=4, p=2, salt_bytes=24, key_length=32).hash("legacy")

    assert hasher.verify("legacy", old)
    assert hasher.needs_rehash(old)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA",
        "bcrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$abc$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$1024$0$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$1024$8$1$!!!$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$",
        "scrypt$1024$8$1$$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$-1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$١٠٢٤$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        # Cost parameters a stored hash must never be allowed to impose (gigabytes of memory).
        "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$1048576$32$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
    ],
)
def test_a_malformed_stored_hash_is_not_a_match_and_never_raises(hasher: ScryptPasswordHasher, stored: str) -> None:
    assert hasher.verify("password", stored) is False
    assert hasher.needs_rehash(stored)


def test_non_text_inputs_are_not_a_match(hasher: ScryptPasswordHasher) -> None:
    stored = hasher.hash("password")

    assert hasher.verify(None, stored) is False  # type: ignore[arg-type]
    assert hasher.verify("password", None) is False  # type: ignore[arg-type]
    assert hasher.verify(b"password", stored) is False  # type: ignore[arg-type]


def test_a_tampered_key_does_not_verify(hasher: ScryptPasswordHasher) -> None:
    stored = hasher.hash("password")
    head, key = stored.rsplit("$", 1)
    raw = bytearray(passwords._b64decode(key))
    raw[-1] ^= 1

    assert not hasher.verify("password", f"{head}${passwords._b64encode(bytes(raw))}")


def test_verification_compares_the_whole_key_in_constant_time(
    hasher: ScryptPasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = passwords.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords, "compare_digest", spy)
    stored = hasher.hash("password")
    stored_key = passwords._b64decode(stored.rsplit("$", 1)[1])

    assert hasher.verify("password", stored)
    assert not hasher.verify("Password", stored)

    # Both the match and the mismatch go through hmac.compare_digest, with full-length keys
    # (no early exit on the first differing byte, no truncated comparison).
    assert len(calls) == 2
    assert all(b == stored_key and len(a) == len(b) == 64 for a, b in calls)
    assert calls[0][0] == stored_key
    assert calls[1][0] != stored_key


def test_the_module_compares_with_the_standard_constant_time_function() -> None:
    import hmac

    assert passwords.compare_digest is hmac.compare_digest


def test_a_non_text_password_cannot_be_hashed(hasher: ScryptPasswordHasher) -> None:
    with pytest.raises(TypeError):
        hasher.hash(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [
        {"n": 1000},
        {"n": 1},
        {"n": 2**21},
        {"r": 0},
        {"p": 0},
        {"salt_bytes": 8},
        {"key_length": 8},
    ],
)
def test_unsafe_parameters_are_refused_at_construction(params: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        ScryptPasswordHasher(**params)


def test_the_repr_names_the_parameters() -> None:
    assert repr(ScryptPasswordHasher(**FAST)) == "ScryptPasswordHasher(n=1024, r=8, p=1, salt_bytes=16, key_length=64)"
