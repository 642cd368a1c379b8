"""The optuna-dashboard command that opens a study's storage (the ``dashboard`` extra)."""

from __future__ import annotations

import shlex

from snfkit.extras import has


def dashboard_url(storage: str) -> str:
    """The storage URL as optuna-dashboard needs it: a bare ``postgresql://`` names its driver
    (``postgresql+psycopg2://``; SQLAlchemy 2.1 would look for psycopg 3), others unchanged."""
    for bare in ("postgresql://", "postgres://"):
        if storage.startswith(bare):
            return "postgresql+psycopg2://" + storage[len(bare) :]
    return storage


def dashboard_command(storage: str) -> str:
    """The shell command that opens ``storage`` in optuna-dashboard (quoted for a POSIX shell),
    preceded by the install command when optuna-dashboard is not installed."""
    command = f"optuna-dashboard {shlex.quote(dashboard_url(storage))}"
    if has("optuna_dashboard"):
        return command
    return f"pip install 'snfkit[dashboard]' && {command}"
