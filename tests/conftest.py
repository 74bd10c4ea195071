"""Shared fixtures: the real data sets under ../shared/data (or $TALKWALK_DATA_DIR), and the notebooks' run folder the engine tests serve."""
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


@pytest.fixture(scope="session")
def engine_run():
    """A run folder the engine can serve: runs/nb-ml-100k as the notebooks left it, else a tiny one built there (1-2 min)."""
    from talkwalk.pipeline import require_run
    from talkwalk.utils import runs_dir
    return require_run(runs_dir() / "nb-ml-100k")  # under a lock: parallel workers (`pytest -n 2`) build it once


@pytest.fixture(scope="session")
def engine(engine_run):
    """The real engine, loaded once per test session (about 10 s) and shared by the serving tests."""
    from talkwalk.recommender import load_recommender
    return load_recommender(engine_run)


@pytest.fixture(scope="session")
def dense_run(engine_run):
    """The notebooks' run with a dense head (a tiny one is trained there if missing: about 30 s)."""
    from talkwalk.pipeline import require_run
    return require_run(engine_run, dense=True)


@pytest.fixture(scope="session")
def dense(dense_run):
    """The dense engine on that run, loaded once per test session."""
    from talkwalk.recommender import load_recommender
    return load_recommender(dense_run, mode="dense")
