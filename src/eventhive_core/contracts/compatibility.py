"""Tell whether a JSON Schema may replace another under the same version (additive changes only).

Within one schema version a contract may only grow: a new *optional* field is fine, because old
consumers ignore unknown keys and new consumers fall back to the default when an old producer
leaves it out. Anything else breaks one side and needs version N+1:

- a field removed or renamed (old consumers miss it),
- a field retyped or its constraints changed, including a new enum value or a tighter bound
  (one side refuses what the other sends),
- a field newly required (new consumers refuse old producers' messages).

Annotations (`title`, `description`, `examples`, `default`, `$comment`, `deprecated`, `$id`,
`$schema`) may change freely; `$ref`s are followed so a change inside `$defs` is seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ANNOTATION_KEYWORDS", "breaking_changes"]

#: Keywords that describe a schema without changing what it accepts.
ANNOTATION_KEYWORDS = frozenset(
    {"title", "description", "examples", "default", "$comment", "deprecated", "$id", "$schema", "readOnly", "writeOnly"}
)
# Keywords whose value maps names to subschemas: the names are data, not keywords to strip.
_NAMED_SUBSCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_ADVICE = "not an additive change; bump the version"


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """List why `new` cannot replace `old` under the same schema version.

    Args:
        old: The published schema (e.g. the committed snapshot).
        new: The schema generated now.

    Returns:
        One sentence per problem, naming the field (`data.quantity`) and ending in "bump the
        version"; empty when every change is additive.

    Examples:
        >>> old = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
        >>> breaking_changes(old, {**old, "properties": {**old["properties"], "b": {"type": "string"}}})
        []
        >>> breaking_changes(old, {"type": "object", "properties": {}, "required": []})
        ["field 'a' was removed or renamed: not an additive change; bump the version"]
    """
    return _compare(old, new, "", old, new)


def _compare(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, old_root: Mapping[str, Any], new_root: Mapping[str, Any]
) -> list[str]:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    problems: list[str] = []
    old_properties = old.get("properties")
    new_properties = new.get("properties")
    if isinstance(old_properties, Mapping) and isinstance(new_properties, Mapping):
        for name, old_property in old_properties.items():
            where = f"{path}.{name}" if path else name
            if name not in new_properties:
                problems.append(f"field {where!r} was removed or renamed: {_ADVICE}")
            else:
                problems.extend(_compare(old_property, new_properties[name], where, old_root, new_root))
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            where = f"{path}.{name}" if path else name
            how = "is now required" if name in old_properties else "was added as a required field"
            problems.append(f"field {where!r} {how}: {_ADVICE}")
        skip = ANNOTATION_KEYWORDS | {"properties", "required", "$defs", "definitions"}
    else:
        skip = ANNOTATION_KEYWORDS | {"$defs", "definitions"}
    old_rest = _canonical({key: value for key, value in old.items() if key not in skip}, old_root)
    new_rest = _canonical({key: value for key, value in new.items() if key not in skip}, new_root)
    if old_rest != new_rest:
        subject = f"field {path!r}" if path else "the schema"
        problems.append(
            f"{subject} changed type or constraints from {json.dumps(old_rest, sort_keys=True)} "
            f"to {json.dumps(new_rest, sort_keys=True)}: {_ADVICE}"
        )
    return problems


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen: set[str] = set()
    while isinstance(node.get("$ref"), str):
        reference: str = node["$ref"]
        if reference in seen or not reference.startswith("#/"):
            break  # a cycle or an external reference: compare the reference text itself
        seen.add(reference)
        target: Any = root
        for step in reference[2:].split("/"):
            target = target[step.replace("~1", "/").replace("~0", "~")]
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**target, **siblings}
    return node


def _canonical(node: Any, root: Mapping[str, Any], depth: int = 0) -> Any:
    """Return `node` with `$ref`s inlined and annotations removed, for comparing what it accepts."""
    if depth > 32:  # recursive schemas: deep enough to tell them apart, bounded so it ends
        return node
    if isinstance(node, Mapping):
        node = _resolve(node, root)
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key in ANNOTATION_KEYWORDS or key in {"$defs", "definitions"}:
                continue
            if key in _NAMED_SUBSCHEMAS and isinstance(value, Mapping):
                result[key] = {name: _canonical(sub, root, depth + 1) for name, sub in value.items()}
            else:
                result[key] = _canonical(value, root, depth + 1)
        return result
    if isinstance(node, list):
        return [_canonical(item, root, depth + 1) for item in node]
    return node
