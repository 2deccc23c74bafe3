"""The advisory lock that serializes writers of Katello data.

A transaction-level PostgreSQL advisory lock: it spans API processes and workers, is released at
commit or rollback (no stale locks), and, being a single key, cannot deadlock with itself.
"""

from django.db import connection

# A key of our own in the two-integer key space (``pg_locks`` shows classid 19271, objid 1);
# pulpcore's own locks there use groups 0 and 4711.
PUSH_LOCK = (0x4B47, 1)


class PushInProgress(Exception):
    """Another writer holds the lock and the caller chose not to wait."""


def lock_for_push(wait=True):
    """Take the lock exclusively until the current transaction ends.

    Waits for other writers, or with ``wait=False`` raises PushInProgress instead (for callers
    on a client's request path, which must not sit behind a long capsule-sync push).
    """
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(PUSH_LOCK))
            return
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", list(PUSH_LOCK))
        if not cursor.fetchone()[0]:
            raise PushInProgress()


def wait_for_pushes():
    """Take the lock shared until the current transaction ends: wait for a running push."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", list(PUSH_LOCK))
