"""External programs the operations tests need (Debian packages), found or loudly skipped.

``make test`` installs them when it can (root with apt; see the Makefile's operations block).
Under ``CI=true`` a missing program fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil

import pytest

#: program -> the Debian package that ships it
PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus", "chromium": "chromium",
            "amtool": "prometheus-alertmanager"}


def require_tool(name: str) -> str:
    """The path of ``name``; skip (or fail under CI=true) with the package to install."""
    path = shutil.which(name)
    if path:
        return path
    why = (f"{name} not found: install the Debian package '{PACKAGES.get(name, name)}' "
           "(make test does when run as root)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why)
    pytest.skip(why)
