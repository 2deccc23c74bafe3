"""Where a benchmark leaves its figures: JSON under ``bench/results/``, which ``bench.report``
reads back into docs/admin/learn/performance.md."""

import json
import sys


def save(report, path):
    """``report`` as JSON at ``path``, its directory made as needed; says where on stderr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written to {path}", file=sys.stderr)
