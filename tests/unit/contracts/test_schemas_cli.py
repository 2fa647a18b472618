from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from eventhive_core.cli.schemas import render_schema, schemas
from eventhive_core.contracts import json_schemas

EXPECTED = [
    "expiration.complete.v1.json",
    "expiration.due.v1.json",
    "order.cancelled.v1.json",
    "order.cancelled.v2.json",
    "order.completed.v1.json",
    "order.created.v1.json",
    "order.payment_refused.v1.json",
    "payment.created.v1.json",
    "payment.refunded.v1.json",
    "ticket.created.v1.json",
    "ticket.updated.v1.json",
    "user.banned.v1.json",
    "user.signed_out.v1.json",
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_schemas_writes_one_file_per_event_type_and_version_and_names_each(runner, tmp_path):
    out = tmp_path / "schemas" / "nested"

    result = runner.invoke(schemas, ["--out", str(out)])

    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == EXPECTED
    for name in EXPECTED:
        assert f"created   {out / name}" in result.output
    count = len(EXPECTED)
    assert result.output.splitlines()[-1] == f"{count} JSON Schemas in {out}: {count} created, 0 updated, 0 unchanged."


def test_each_file_is_pretty_json_with_sorted_keys_and_a_trailing_newline(runner, tmp_path):
    runner.invoke(schemas, ["--out", str(tmp_path)])

    for name, schema in json_schemas().items():
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert json.loads(text) == schema
        assert text == render_schema(schema)
        assert text.endswith("}\n")
        assert text.startswith('{\n  "$id": ')


def test_running_it_again_reports_every_file_unchanged(runner, tmp_path):
    runner.invoke(schemas, ["--out", str(tmp_path)])

    result = runner.invoke(schemas, ["--out", str(tmp_path)])

    assert result.exit_code == 0
    assert result.output.count("unchanged ") == len(EXPECTED)
    assert f"0 created, 0 updated, {len(EXPECTED)} unchanged." in result.output


def test_an_additive_difference_is_overwritten_and_reported_as_updated(runner, tmp_path):
    runner.invoke(schemas, ["--out", str(tmp_path)])
    path = tmp_path / "order.created.v1.json"
    older = json.loads(path.read_text())
    older["properties"]["data"]["description"] = "An older wording."
    path.write_text(json.dumps(older))

    result = runner.invoke(schemas, ["--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert f"updated   {path}" in result.output
    assert path.read_text() == render_schema(json_schemas()["order.created.v1.json"])


def test_a_non_additive_difference_is_refused_and_nothing_is_written(runner, tmp_path):
    runner.invoke(schemas, ["--out", str(tmp_path)])
    published = tmp_path / "order.created.v1.json"
    older = json.loads(published.read_text())
    older["properties"]["data"]["properties"]["seat"] = {"type": "string"}  # a field we "no longer" produce
    published.write_text(json.dumps(older))
    (tmp_path / "user.banned.v1.json").unlink()

    result = runner.invoke(schemas, ["--out", str(tmp_path)])

    assert result.exit_code == 1
    assert "order.created.v1.json: field 'data.seat' was removed or renamed" in result.output
    assert "bump the version" in result.output
    assert "nothing was written" in result.output
    assert json.loads(published.read_text()) == older
    assert not (tmp_path / "user.banned.v1.json").exists()


def test_force_overwrites_a_non_additive_difference(runner, tmp_path):
    runner.invoke(schemas, ["--out", str(tmp_path)])
    published = tmp_path / "order.created.v1.json"
    published.write_text('{"type": "object", "properties": {"seat": {"type": "string"}}}')

    result = runner.invoke(schemas, ["--out", str(tmp_path), "--force"])

    assert result.exit_code == 0, result.output
    assert published.read_text() == render_schema(json_schemas()["order.created.v1.json"])


def test_files_no_longer_generated_are_pointed_out_but_kept(runner, tmp_path):
    (tmp_path / "order.shipped.v1.json").write_text("{}")

    result = runner.invoke(schemas, ["--out", str(tmp_path)])

    assert result.exit_code == 0
    assert f"stale     {tmp_path / 'order.shipped.v1.json'}" in result.output
    assert (tmp_path / "order.shipped.v1.json").exists()


def test_out_is_required(runner):
    result = runner.invoke(schemas, [])

    assert result.exit_code == 2
    assert "Missing option '--out'" in result.output


def test_the_eventhive_command_offers_schemas(runner, tmp_path):
    from eventhive_core.cli.main import cli

    result = runner.invoke(cli, ["schemas", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == EXPECTED
