"""Shared fixtures: the real data sets under ../shared/data (or $TALKWALK_DATA_DIR)."""
import os
import pytest
from talkwalk.data import data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared data folder; required unless TALKWALK_ALLOW_MISSING_DATA=1 (GitHub CI without ../shared)."""
    d = data_dir()
    if not (d / "ml-100k").exists():
        if os.environ.get("TALKWALK_ALLOW_MISSING_DATA") == "1":
            pytest.skip(f"shared data not found at {d} (TALKWALK_ALLOW_MISSING_DATA=1)")
        pytest.fail(f"shared data not found at {d}: put ../shared/data beside the repo or set TALKWALK_DATA_DIR")
    return d
