"""Hypothesis profiles for every test: the same generated cases on each run unless asked.

Both drop the per-example deadline and the health checks that function-scoped fixtures (a
database, a client: reused across examples on purpose) and real HTTP round trips would trip.

``ci`` (the default) derandomizes, so a run is reproducible and CI's verdict depends on the
code, not the draw. ``explore`` (``HYPOTHESIS_PROFILE=explore make test``) draws fresh cases
each run: run it to hunt, then pin what it finds as a plain test.
"""

import os

from hypothesis import HealthCheck, settings

COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "print_blob": True,
}
settings.register_profile("ci", derandomize=True, **COMMON)
settings.register_profile("explore", derandomize=False, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
