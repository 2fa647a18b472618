"""The fuzz tests need schemathesis (the ``test`` extra): skipped without it on a laptop, failed under CI=true."""

from __future__ import annotations

import importlib.util
import os

import pytest


def test_schemathesis_is_installed_for_the_fuzz_tests() -> None:
    if importlib.util.find_spec("schemathesis") is None:
        reason = 'schemathesis is not installed, so tests/fuzz did not run: pip install -e ".[test]"'
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the fuzz tests must run)", pytrace=False)
        pytest.skip(reason)
