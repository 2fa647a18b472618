"""Fixtures for plugin tests: throw-away distributions with ``eventhive`` entry points, on sys.path."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eventhive_core.settings import HiveSettings

MakeDistribution = Callable[..., Path]


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path (found by importlib.metadata too); its modules are forgotten afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))  # also invalidates import caches
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if str(site) in str(getattr(module, "__file__", "") or ""):
            del sys.modules[name]


@pytest.fixture
def make_distribution(site_dir: Path) -> MakeDistribution:
    """Write an installed distribution (dist-info + modules) into ``site_dir``, as pip would."""

    def make(name: str, *, version: str = "1.0", entry_points: dict[str, str], modules: dict[str, str]) -> Path:
        dist_info = site_dir / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[eventhive]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site_dir / f"{module}.py").write_text(textwrap.dedent(source))
        return dist_info

    return make


@pytest.fixture
def no_entry_points() -> HiveSettings:
    """Settings that load built-ins only, whatever else is installed in this environment."""
    return HiveSettings(load_plugins=())
