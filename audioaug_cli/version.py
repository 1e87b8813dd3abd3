"""The package's version, in one place (pyproject reads it too), and how the versions of the
packages it runs with are found."""

from __future__ import annotations

import os
import sys
from functools import cache

__version__ = "0.1.0"
NOT_INSTALLED = "not installed"  # the version of a package that is not


def installed_version(package: str) -> str:
    """From the package's ``<name>-<version>.dist-info`` folder, whose name the wheel format fixes;
    importlib.metadata, the fallback, takes ~10 ms to import: a quarter of an empty pipeline's start-up."""
    found = _dist_info_versions().get(package.lower().replace("-", "_"))
    if found is not None:
        return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return NOT_INSTALLED


@cache
def _dist_info_versions() -> dict[str, str]:
    """{normalised name: version} of the dist-info folders on sys.path; the first one found wins, as
    for imports."""
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                package, _dash, version = name[: -len(".dist-info")].partition("-")
                found.setdefault(package.lower(), version)
    return found
