"""Every hook a plugin can implement has its section in docs/plugins/hooks.md, and no other hook does."""

from __future__ import annotations

import re
from pathlib import Path

import pluggy

from eventhive_core.plugins.manager import make_plugin_manager
from eventhive_core.settings import HiveSettings

HOOKS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"
SECTION = re.compile(r"^## (eventhive_\w+)\((.*)\)\s*$", re.MULTILINE)


def _spec_hooks() -> dict[str, pluggy.HookCaller]:
    # Every installed plugin loads, so hooks other packages add (eventhive_add_hookspecs) count too.
    pm = make_plugin_manager(HiveSettings())
    return {name: caller for name, caller in vars(pm.hook).items() if caller.spec is not None}


def _documented() -> dict[str, str]:
    return dict(SECTION.findall(HOOKS_PAGE.read_text(encoding="utf-8")))


def test_every_hook_has_a_section_in_the_hooks_page() -> None:
    missing = sorted(set(_spec_hooks()) - set(_documented()))

    assert not missing, f"Add a '## <hook>(<args>)' section to docs/plugins/hooks.md for: {', '.join(missing)}"


def test_the_hooks_page_documents_no_hook_that_does_not_exist() -> None:
    unknown = sorted(set(_documented()) - set(_spec_hooks()))

    assert not unknown, f"docs/plugins/hooks.md documents hooks that do not exist: {', '.join(unknown)}"


def test_each_section_heading_lists_the_hooks_arguments_in_order() -> None:
    documented = _documented()
    wrong = {
        name: (documented[name], ", ".join(caller.spec.argnames))
        for name, caller in _spec_hooks().items()
        if caller.spec is not None and name in documented and documented[name] != ", ".join(caller.spec.argnames)
    }

    assert not wrong, f"Fix these headings in docs/plugins/hooks.md (documented, actual): {wrong}"
