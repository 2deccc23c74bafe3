"""Hypothesis profiles for every test: the same generated cases on each run unless asked.

``ci`` (the default) derandomizes, so a run is reproducible and CI's verdict depends on the
code, not the draw. ``explore`` (``HYPOTHESIS_PROFILE=explore make test``) draws fresh cases
each run: run it to hunt, then pin what it finds as a plain test.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
