"""The ``acyclic_modules`` import-linter contract in tools/ (what ``lint-imports`` runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import grimp
import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "import_contracts.py"


@pytest.fixture(scope="module")
def contracts() -> ModuleType:
    # tools/ is not a package on the test path (lint-imports finds it from the repository root),
    # and the sdist does not carry it.
    if not TOOLS.is_file():
        pytest.skip("tools/ is not in this tree")
    spec = importlib.util.spec_from_file_location("import_contracts_under_test", TOOLS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def check(contracts: ModuleType, package: str, **options: object) -> object:
    contract = contracts.AcyclicModulesContract(
        name="No cycles", session_options={}, contract_options={"containers": [package], **options}
    )
    return contract.check(grimp.build_graph(package, cache_dir=None), verbose=False)


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # grimp reads the packages' source without importing them: only finding them needs the path.
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_strongly_connected_returns_only_rings_of_more_than_one_module(contracts: ModuleType) -> None:
    imports = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a", "d"], "e": ["f"], "f": ["e"]}

    assert contracts.strongly_connected(imports) == [["a", "b", "c"], ["e", "f"]]


def test_a_ring_through_an_import_inside_a_function_breaks_the_contract_and_names_its_modules(
    contracts: ModuleType, on_path: Path
) -> None:
    write_package(
        on_path,
        {
            "cyc_a/__init__.py": "",
            "cyc_a/one.py": "from cyc_a import two\n",
            "cyc_a/two.py": "def later():\n    from cyc_a import three\n",
            "cyc_a/three.py": "import cyc_a.one\n",
            "cyc_a/alone.py": "import cyc_a.one\n",
        },
    )

    result = check(contracts, "cyc_a")

    assert not result.kept
    [cycle] = result.metadata["cycles"]
    assert cycle["modules"] == ["cyc_a.one", "cyc_a.three", "cyc_a.two"]
    assert ("cyc_a.two", "cyc_a.three", "2") in cycle["imports"]


def test_a_package_init_and_its_submodule_importing_each_other_is_a_cycle(contracts: ModuleType, on_path: Path) -> None:
    write_package(
        on_path, {"cyc_b/__init__.py": "from cyc_b import routes\n", "cyc_b/routes.py": "from cyc_b import x\n"}
    )

    result = check(contracts, "cyc_b")

    assert [c["modules"] for c in result.metadata["cycles"]] == [["cyc_b", "cyc_b.routes"]]


def test_an_ignored_import_keeps_the_contract_and_is_counted(contracts: ModuleType, on_path: Path) -> None:
    write_package(
        on_path, {"cyc_c/__init__.py": "", "cyc_c/a.py": "import cyc_c.b\n", "cyc_c/b.py": "import cyc_c.a\n"}
    )

    result = check(contracts, "cyc_c", ignore_imports=["cyc_c.b -> cyc_c.a"])

    assert result.kept
    assert result.ignored_import_count == 1
