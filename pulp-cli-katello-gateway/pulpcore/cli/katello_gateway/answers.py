"""``pulls``, ``explain`` and ``status``: the questions an operator asks the gateway."""

import click
from pulp_cli.generic import (
    PulpCLIContext,
    list_command,
    pass_pulp_context,
    pulp_command,
    pulp_option,
)
from pulp_glue.common.context import DATETIME_FORMATS
from pulp_glue.katello_gateway.context import PulpKatelloGatewayContext

pulls = list_command(
    name="pulls",
    help="Who pulled which manifest, from where, first and last time, how often (newest first).",
    decorators=[
        pulp_option("--digest", help="Only pulls of the manifest with this digest."),
        pulp_option("--repository", help="Only pulls from the repository of this name."),
        pulp_option("--login", help="Only pulls by this Foreman login or Pulp username."),
        pulp_option("--host", metavar="UUID", help="Only pulls by the host with this uuid."),
        pulp_option("--kind", type=click.Choice(["foreman", "host", "pulp", "anonymous"]),
                    help="Only pulls by this kind of identity."),
        pulp_option("--since", type=click.DateTime(formats=DATETIME_FORMATS),
                    help="Only pulls last seen at or after this time (UTC)."),
        pulp_option("--until", type=click.DateTime(formats=DATETIME_FORMATS),
                    help="Only pulls first seen at or before this time (UTC)."),
    ],
)


@pulp_command()
@click.option("--repository", required=True, help="Name of the repository.")
@click.option("--login", help="A login: a Foreman user's or a local Pulp user's.")
@click.option("--host", metavar="UUID", help="A content host, by consumer uuid.")
@click.option("--anonymous", is_flag=True, help="Clients without credentials.")
@click.option("--action", type=click.Choice(["pull", "push"]), default="pull", show_default=True,
              help="What the identity would do.")
@pass_pulp_context
def explain(
    pulp_ctx: PulpCLIContext,
    /,
    repository: str,
    login: str | None,
    host: str | None,
    anonymous: bool,
    action: str,
) -> None:
    """What an identity may do on a repository, and the rule that decided: the registry's own
    decision. A login that is both a local Pulp user and a Foreman user is answered for the
    local user; other_candidates holds the Foreman user."""
    if [bool(login), bool(host), anonymous].count(True) != 1:
        raise click.UsageError("Give exactly one of --login, --host and --anonymous.")
    gateway = PulpKatelloGatewayContext(pulp_ctx)
    pulp_ctx.output_result(gateway.explain(repository, login=login, host=host, action=action))


@pulp_command()
@pass_pulp_context
def status(pulp_ctx: PulpCLIContext, /) -> None:
    """How fresh Katello's ACL is here: per push endpoint, the last push, what it holds now
    (count, fingerprint), and stale when no push came within KATELLO_GATEWAY_PUSH_MAX_AGE."""
    pulp_ctx.output_result(PulpKatelloGatewayContext(pulp_ctx).status())
