"""Where things are in the repository, for tests that run files or start processes."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
HELPERS = REPO_ROOT / "tests" / "helpers"
APPS = HELPERS / "apps"
INSTALL_SMOKE = HELPERS / "install_smoke"
