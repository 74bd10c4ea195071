"""The `talkwalk` command as a user runs it."""
import subprocess
import sys
from pathlib import Path

TALKWALK = str(Path(sys.executable).parent / "talkwalk")  # the console script installed with the package


def test_cli_data_and_error(tmp_path):
    out = subprocess.run([TALKWALK, "data", "--dataset", "ml-100k", "--run", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    assert "ml-100k: 1,682 items" in out.stdout and "943 validation and 943 test users" in out.stdout
    bad = subprocess.run([TALKWALK, "data", "--dataset", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr


def test_export_cli(engine_run, tmp_path):
    from talkwalk.cli import main
    assert main(['export', '--run', str(engine_run), '--out', str(tmp_path / 'x')]) == 0 and (tmp_path / 'x' / 'talkwalk.json').exists()
    assert main(['export', '--run', str(engine_run), '--out', str(tmp_path / 'x')]) == 2  # an existing folder is kept unless --force


def test_every_flag_has_help():
    import argparse
    from talkwalk.cli import build_parser
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    bare = [f"{name} {'/'.join(a.option_strings)}" for name, p in subs.items() for a in p._actions
            if a.option_strings and a.help in (None, '') and not isinstance(a, argparse._HelpAction)]
    assert not bare, bare


def _generic_catalogue(folder: Path):
    """The README's generic layout: 40 items with a mood, a tempo and tags, 30 users with 8 interactions each."""
    import json
    import random
    rnd = random.Random(0)
    moods, tags = ["calm", "upbeat", "dark", "dreamy"], ["ambient", "rain", "piano", "synth", "guitar", "drums"]
    folder.mkdir()
    with open(folder / "items.jsonl", "w") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"p{i}", "title": f"Track {i}", "mood": moods[i % 4], "bpm": 60 + 3 * i,
                                "tags": rnd.sample(tags, 2)}) + "\n")
    with open(folder / "interactions.csv", "w") as f:
        f.write("user,item,timestamp\n")
        for u in range(30):
            for t, i in enumerate(rnd.sample(range(40), 8)):
                f.write(f"u{u},p{i},{t}\n")
    with open(folder / "users.jsonl", "w") as f:
        for u in range(30):
            f.write(json.dumps({"id": f"u{u}", "country": ["NL", "FR", "JP"][u % 3]}) + "\n")


def test_new_catalogue_from_files_to_a_served_steered_recommendation(tmp_path):
    """The README's commands only: `talkwalk train` on a 40-item generic catalogue, `recommend` with a request and a constraint, `serve` over HTTP."""
    import json
    import time
    import urllib.request
    from talkwalk.serve import free_port
    _generic_catalogue(tmp_path / "tracks")
    run = tmp_path / "run"
    out = subprocess.run([TALKWALK, "train", "--dataset", str(tmp_path / "tracks"), "--run", str(run), "--preset", "tiny"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    data_cfg = (run / "contrastive" / "config.yaml").read_text()
    assert "tracks" in data_cfg, data_cfg  # the stage records the data set it really used
    rules = json.dumps({"include": {"mood": ["calm"]}})
    out = subprocess.run([TALKWALK, "recommend", "--run", str(run), "--say", "something calm with piano", "-k", "3", "--json",
                          "--constraints", rules], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    items = json.loads(out.stdout)["items"]
    assert len(items) == 3 and all(int(r["item_id"][1:]) % 4 == 0 for r in items)  # every returned track is calm
    port = free_port()
    server = subprocess.Popen([TALKWALK, "serve", "--run", str(run), "--port", str(port), "--no-ui"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        req = lambda path, body: json.loads(urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}), timeout=60).read())
        sid = req("/sessions", {"history": ["p1", "p2"]})["session_id"]
        turn = req(f"/sessions/{sid}/turns", {"request": "something dreamy", "k": 4, "constraints": {"exclude": {"mood": ["dark"]}}})
        assert len(turn["items"]) == 4 and all(int(r["item_id"][1:]) % 4 != 2 for r in turn["items"])
    finally:
        server.terminate()
        server.wait(30)
