"""The extension's Hive gets the Flask hook specifications whether or not the ``flask`` entry point loads."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest
from flask import Blueprint, Flask

from eventhive_core import hookimpl
from eventhive_flask import plugin, specs_plugin
from eventhive_flask.extension import EventHive
from eventhive_flask.testing import make_test_app


class AddsABlueprint:
    @hookimpl
    def eventhive_flask_register_blueprints(self, app: Flask, hive: Any) -> None:
        extra = Blueprint("extra", __name__)
        extra.add_url_rule("/extra", "extra", lambda: "extra page")
        app.register_blueprint(extra)


@pytest.mark.parametrize(
    "restriction",
    [{"EVENTHIVE_LOAD_PLUGINS": ()}, {"EVENTHIVE_BLOCK_PLUGINS": ("flask",)}],
    ids=["no entry points loaded", "flask entry point blocked"],
)
def test_a_flask_hook_works_when_the_flask_entry_point_is_not_loaded(restriction: dict[str, object]) -> None:
    app = make_test_app(plugins=(AddsABlueprint(),), **restriction)
    try:
        pm = EventHive.hive_for(app).plugins
        assert pm.get_plugin("flask") is None
        assert app.test_client().get("/extra").get_data(as_text=True) == "extra page"
    finally:
        EventHive.hive_for(app).close()


def test_the_specifications_are_added_once_when_the_flask_entry_point_loads_too() -> None:
    app = make_test_app(plugins=(AddsABlueprint(),))
    try:
        pm = EventHive.hive_for(app).plugins
        assert pm.get_plugin("flask") is plugin
        assert pm.is_registered(specs_plugin)
        assert app.test_client().get("/extra").get_data(as_text=True) == "extra page"
    finally:
        EventHive.hive_for(app).close()


def test_the_entry_point_adds_the_specifications_with_the_specs_plugins_own_function() -> None:
    assert plugin.eventhive_add_hookspecs is specs_plugin.eventhive_add_hookspecs


def test_adding_the_specifications_twice_leaves_one() -> None:
    pm = pluggy.PluginManager("eventhive")

    specs_plugin.eventhive_add_hookspecs(pm)
    specs_plugin.eventhive_add_hookspecs(pm)

    assert pm.hook.eventhive_flask_register_blueprints.has_spec()
    assert pm.hook.eventhive_flask_identity.has_spec()
