"""Shared fixtures.

Real traces live in ../shared/traces (never copied into this repo: the CAIDA one may not be
redistributed). A user's clone does not have them, so tests that need them skip with a reason; on CI
(CI=true) their absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SNFKIT_SHARED", REPO.parent / "shared"))
SHARED_TRACES = SHARED / "traces"
SHARED_TRACE_FILES = ("caida-nyc-2018-10k.pcap", "auckland-2000-31k.pcap")


def shared_trace(name: str) -> Path:
    """Path of a trace in ../shared/traces; skip (or fail on CI) when it is not there."""
    path = SHARED_TRACES / name
    if not path.exists():
        msg = (
            f"{path} is absent: the shared traces come with the project's CI checkout, not with a "
            "clone (set SNFKIT_SHARED to a folder holding traces/ to run these tests)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(params=SHARED_TRACE_FILES)
def shared_trace_path(request) -> Path:
    return shared_trace(request.param)
