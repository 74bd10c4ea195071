"""The HTTP JSON API (talkwalk.serve) against the real engine: sessions, turns, errors, schema, concurrency."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from talkwalk.serve import bench_http, http_json, make_api, running


@pytest.fixture(scope="module")
def api(engine):
    return make_api(engine)


@pytest.fixture(scope="module")
def client(api):
    return TestClient(api)


@pytest.fixture(scope="module")
def catalogue(engine):
    return set(engine.dataset.items.index)


def _profile(engine):
    """A user profile from the data set's first user (the fields the engine knows)."""
    row = engine.dataset.users.iloc[0]
    return {f.name: (row[f.name].item() if hasattr(row[f.name], "item") else row[f.name]) for f in engine.dataset.user_fields}


def _ids(answer):
    return [r["item_id"] for r in answer["items"]]


def test_health(client, engine):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["items"] == len(engine.dataset.items) and h["mode"] == "generative"
    assert h["run"] == str(engine.run_dir) and h["model"]


def test_two_turns_then_save_and_restore(client, engine, catalogue):
    history = list(engine.dataset.items.index[:3])
    created = client.post("/sessions", json={"user": _profile(engine), "history": history})
    assert created.status_code == 200, created.text
    sid = created.json()["session_id"]
    t1 = client.post(f"/sessions/{sid}/turns", json={"request": "a funny film for the weekend", "k": 5}).json()
    t2 = client.post(f"/sessions/{sid}/turns", json={"request": "now something darker", "k": 5}).json()
    assert (t1["turn"], t2["turn"]) == (1, 2)
    for t in (t1, t2):
        ids = _ids(t)
        assert len(ids) == 5 and len(set(ids)) == 5 and set(ids) <= catalogue
        assert not set(ids) & set(history)                       # never recommends what the user already had
        assert all(r["title"] and r["sid"].startswith("<|sid_start|>") and r["explanation"] for r in t["items"])
        assert [r["rank"] for r in t["items"]] == [1, 2, 3, 4, 5]
    assert not set(_ids(t1)) & set(_ids(t2))                     # the second turn excludes the first turn's items
    saved = client.get(f"/sessions/{sid}").json()
    assert saved["history"] == history and [t["items"] for t in saved["turns"]] == [_ids(t1), _ids(t2)]
    assert client.delete(f"/sessions/{sid}").json() == {"deleted": sid}
    assert client.get(f"/sessions/{sid}").status_code == 404
    restored = client.post("/sessions", json={"state": saved})
    assert restored.status_code == 200 and restored.json()["session_id"] != sid  # continued under a new, server-minted id
    sid = restored.json()["session_id"]
    t3 = client.post(f"/sessions/{sid}/turns", json={"request": "more like that", "k": 5}).json()
    assert t3["turn"] == 3 and not set(_ids(t3)) & (set(_ids(t1)) | set(_ids(t2)))


def test_known_user(client, engine):
    uid = str(engine.dataset.users.index[0])
    s = client.post("/sessions", json={"user_id": uid}).json()
    assert s["user"] and s["history"]                             # the user's profile and training history
    t = client.post(f"/sessions/{s['session_id']}/turns", json={"request": "", "k": 3}).json()
    assert not set(_ids(t)) & set(s["history"])
    r = client.post("/sessions", json={"user_id": "no-such-user"})
    assert r.status_code == 422 and "no-such-user" in r.json()["detail"]


def test_one_shot(client, catalogue):
    r = client.post("/recommend", json={"request": "a western", "k": 3})
    assert r.status_code == 200 and len(set(_ids(r.json()))) == 3 and set(_ids(r.json())) <= catalogue


def test_unknown_session_is_404(client):
    assert client.post("/sessions/nope/turns", json={"request": "x"}).status_code == 404
    assert client.get("/sessions/nope").status_code == 404
    r = client.delete("/sessions/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


@pytest.mark.parametrize("path,body,says", [
    ("/sessions", {"user": {"shoe_size": 44}}, "shoe_size"),
    ("/sessions", {"history": ["no-such-item"]}, "no-such-item"),
    ("/sessions", {"user": {"age": "old"}}, "user.age"),
    ("/sessions", {"state": {"turns": "x", "bogus": 1}}, "bogus"),
    ("/recommend", {"request": "x", "k": 0}, "k"),
    ("/recommend", {"k": 3}, "request"),
    ("/recommend", {"request": "x", "history": ["no-such-item"]}, "no-such-item"),
])
def test_bad_input_is_422(client, path, body, says):
    r = client.post(path, json=body)
    assert r.status_code == 422 and says in str(r.json()["detail"])


def test_bad_turn_is_422_and_leaves_the_session_alone(client):
    sid = client.post("/sessions", json={}).json()["session_id"]
    assert client.post(f"/sessions/{sid}/turns", json={"request": "x", "k": 0}).status_code == 422
    assert client.post(f"/sessions/{sid}/turns", json={"request": "x" * 5000}).status_code == 422
    assert client.get(f"/sessions/{sid}").json()["turns"] == []


def test_openapi_describes_the_routes(client):
    spec = client.get("/openapi.json").json()
    assert {"/health", "/sessions", "/sessions/{session_id}", "/sessions/{session_id}/turns", "/recommend"} <= set(spec["paths"])
    assert {"NewSession", "TurnIn", "OneShot", "TurnOut"} <= set(spec["components"]["schemas"])
    assert spec["components"]["schemas"]["TurnIn"]["properties"]["k"]["minimum"] == 1
    assert client.get("/docs").status_code == 200


def test_concurrent_turns_keep_sessions_consistent(api, engine, catalogue):
    """Real HTTP: four clients on four sessions, then four turns at once on ONE session."""
    from talkwalk.session import engine_config
    with engine_config(engine, read_undo=False), running(api) as url:  # no request read as an undo (which shows an earlier list again): every item new
        def converse(i):
            sid = http_json("POST", f"{url}/sessions", {})["session_id"]
            answers = [http_json("POST", f"{url}/sessions/{sid}/turns", {"request": r, "k": 3}) for r in (f"something {i}", "more like that")]
            return sid, answers
        with ThreadPoolExecutor(4) as ex:
            results = list(ex.map(converse, range(4)))
        for sid, answers in results:
            s = http_json("GET", f"{url}/sessions/{sid}")
            assert [t["items"] for t in s["turns"]] == [_ids(a) for a in answers]
            assert len(set(s["turns"][0]["items"] + s["turns"][1]["items"])) == 6

        sid = http_json("POST", f"{url}/sessions", {})["session_id"]
        go = threading.Barrier(4)
        def one_turn(i):
            go.wait()
            return http_json("POST", f"{url}/sessions/{sid}/turns", {"request": f"request {i}", "k": 3})
        with ThreadPoolExecutor(4) as ex:
            answers = list(ex.map(one_turn, range(4)))
        s = http_json("GET", f"{url}/sessions/{sid}")
        assert sorted(a["turn"] for a in answers) == [1, 2, 3, 4] and len(s["turns"]) == 4
        shown = [i for t in s["turns"] for i in t["items"]]
        assert len(shown) == 12 and len(set(shown)) == 12 and set(shown) <= catalogue   # no turn lost, nothing shown twice
        assert sorted(map(tuple, (t["items"] for t in s["turns"]))) == sorted(tuple(_ids(a)) for a in answers)

        b = bench_http(url, clients=2, requests_per_client=2, k=3)
        assert b["requests"] == 4 and b["errors"] == 0 and b["p95_ms"] >= b["p50_ms"] > 0
