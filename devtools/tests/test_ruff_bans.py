"""ruff.toml bans each of pulpcore's top-level packages but ``pulpcore.plugin`` by name (banning
``pulpcore`` would ban ``pulpcore.plugin`` too): one that a new pulpcore adds must be listed."""

import pkgutil
import tomllib
from pathlib import Path

import pulpcore

RUFF_TOML = Path(__file__).resolve().parents[2] / "ruff.toml"


def test_every_internal_package_of_pulpcore_is_banned():
    config = tomllib.loads(RUFF_TOML.read_text())
    banned = set(config["lint"]["flake8-tidy-imports"]["banned-api"])
    internal = {f"pulpcore.{module.name}" for module in pkgutil.iter_modules(pulpcore.__path__)}
    assert internal - {"pulpcore.plugin"} - banned == set()
