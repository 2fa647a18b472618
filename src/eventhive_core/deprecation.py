"""Old public names that keep working for one release: a module ``__getattr__`` that warns on use.

A renamed or moved name is served from its old place through the module's ``__getattr__``,
so the warning comes when code uses the name, not when the old module is merely imported
(pytest collects every module of the core for its doctests, and importing must stay quiet).
Below every layer, standard library only, so any module may use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

__all__ = ["Moved", "deprecated_names"]

#: Old name → (the object it now is, the name to use instead, as it would be imported).
Moved = Mapping[str, tuple[object, str]]


def deprecated_names(module: str, moved: Moved) -> Callable[[str], object]:
    """Return a module ``__getattr__`` that serves each old name in ``moved`` with a DeprecationWarning.

    Args:
        module: The old module's ``__name__``.
        moved: Old name → (the object, its new name, e.g. ``"eventhive_core.ports.event_bus.Subscription"``).

    Examples:
        >>> import warnings
        >>> getattr_ = deprecated_names("pkg.old", {"Thing": (int, "pkg.new.Thing")})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     getattr_("Thing") is int, str(caught[0].message)
        (True, 'pkg.old.Thing is deprecated; use pkg.new.Thing (it goes in the next release)')
        >>> getattr_("Other")
        Traceback (most recent call last):
        AttributeError: module 'pkg.old' has no attribute 'Other'
    """

    def __getattr__(name: str) -> object:
        try:
            target, new_name = moved[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        warnings.warn(
            f"{module}.{name} is deprecated; use {new_name} (it goes in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return target

    return __getattr__
