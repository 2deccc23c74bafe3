"""The plugin's Pulp tasks, run by pulpcore-worker. Their dotted names are stored in Pulp's task
table: keep them where they are."""

from .host_refresh import refresh_host  # noqa: F401
