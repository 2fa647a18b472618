"""Custom import-linter contract types, loaded by ``lint-imports`` from the repository root.

``lint-imports`` puts the current directory on ``sys.path``, so ``[tool.importlinter]`` names
them as ``tools.import_contracts.<Class>``; run it from the repository root (``.ci/run`` and
tox do). Nothing here ships in the wheel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application.contract_utils import AlertLevel, remove_ignored_imports_and_report


class AcyclicModulesContract(Contract):
    """No two modules of a container import each other, directly or through others.

    Unlike the built-in ``acyclic_siblings`` contract, which compares sibling packages as
    wholes, this one looks at single modules, so it also sees a package's ``__init__`` and one
    of its submodules importing each other. Imports inside functions count (grimp sees them);
    imports under ``if TYPE_CHECKING:`` count unless ``exclude_type_checking_imports`` is set.

    Configuration::

        [[tool.importlinter.contracts]]
        name = "No import cycles"
        type = "acyclic_modules"
        containers = ["mypackage"]
        ignore_imports = ["mypackage.a -> mypackage.b"]  # optional: known cycles, to remove

    A broken contract names each cycle's modules and the imports between them.
    """

    type_name = "acyclic_modules"

    containers = fields.ListField(subfield=fields.StringField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(AlertLevel, default=AlertLevel.ERROR)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        """Find the strongly connected components of more than one module in each container.

        Args:
            graph: A copy of the import graph (ignored imports are removed from it).
            verbose: Unused: the check is one pass.

        Returns:
            A check whose metadata holds the cycles as sorted module lists, with the imports
            (importer, imported, line numbers) between their modules.
        """
        removal = remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        cycles: list[dict[str, object]] = []
        for container in self.containers:  # type: ignore[attr-defined]
            modules = {container} | graph.find_descendants(container)
            imports = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
            for component in strongly_connected(imports):
                edges = [
                    (importer, imported, _lines(graph, importer, imported))
                    for importer in component
                    for imported in sorted(imports[importer] & set(component))
                ]
                cycles.append({"container": container, "modules": component, "imports": edges})
        return ContractCheck(
            kept=not cycles,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"cycles": cycles},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        """Print each cycle: its modules, then the imports that tie them together."""
        for cycle in check.metadata["cycles"]:
            modules = ", ".join(cycle["modules"])
            output.print_error(f"Import cycle in {cycle['container']} between: {modules}", bold=True)
            output.new_line()
            for importer, imported, lines in cycle["imports"]:
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported} (l. {lines})", bold=False)
            output.new_line()


def strongly_connected(imports: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module, each sorted, in order.

    Tarjan's algorithm, iterative so a deep package cannot exhaust the recursion limit.

    Examples:
        >>> strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]})
        [['a', 'b', 'c']]
        >>> strongly_connected({"a": ["b"], "b": []})
        []
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(imports.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def _lines(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    return ", ".join(str(d["line_number"]) for d in details) or "?"


__all__ = ["AcyclicModulesContract", "strongly_connected"]
