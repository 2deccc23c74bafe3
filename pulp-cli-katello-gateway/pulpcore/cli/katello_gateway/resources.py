"""``repository``, ``user`` and ``host``: what Katello pushed, as Pulp holds it (read-only)."""

import typing as t

import click
from pulp_cli.generic import (
    PulpCLIContext,
    href_option,
    list_command,
    lookup_callback,
    name_contains_option,
    name_filter_option,
    name_option,
    pass_pulp_context,
    pulp_group,
    pulp_option,
    show_command,
)
from pulp_glue.common.context import PulpEntityContext
from pulp_glue.katello_gateway.context import (
    PulpConsumerHostContext,
    PulpForemanUserContext,
    PulpKatelloRepositoryContext,
)

Decorator = t.Callable[[t.Any], t.Any]  # what pulp_option and its kin return


def _read_only_group(
    name: str,
    context_class: type[PulpEntityContext],
    doc: str,
    filters: list[Decorator],
    lookup: Decorator,
) -> click.Group:
    """A group for a resource Katello owns: ``list`` with ``filters``, ``show`` by ``lookup``
    or href."""

    @pulp_group(name=name, help=doc)
    @pass_pulp_context
    @click.pass_context
    def group(ctx: click.Context, pulp_ctx: PulpCLIContext, /) -> None:
        ctx.obj = context_class(pulp_ctx)

    group.add_command(list_command(decorators=filters))
    group.add_command(show_command(decorators=[href_option, lookup]))
    return group


def _lookup_option(field: str, doc: str) -> Decorator:
    return pulp_option(f"--{field}", help=doc, callback=lookup_callback(field),
                       expose_value=False)


granted_repository_option = pulp_option(
    "--granted-repository", help="Only {entities} that may pull the repository of this name."
)

repository = _read_only_group(
    "repository",
    PulpKatelloRepositoryContext,
    "Container repositories Katello serves here, and whether pulling needs a login.",
    [
        name_filter_option,
        name_contains_option,
        pulp_option("--auth-required/--no-auth-required", default=None,
                    help="Only {entities} that need a login (or that anyone may pull)."),
        pulp_option("--granted-to-user", metavar="LOGIN",
                    help="Only {entities} this Foreman login may pull."),
        pulp_option("--granted-to-host", metavar="UUID",
                    help="Only {entities} the host with this consumer uuid may pull."),
    ],
    name_option,
)
user = _read_only_group(
    "user",
    PulpForemanUserContext,
    "Foreman users known here (logged in through the registry, or added by an admin).",
    [
        pulp_option("--login", help="Only the {entity} of this login (as Foreman folds it)."),
        pulp_option("--login-contains", "login__contains",
                    help="Only {entities} whose login contains this."),
        granted_repository_option,
    ],
    _lookup_option("login", "Login of the {entity} (as Foreman folds it: lower case)."),
)
host = _read_only_group(
    "host",
    PulpConsumerHostContext,
    "Content hosts Katello pushed, by subscription-manager consumer uuid.",
    [pulp_option("--uuid", help="Only the {entity} of this consumer uuid."),
     granted_repository_option],
    _lookup_option("uuid", "Consumer uuid of the {entity}."),
)
