"""Dense mode (talkwalk.dense) through every interface: Python, the CLI (recommend, chat, dense), the HTTP API."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

TALKWALK = str(Path(sys.executable).parent / "talkwalk")


@pytest.fixture(scope="module")
def dense_run(engine_run):
    """The notebooks' run with a dense head (a tiny one is trained there if missing: about 30 s)."""
    from talkwalk.pipeline import require_run
    return require_run(engine_run, dense=True)


@pytest.fixture(scope="module")
def dense(dense_run):
    from talkwalk.recommender import load_recommender
    return load_recommender(dense_run, mode="dense")


def test_load_through_every_entry_point(dense, dense_run):
    from talkwalk.recommender import load_recommender
    from talkwalk.dense_engine import DenseRecommender
    assert dense.mode == "dense" and type(dense).__name__ == "DenseRecommender"
    assert load_recommender(dense_run, mode="dense").mode == "dense"
    assert DenseRecommender.load(dense_run).mode == "dense"


def test_turns_exclude_history_and_shown(dense):
    s = dense.session(history=list(dense.dataset.items.index[:20]))
    first = [r.item_id for r in dense.turn(s, "something scary", 5)]
    second = [r.item_id for r in dense.turn(s, "now something funny", 5)]
    assert len(set(first + second)) == 10 and not set(first + second) & set(s.history)
    assert all(i in dense.dataset.items.index for i in first + second)


def test_cli_recommend_and_chat(dense_run):
    out = subprocess.run([TALKWALK, "recommend", "--run", str(dense_run), "--mode", "dense", "--say", "something scary",
                          "--history", "1,50", "-k", "3", "--json"], capture_output=True, text=True, check=True)
    items = json.loads(out.stdout)["items"]
    assert len(items) == 3 and not {"1", "50"} & {r["item_id"] for r in items}
    chat = subprocess.run([TALKWALK, "chat", "--run", str(dense_run), "--mode", "dense", "-k", "2"],
                          input="something funny\nmore like that\n/quit\n", capture_output=True, text=True, timeout=300)
    assert chat.returncode == 0, chat.stderr
    bad = subprocess.run([TALKWALK, "recommend", "--run", str(dense_run), "--mode", "dense", "--history", "nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not in the catalogue" in bad.stderr


def test_cli_dense_reuses_a_trained_head(dense_run):
    out = subprocess.run([TALKWALK, "dense", "--run", str(dense_run), "--preset", "tiny"], capture_output=True, text=True, check=True)
    assert "reusing" in out.stdout and "val_ndcg@10" in out.stdout


def test_cli_dense_on_a_run_without_one(tmp_path):
    bad = subprocess.run([TALKWALK, "recommend", "--run", str(tmp_path), "--mode", "dense"], capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot serve dense mode" in bad.stderr and "dense/head.pt" in bad.stderr


def test_http_api_in_dense_mode(dense):
    from talkwalk.serve import make_api
    client = TestClient(make_api(dense))
    assert client.get("/health").json()["mode"] == "dense"
    sid = client.post("/sessions", json={"history": ["1", "50"]}).json()["session_id"]
    a = client.post(f"/sessions/{sid}/turns", json={"request": "something scary", "k": 3}).json()["items"]
    b = client.post(f"/sessions/{sid}/turns", json={"request": "more like that", "k": 3}).json()["items"]
    assert len({r["item_id"] for r in a + b}) == 6
    assert client.post("/recommend", json={"request": "hi", "k": 0}).status_code == 422
