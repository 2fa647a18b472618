"""Prove that eventhive_core works with no extras installed.

Run in an environment where the package was installed without extras (``tox -e core-only``). It
imports every ``eventhive_core`` module; only the modules listed in ``NEEDS_AN_EXTRA`` may fail,
and only because a package of an extra is missing. Flask must not be installed, and nothing the
core imports may have pulled in Flask or the Flask extension.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys

#: Modules (and their submodules) that need an optional extra, with the extra's top-level packages.
NEEDS_AN_EXTRA: dict[str, frozenset[str]] = {
    "eventhive_core.adapters.celery": frozenset({"celery", "kombu", "redis"}),
    "eventhive_core.adapters.nats": frozenset({"nats"}),
    "eventhive_core.adapters.stripe_gateway": frozenset({"stripe"}),
}

#: What must never be imported by the core.
FRAMEWORK_MODULES = ("flask", "werkzeug", "jinja2", "eventhive_flask")


def _extra_packages_for(module: str) -> frozenset[str] | None:
    for prefix, packages in NEEDS_AN_EXTRA.items():
        if module == prefix or module.startswith(prefix + "."):
            return packages
    return None


def main() -> int:
    """Import every core module and report what broke; return the process exit code."""
    problems: list[str] = []
    if importlib.util.find_spec("flask") is not None:
        problems.append("flask is installed: this check must run in an environment without extras")

    import eventhive_core

    imported: list[str] = []
    skipped: list[str] = []

    def on_error(name: str) -> None:
        # walk_packages imports each package to list its children; an extra's package may fail here.
        error = sys.exc_info()[1]
        allowed = _extra_packages_for(name)
        if isinstance(error, ModuleNotFoundError) and allowed and (error.name or "").partition(".")[0] in allowed:
            skipped.append(f"{name} (needs {error.name})")
        else:
            problems.append(f"{name}: could not be walked ({error!r})")

    names = [eventhive_core.__name__] + [
        info.name for info in pkgutil.walk_packages(eventhive_core.__path__, "eventhive_core.", onerror=on_error)
    ]
    for name in sorted(set(names)):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            missing = (error.name or "").partition(".")[0]
            allowed = _extra_packages_for(name)
            if allowed is not None and missing in allowed:
                skipped.append(f"{name} (needs {missing})")
            else:
                problems.append(f"{name}: needs {error.name!r}, which the core alone does not install")
        except Exception as error:  # any import-time failure is a bug in the core
            problems.append(f"{name}: {type(error).__name__}: {error}")
        else:
            imported.append(name)

    leaked = sorted(m for m in sys.modules if m.partition(".")[0] in FRAMEWORK_MODULES)
    if leaked:
        problems.append(f"importing the core pulled in {', '.join(leaked)}")

    print(f"core-only: imported {len(imported)} eventhive_core modules without any extra")
    for line in dict.fromkeys(skipped):  # a package fails once when walked, once when imported
        print(f"core-only: skipped {line}, as expected without its extra")
    for line in problems:
        print(f"core-only: FAIL {line}", file=sys.stderr)
    if len(imported) < 2:
        print("core-only: FAIL found almost no modules to import; is eventhive_core installed?", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
