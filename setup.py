"""Kept where the layout expects it; the metadata is pyproject.toml's."""

from setuptools import setup

setup()
