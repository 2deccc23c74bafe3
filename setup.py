from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="pulp-katello-gateway",
    version="0.1.0.dev0",
    description="Katello's container registry authorization, enforced inside Pulp",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="GPL-2.0-or-later",
    python_requires=">=3.11",
    install_requires=(HERE / "requirements.txt").read_text().split(),
    extras_require={
        "test": [
            "pytest>=8,<10",
            "pytest-django>=4.9,<5",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "schemathesis>=4.0,<5",
            "openapi-spec-validator>=0.7,<0.10",  # the OpenAPI schema generators read
            "ruff>=0.6",
            "matplotlib>=3.8",  # bench.report's plots
            "pulp-smart-proxy>=0.6,<0.7",  # Pulp as Foreman's smart proxy (Container_Gateway)
        ],
    },
    packages=find_packages(exclude=["devtools", "devtools.*", "bench", "bench.*"]),
    include_package_data=True,
    package_data={"pulp_katello_gateway.app": ["webserver_snippets/*"]},
    entry_points={
        "pulpcore.plugin": ["pulp_katello_gateway = pulp_katello_gateway:default_app_config"]
    },
    classifiers=[
        "Framework :: Django",
        "Programming Language :: Python :: 3.11",
        "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)",
    ],
)
