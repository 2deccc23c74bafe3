"""Keeps ``ContainerDistribution.private`` equal to Katello's ``auth_required`` (defense in depth).

The gateway's own token decisions come from Katello's grants; ``private`` additionally keeps a
protected repository out of reach of pulp_container's stock token server, ``_catalog`` and
Flatpak index for anonymous clients. Only distributions whose ``base_path`` is a Katello
repository name are touched: others, and distributions of repositories Katello dropped, keep
whatever an admin set.
"""

from functools import partial

from django.db import transaction

from pulp_katello_gateway.app.acl.locks import wait_for_pushes
from pulp_katello_gateway.app.models import KatelloRepository
from pulp_katello_gateway.app.pulp_internals import ContainerDistribution


def sync_private(distributions=None):
    """Set ``private`` from ``auth_required`` on ``distributions`` (default all); returns changes.

    Bulk UPDATEs, so no save() hooks or signals run (the plugin serves the Flatpak index itself,
    uncached, so no cache needs invalidating).
    """
    if distributions is None:
        distributions = ContainerDistribution.objects.all()
    changed = 0
    for flag in (True, False):
        names = KatelloRepository.objects.filter(auth_required=flag).values("name")
        changed += (
            distributions.filter(base_path__in=names).exclude(private=flag).update(private=flag)
        )
    return changed


def enforce_private(sender, instance, raw=False, **kwargs):
    """``pre_save`` receiver: a saved distribution takes ``private`` from its Katello repository.

    Setting the field before the save needs no second write and cannot recurse. A push running
    concurrently may commit a new ``auth_required`` after this read, so once the save commits the
    flag is checked again behind any running push (saves happen in task workers, pushes in API
    processes).
    """
    if raw:
        return
    auth_required = (
        KatelloRepository.objects.filter(name=instance.base_path)
        .values_list("auth_required", flat=True)
        .first()
    )
    if auth_required is not None:
        instance.private = auth_required
    # pulp_id, not pk: a new distribution's own pk (its parent link) is set only by the save.
    transaction.on_commit(partial(_recheck, instance.pulp_id))


def _recheck(pulp_id):
    with transaction.atomic():
        wait_for_pushes()
        sync_private(ContainerDistribution.objects.filter(pulp_id=pulp_id))
