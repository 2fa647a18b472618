"""`eventhive schemas --out DIR`: write the JSON Schema of every event type and version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def render_schema(schema: dict[str, Any]) -> str:
    """Return a schema as the committed files spell it: indented, sorted keys, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@click.command("schemas")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, dir_okay=True, path_type=Path),
    help="Directory to write `<type>.v<N>.json` files into (created if missing).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite files even when the change within one version is not additive.",
)
def schemas(out_dir: Path, force: bool) -> None:
    """Write the JSON Schema of every event type and version.

    One file per schema, named like order.created.v1.json.

    Each file describes a whole message body: the envelope with `data` set to that payload's
    schema. An existing file is only replaced by an additive change unless --force is given,
    because a breaking change needs a new version, not a new file under the old name.
    """
    # Imported here so `eventhive --help` does not pay for pydantic.
    from eventhive_core.contracts import breaking_changes, json_schemas

    generated = json_schemas()
    planned: list[tuple[Path, str, str]] = []
    refusals: list[str] = []
    for file_name, schema in generated.items():
        path = out_dir / file_name
        text = render_schema(schema)
        if not path.exists():
            planned.append((path, text, "created"))
            continue
        current = path.read_text(encoding="utf-8")
        if current == text:
            planned.append((path, text, "unchanged"))
            continue
        try:
            problems = breaking_changes(json.loads(current), schema)
        except (ValueError, TypeError, KeyError) as exc:
            problems = [f"the existing file is not a readable schema ({exc})"]
        if problems and not force:
            refusals.extend(f"{file_name}: {problem}" for problem in problems)
        planned.append((path, text, "updated"))
    if refusals:
        for line in refusals:
            click.echo(f"refused  {line}", err=True)
        raise click.ClickException(
            f"{len(refusals)} change(s) are not additive; nothing was written. Add a new version of the payload "
            "instead, or pass --force if these files do not come from a published release."
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for path, text, status in planned:
        if status != "unchanged":
            path.write_text(text, encoding="utf-8")
        counts[status] += 1
        click.echo(f"{status:<9} {path}")
    stale = sorted(p.name for p in out_dir.glob("*.v*.json") if p.name not in generated)
    for name in stale:
        click.echo(f"stale     {out_dir / name} (no longer generated; delete it if that version was dropped)")
    click.echo(
        f"{len(planned)} JSON Schemas in {out_dir}: "
        f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged."
    )
