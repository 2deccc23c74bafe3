"""The advisory locks that serialize writers of Katello data.

Transaction-level PostgreSQL advisory locks: they span API processes and workers and are released
at commit or rollback (no stale locks).

- A write of whole tables (a capsule-sync push, a revocation) holds the push lock exclusively:
  one at a time.
- A write of a few named principals (a login refreshing its user, a host looked up or refreshed,
  Katello's ``update_host_repositories``) holds the push lock shared, plus one lock per principal.
  Such writes of different principals run side by side; two of one principal (two first logins of
  one user at the same moment) take turns, each a few milliseconds, instead of one of them being
  turned away as if a capsule sync were running.

Locks are always taken in the same order (push lock, then principals sorted), so writers cannot
deadlock each other.
"""

import zlib

from django.db import connection

# Keys of our own in the two-integer key space (``pg_locks`` shows classid 19271, objid 1, and
# classid 19272 for principals); pulpcore's own locks there use groups 0 and 4711.
PUSH_LOCK = (0x4B47, 1)
PRINCIPAL_LOCKS = 0x4B48
# More principals than this in one write lock the whole push instead: PostgreSQL's lock table is
# shared and bounded (max_locks_per_transaction per connection).
MAX_PRINCIPAL_LOCKS = 32


class PushInProgress(Exception):
    """A whole-table write holds the push lock and the caller chose not to wait."""


def lock_for_push(wait=True):
    """Take the push lock exclusively until the current transaction ends.

    Waits for other writers, or with ``wait=False`` raises PushInProgress instead (for callers
    on a client's request path, which must not sit behind a long capsule-sync push).
    """
    _take(PUSH_LOCK, wait, shared=False)


def lock_principals(kind, names, wait=True):
    """Lock the principals ``names`` of ``kind`` (a ``Revocation`` kind) for a write of theirs
    until the current transaction ends.

    ``wait=False`` raises PushInProgress only when a whole-table write runs or waits: another
    write of the same principals is waited for, being short.
    """
    names = set(names)
    if len(names) > MAX_PRINCIPAL_LOCKS:
        lock_for_push(wait)
        return
    _take(PUSH_LOCK, wait, shared=True)
    for key in sorted({_principal_key(kind, name) for name in names}):
        _take((PRINCIPAL_LOCKS, key), wait=True, shared=False)


def wait_for_pushes():
    """Take the push lock shared until the current transaction ends: wait for a running push."""
    _take(PUSH_LOCK, wait=True, shared=True)


def _principal_key(kind, name):
    """A stable signed 32-bit key for a principal (a collision only makes two principals take
    turns)."""
    key = zlib.crc32(f"{kind}:{name}".encode())
    return key - (1 << 32) if key >= 1 << 31 else key


def _take(key, wait, shared):
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    if shared:
        function += "_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", list(key))
        if not wait and not cursor.fetchone()[0]:
            raise PushInProgress()
