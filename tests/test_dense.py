"""Dense mode (talkwalk.dense) through every interface: Python, the CLI (recommend, chat, dense), the HTTP API."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

TALKWALK = str(Path(sys.executable).parent / "talkwalk")


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


def test_history_probe_ranks_as_validation(dense_run, tmp_path):
    """scripts/history_probe.py writes its report, and its residual query `head + a x centroid` ranks the lists `validate` and the engine rank."""
    import torch
    from talkwalk.dense import DenseConfig, dense_inputs, topk_excluding, validate
    from talkwalk.encoders import load_head, with_history
    from talkwalk.run import RunDir
    scripts = Path(__file__).parents[1] / "scripts"
    subprocess.run([sys.executable, str(scripts / "history_probe.py"), str(dense_run), "--alphas", "1,1e6", "--report", str(tmp_path / "p")],
                   capture_output=True, text=True, check=True)
    rows = json.loads((tmp_path / "p.json").read_text())["rows"]
    assert {"head alone", "centroid alone", "last item alone", "head + 1 x centroid", "popularity (for scale)"} <= set(rows)
    assert rows["head + 1e+06 x centroid"] == pytest.approx(rows["centroid alone"], abs=1e-6)
    sys.path.insert(0, str(scripts)); import history_probe
    inp = dense_inputs(dense_run, DenseConfig(**RunDir(dense_run).saved_config("dense")), progress=False, log=lambda *a: None)
    X, E, ex, head = torch.as_tensor(inp["X"], dtype=torch.float32), torch.as_tensor(inp["E"], dtype=torch.float32), inp["ex"], load_head(dense_run / "dense")
    with torch.no_grad(): z = head(X[ex.val[:, 0]])
    cen = history_probe.history_queries(E, ex.val_seen)["centroid"]
    histories = [E[torch.as_tensor(s, dtype=torch.long)] for s in ex.val_seen]
    for w in (1.0, 2.0):
        probe_top = topk_excluding(z + w * cen, E, 10, ex.val_seen)
        assert torch.equal(probe_top, topk_excluding(with_history(z, histories, w), E, 10, ex.val_seen))
        assert not torch.equal(probe_top, topk_excluding(z, E, 10, ex.val_seen))  # the pull changes the lists
    assert rows["head alone"]["val_hit@10"] == pytest.approx(validate(head, X, ex, E, torch.as_tensor(inp["M"]).bool())["val_hit@10"], abs=1e-6)


def test_attribute_probe_retrains_the_saved_head(dense_run, tmp_path):
    """scripts/attribute_probe.py at weight 0 retrains the run's head as saved (same validation figures), splits steering by attribute kind,
    tries both attribute layouts and validates at a steering dial."""
    scripts = Path(__file__).parents[1] / "scripts"
    subprocess.run([sys.executable, str(scripts / "attribute_probe.py"), str(dense_run), "--weights", "0,1", "--layouts", "one,kind", "--guidance", "2",
                    "--report", str(tmp_path / "a")], capture_output=True, text=True, check=True)
    rows = json.loads((tmp_path / "a.json").read_text())["rows"]
    best = json.loads((dense_run / "dense" / "metrics.json").read_text())["best"]
    for k in ("val_hit@10", "val_ndcg@10", "steer_share"):
        assert rows["0"][k] == pytest.approx(best[k], abs=1e-5), k
    assert {"steer_share (genre)", "steer_share (decade)"} <= set(rows["1"]) and "attributes (weight 1)" in rows["1"]["item_space"]
    assert set(rows) == {"0", "1", "1 per kind"} and "attributes per kind (weight 1)" in rows["1 per kind"]["item_space"]
    figures = lambda row: {k: v for k, v in row.items() if k not in ("train_s", "item_space")}
    assert figures(rows["1 per kind"]) != figures(rows["1"])  # another space: some figure moves (at tiny parameters hit and share alone can tie)
    assert {"steer_share @ w=2", "steer_share (decade) @ w=2"} <= set(rows["0"]) and "val_hit@10 @ w=2" not in rows["0"]
    md = (tmp_path / "a.md").read_text()
    assert "| 1 |" in md and "| 1 per kind |" in md and "steer share @ w=2" in md
    bad = subprocess.run([sys.executable, str(scripts / "attribute_probe.py"), str(dense_run), "--layouts", "blocks", "--report", str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--layouts: unknown" in bad.stderr
