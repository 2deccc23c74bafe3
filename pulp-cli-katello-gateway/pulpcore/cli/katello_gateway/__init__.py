"""``pulp katello-gateway``: pulp_katello_gateway's REST API as pulp-cli commands."""

import typing as t
from importlib.metadata import version

import click
from pulp_cli.generic import PulpCLIContext, pass_pulp_context, pulp_group
from pulp_glue.katello_gateway.context import PulpPullRecordContext
from pulpcore.cli.katello_gateway.answers import explain, pulls, status
from pulpcore.cli.katello_gateway.resources import host, repository, user

__version__ = version("pulp-cli-katello-gateway")  # shown by `pulp --version`


@pulp_group(name="katello-gateway")
@pass_pulp_context
@click.pass_context
def katello_gateway(ctx: click.Context, pulp_ctx: PulpCLIContext, /) -> None:
    """Katello's container-registry authorization in Pulp (pulp_katello_gateway): what Katello
    pushed, who pulled what, and why an identity may or may not pull a repository."""
    # `pulls` lists the pull record right under this group, so the group's object is the pull
    # record's context (as a `repository` group's is its repository context).
    ctx.obj = PulpPullRecordContext(pulp_ctx)


def mount(main: click.Group, **kwargs: t.Any) -> None:
    """pulp-cli's plugin hook (entry point group ``pulp_cli.plugins``)."""
    for command in (repository, user, host, pulls, explain, status):
        katello_gateway.add_command(command)
    main.add_command(katello_gateway)
