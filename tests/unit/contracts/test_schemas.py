"""The published JSON Schemas: snapshots, additive-only changes within a version, and real messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ClassVar

import pytest
from pydantic import Field

from eventhive_core.contracts import (
    CURRENT_VERSION,
    PAYLOADS,
    Payload,
    breaking_changes,
    json_schemas,
    to_envelope,
    to_message,
)
from eventhive_core.contracts.payloads import CancelReasonText, EntityId, EntityVersion, Units

SNAPSHOTS = Path(__file__).parent / "snapshots"
COMMITTED = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
REGENERATE = "eventhive schemas --out tests/unit/contracts/snapshots"


def committed() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(SNAPSHOTS.glob("*.json"))}


def test_there_is_one_schema_per_event_type_and_version_named_after_it():
    assert sorted(json_schemas()) == sorted(f"{name.replace(':', '.')}.v{version}.json" for name, version in PAYLOADS)
    assert "order.created.v1.json" in json_schemas()


def test_each_schema_is_the_envelope_with_its_payload_as_data():
    schema = json_schemas()["order.created.v1.json"]

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:eventhive:schema:order.created.v1"
    assert schema["title"] == "order:created v1"
    assert schema["properties"]["type"]["const"] == "order:created"
    assert schema["properties"]["version"]["const"] == 1
    assert schema["required"] == ["id", "type", "version", "occurred_at", "producer", "data"]
    assert schema["properties"]["data"]["properties"]["expires_at"]["format"] == "date-time"
    assert "quantity" in schema["properties"]["data"]["required"]


def test_the_committed_schemas_equal_the_generated_ones():
    generated = json_schemas()
    on_disk = committed()

    missing = sorted(set(generated) - set(on_disk))
    stale = sorted(set(on_disk) - set(generated))
    changed = sorted(name for name in set(generated) & set(on_disk) if generated[name] != on_disk[name])
    drift = missing + stale + changed
    assert not drift, (
        f"The event schemas changed (missing: {missing}, no longer generated: {stale}, changed: {changed}). "
        f"If the change is intended and test_no_schema_changed_incompatibly_within_its_version passes, "
        f"regenerate the snapshots with `{REGENERATE}` (delete files for versions you dropped) and commit them."
    )


def test_no_schema_changed_incompatibly_within_its_version():
    generated = json_schemas()
    problems = [
        f"{name}: {problem}"
        for name, snapshot in committed().items()
        if name in generated
        for problem in breaking_changes(snapshot, generated[name])
    ]
    assert not problems, "Non-additive change to a published event schema:\n" + "\n".join(problems)


def test_the_snapshots_are_written_as_the_cli_writes_them():
    for path in SNAPSHOTS.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n", path.name


def test_every_message_we_produce_validates_against_its_published_schema(sample_event):
    jsonschema = pytest.importorskip("jsonschema", reason="needs the test extra: pip install -e '.[test]'")
    envelope = to_envelope(sample_event, producer="eventhive/orders@0.1.0", occurred_at=COMMITTED)
    schema = committed()[f"{sample_event.type.replace(':', '.')}.v{CURRENT_VERSION[sample_event.type]}.json"]
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    checker.validate(json.loads(to_message(envelope).body))


def test_the_published_schema_refuses_what_our_models_refuse(order_created):
    jsonschema = pytest.importorskip("jsonschema", reason="needs the test extra: pip install -e '.[test]'")
    schema = committed()["order.created.v1.json"]
    body = json.loads(to_message(to_envelope(order_created, producer="p", occurred_at=COMMITTED)).body)
    checker = jsonschema.Draft202012Validator(schema)

    for field, bad in [("quantity", 0), ("currency", "eur"), ("status", "shipped"), ("ticket_id", "42")]:
        broken = {**body, "data": {**body["data"], field: bad}}
        assert not checker.is_valid(broken), field
    assert not checker.is_valid({**body, "type": "order:cancelled"})


# The checker itself: each variant below replaces order:cancelled v1 the way a careless edit would.


class WithoutReason(Payload):
    """order:cancelled with `reason` removed."""

    event_type: ClassVar[str] = "order:cancelled"
    schema_version: ClassVar[int] = 1
    id: EntityId
    version: EntityVersion
    ticket_id: EntityId
    quantity: Units


class QuantityAsText(WithoutReason):
    """order:cancelled with `quantity` retyped to a string."""

    quantity: str  # type: ignore[assignment]
    reason: CancelReasonText


class QuantityAtLeastTwo(WithoutReason):
    """order:cancelled with a tighter bound on `quantity`."""

    quantity: Annotated[int, Field(ge=2)]
    reason: CancelReasonText


class RequiresNote(WithoutReason):
    """order:cancelled with a new required field."""

    reason: CancelReasonText
    note: str


class OptionalNote(WithoutReason):
    """order:cancelled with a new optional field: additive."""

    reason: CancelReasonText
    note: str | None = None
    """Free text from whoever cancelled."""


class Reworded(WithoutReason):
    """order:cancelled with only its descriptions changed: additive."""

    reason: CancelReasonText
    """Who or what cancelled it."""


def schema_with(monkeypatch, model: type[Payload]) -> dict:
    monkeypatch.setitem(PAYLOADS, ("order:cancelled", 1), model)
    return json_schemas()["order.cancelled.v1.json"]


@pytest.fixture
def published() -> dict:
    return json_schemas()["order.cancelled.v1.json"]


def test_the_checker_catches_a_removed_field(monkeypatch, published):
    assert breaking_changes(published, schema_with(monkeypatch, WithoutReason)) == [
        "field 'data.reason' was removed or renamed: not an additive change; bump the version"
    ]


def test_the_checker_catches_a_retyped_field(monkeypatch, published):
    (problem,) = breaking_changes(published, schema_with(monkeypatch, QuantityAsText))

    assert problem.startswith("field 'data.quantity' changed type or constraints from ")
    assert '"type": "integer"' in problem
    assert '"type": "string"' in problem
    assert problem.endswith("bump the version")


def test_the_checker_catches_a_tighter_bound(monkeypatch, published):
    (problem,) = breaking_changes(published, schema_with(monkeypatch, QuantityAtLeastTwo))

    assert problem.startswith("field 'data.quantity' changed type or constraints from ")
    assert '"minimum": 1' in problem
    assert '"minimum": 2' in problem


def test_the_checker_catches_a_newly_required_field(monkeypatch, published):
    assert breaking_changes(published, schema_with(monkeypatch, RequiresNote)) == [
        "field 'data.note' was added as a required field: not an additive change; bump the version"
    ]


def test_the_checker_catches_an_existing_field_becoming_required():
    old = {"type": "object", "properties": {"note": {"type": "string"}}, "required": []}
    new = {**old, "required": ["note"]}

    assert breaking_changes(old, new) == ["field 'note' is now required: not an additive change; bump the version"]


def test_the_checker_accepts_a_new_optional_field(monkeypatch, published):
    assert breaking_changes(published, schema_with(monkeypatch, OptionalNote)) == []


def test_the_checker_ignores_reworded_descriptions_and_titles(monkeypatch, published):
    new = schema_with(monkeypatch, Reworded)

    assert new != published
    assert breaking_changes(published, new) == []


def test_the_checker_catches_a_new_enum_value_because_old_consumers_refuse_it(published):
    new = json.loads(json.dumps(published))
    new["properties"]["data"]["properties"]["reason"]["enum"].append("fraud")

    assert breaking_changes(published, new)[0].startswith("field 'data.reason' changed type or constraints")


def test_the_checker_follows_references_into_defs():
    old = {
        "type": "object",
        "properties": {"seat": {"$ref": "#/$defs/Seat"}},
        "$defs": {"Seat": {"type": "object", "properties": {"row": {"type": "integer"}}, "required": ["row"]}},
    }
    new = json.loads(json.dumps(old))
    new["$defs"]["Seat"]["properties"]["row"] = {"type": "string"}

    assert breaking_changes(old, new)[0].startswith("field 'seat.row' changed type or constraints")
    assert breaking_changes(old, old) == []
