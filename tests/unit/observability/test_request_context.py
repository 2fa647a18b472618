"""The request id's context variable and what an incoming id must look like to be honoured."""

from __future__ import annotations

import threading

import pytest

from eventhive_core.observability.request_context import (
    bind_request_id,
    current_request_id,
    new_request_id,
    request_id_bound,
    reset_request_id,
    sanitize_request_id,
)


@pytest.mark.parametrize("candidate", ["abc", "7f3a2c9d", "checkout-7f3a:retry/2", "a.b_c+d=e@f", "x" * 128])
def test_a_short_id_of_safe_characters_is_honoured(candidate: str) -> None:
    assert sanitize_request_id(candidate) == candidate


@pytest.mark.parametrize(
    "candidate",
    ["", "x" * 129, "two words", "line\nbreak", "tab\there", 'quote"d', "semi;colon", "ünï", "-dash-first", "<b>"],
)
def test_anything_else_is_refused_rather_than_cleaned(candidate: str) -> None:
    assert sanitize_request_id(candidate) is None


def test_a_new_id_is_safe_by_the_same_rule_and_never_repeats() -> None:
    made = {new_request_id() for _ in range(100)}

    assert len(made) == 100
    assert all(sanitize_request_id(request_id) == request_id for request_id in made)


def test_a_bound_id_is_put_back_when_the_block_ends_even_on_an_error() -> None:
    inside: list[str | None] = []

    def fail_inside() -> None:
        with request_id_bound("inner"):
            inside.append(current_request_id())
            raise RuntimeError("boom")

    with request_id_bound("outer"):
        with pytest.raises(RuntimeError, match="boom"):
            fail_inside()
        assert inside == ["inner"]
        assert current_request_id() == "outer"
        with request_id_bound(None):
            assert current_request_id() is None
        assert current_request_id() == "outer"
    assert current_request_id() is None


def test_an_id_bound_in_one_thread_is_not_seen_by_another() -> None:
    seen: list[str | None] = []
    token = bind_request_id("this-thread")
    try:
        worker = threading.Thread(target=lambda: seen.append(current_request_id()))
        worker.start()
        worker.join()
        assert current_request_id() == "this-thread"
    finally:
        reset_request_id(token)

    assert seen == [None]
