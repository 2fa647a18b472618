from __future__ import annotations

import os

from hypothesis import settings

# The issue's `ci` profile: 200 examples, no deadline (shared machines are noisy). It is the
# default everywhere so the state machine runs in full in the README's test command.
settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("quick", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
