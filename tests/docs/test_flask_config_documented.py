"""Every Flask config key has a row in docs/flask/configuration.md and an attribute docstring."""

from __future__ import annotations

import ast
import inspect
import itertools
import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from eventhive_flask import config

PAGE = Path(__file__).resolve().parents[2] / "docs" / "flask" / "configuration.md"
ROW = re.compile(r"^\| `(EVENTHIVE_[A-Z0-9_]+)` \|", re.MULTILINE)


def _documented() -> set[str]:
    return set(ROW.findall(PAGE.read_text(encoding="utf-8")))


def test_every_config_key_has_a_row_in_the_configuration_page() -> None:
    missing = sorted(set(config.DEFAULTS) - _documented())

    assert not missing, f"Add a row to docs/flask/configuration.md for: {', '.join(missing)}"


def test_every_config_key_has_an_attribute_docstring() -> None:
    body = ast.parse(inspect.getsource(config.ConfigDefaults)).body[0].body  # type: ignore[attr-defined]
    documented = set()
    for node, following in itertools.pairwise(body):
        target = getattr(node, "target", None) or (node.targets[0] if isinstance(node, ast.Assign) else None)
        if (
            isinstance(target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
        ):
            documented.add(target.id)

    assert set(config.DEFAULTS) <= documented


def test_every_core_setting_is_a_config_key() -> None:
    from eventhive_core import HiveSettings

    assert {f"EVENTHIVE_{name.upper()}" for name in HiveSettings.model_fields} <= set(config.DEFAULTS)
