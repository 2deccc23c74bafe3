"""``repository``, ``user`` and ``host``: what Katello pushed, as Pulp holds it (read-only)."""

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
from pulp_glue.katello_gateway.context import (
    PulpConsumerHostContext,
    PulpForemanUserContext,
    PulpKatelloRepositoryContext,
)

granted_repository_option = pulp_option(
    "--granted-repository", help="Only {entities} that may pull the repository of this name."
)


@pulp_group()
@pass_pulp_context
@click.pass_context
def repository(ctx: click.Context, pulp_ctx: PulpCLIContext, /) -> None:
    """Container repositories Katello serves here, and whether pulling needs a login."""
    ctx.obj = PulpKatelloRepositoryContext(pulp_ctx)


repository.add_command(
    list_command(
        decorators=[
            name_filter_option,
            name_contains_option,
            pulp_option(
                "--auth-required/--no-auth-required",
                default=None,
                help="Only {entities} that need a login (or that anyone may pull).",
            ),
            pulp_option("--granted-to-user", metavar="LOGIN",
                        help="Only {entities} this Foreman login may pull."),
            pulp_option("--granted-to-host", metavar="UUID",
                        help="Only {entities} the host with this consumer uuid may pull."),
        ]
    )
)
repository.add_command(show_command(decorators=[href_option, name_option]))


@pulp_group()
@pass_pulp_context
@click.pass_context
def user(ctx: click.Context, pulp_ctx: PulpCLIContext, /) -> None:
    """Foreman users known here (pushed by Katello or logged in through the registry)."""
    ctx.obj = PulpForemanUserContext(pulp_ctx)


user.add_command(
    list_command(
        decorators=[
            pulp_option("--login", help="Only the {entity} of this login (as Foreman folds it)."),
            pulp_option("--login-contains", "login__contains",
                        help="Only {entities} whose login contains this."),
            granted_repository_option,
        ]
    )
)
user.add_command(
    show_command(
        decorators=[
            href_option,
            pulp_option("--login", help="Login of the {entity} (as Foreman folds it).",
                        callback=lookup_callback("login"), expose_value=False),
        ]
    )
)


@pulp_group()
@pass_pulp_context
@click.pass_context
def host(ctx: click.Context, pulp_ctx: PulpCLIContext, /) -> None:
    """Content hosts Katello pushed, by subscription-manager consumer uuid."""
    ctx.obj = PulpConsumerHostContext(pulp_ctx)


host.add_command(
    list_command(decorators=[pulp_option("--uuid", help="Only the {entity} of this consumer uuid."),
                             granted_repository_option])
)
host.add_command(
    show_command(
        decorators=[
            href_option,
            pulp_option("--uuid", help="Consumer uuid of the {entity}.",
                        callback=lookup_callback("uuid"), expose_value=False),
        ]
    )
)
