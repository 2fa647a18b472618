"""docs/concepts/events.md is written by hand; these tests keep its field tables true to the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eventhive_core.contracts import PAYLOADS, Envelope

PAGE = Path(__file__).parents[3] / "docs" / "concepts" / "events.md"


def section(heading: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(heading)
    following = re.search(r"^#{1,3} ", text[start + len(heading) :], flags=re.MULTILINE)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def table_fields(text: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)


@pytest.mark.parametrize(("event_type", "version"), sorted(PAYLOADS), ids=lambda value: str(value))
def test_the_events_page_lists_exactly_the_fields_of_every_payload(event_type, version):
    fields = table_fields(section(f"### `{event_type}` (v{version})"))

    assert fields == list(PAYLOADS[(event_type, version)].model_fields), (
        f"Update the `{event_type}` (v{version}) table in {PAGE} to match the payload model."
    )


def test_the_events_page_lists_exactly_the_envelope_fields():
    assert table_fields(section("## The envelope")) == list(Envelope.model_fields)


def test_the_events_page_summary_names_every_type():
    summary = section("## Event types")

    for event_type, _ in PAYLOADS:
        assert f"| `{event_type}` " in summary


def test_the_events_page_shows_how_to_get_the_schemas_and_the_nats_subjects():
    text = PAGE.read_text(encoding="utf-8")

    assert "eventhive schemas --out tests/unit/contracts/snapshots" in text
    assert "`eventhive.order.cancelled`" in text
