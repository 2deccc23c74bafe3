"""A stand-in for Foreman/Katello, for tests, the demo and the benchmarks.

The plugin asks Foreman about logins and catalogs and receives Katello's capsule-sync pushes; this
package plays both sides like the real ones, and fails on demand: ``model`` (Katello's data and
answers), ``push`` (its push client), ``server`` (``KatelloStandin``: HTTP, faults, control API).
``python -m devtools.katello_standin -h`` serves it from a process of its own.
"""
