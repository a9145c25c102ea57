"""What pyproject.toml cannot say: the repository's top-level ``configs/``, ``patches/`` and
``scripts/`` folders ship inside the wheel as ``vitdet_cli/_configs``, ``_patches`` and
``_scripts`` (read through ``vitdet_cli/shipped.py``); every ``vitdet_cli*`` package is found
as before. The file globs are ``[tool.setuptools.package-data]`` in pyproject.toml."""

from setuptools import find_namespace_packages, setup

SHIPPED = {f"vitdet_cli._{name}": name for name in ("configs", "patches", "scripts")}

setup(
    packages=find_namespace_packages(include=["vitdet_cli*"]) + sorted(SHIPPED),
    package_dir=SHIPPED,
)
