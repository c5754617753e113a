"""External programs the operations tests need (Debian packages), found or loudly skipped.

``make test`` installs them when it can (root with apt; see the Makefile's operations block).
Under ``CI=true`` a missing program fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

#: program -> the Debian package that ships it
PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus", "chromium": "chromium",
            "amtool": "prometheus-alertmanager",
            "prometheus-alertmanager": "prometheus-alertmanager", "kcat": "kcat"}


_apt_updated = False


def require_tool(name: str, package: str | None = None) -> str:
    """The path of ``name``; installed with apt when we are root, else skipped (or failed
    under CI=true) with the Debian package to install."""
    global _apt_updated
    package = package or PACKAGES.get(name, name)
    path = shutil.which(name)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                           capture_output=True, timeout=600)
            _apt_updated = True
        subprocess.run(["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300",
                        package], env=env, check=False, capture_output=True, timeout=900)
        path = shutil.which(name)
    if path:
        return path
    why = (f"{name} not found: install the Debian package '{package}' "
           "(make test does when run as root)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("MISSING under CI=true: " + why)
    pytest.skip(why)
