"""The latency tools of issue 18 at tiny size: scripts/malloc_ab.py (tune_malloc on and off, one process each) and
scripts/scale_sim.py with vectors matched to a real item space, scripts/batch_ab.py (turns one at a time vs batched, no HTTP), scripts/thread_ab.py and scripts/http_fresh.py; the A/Bs of one engine setting user by user (scripts/blas_threads_ab.py,
scripts/history_prior_latency_ab.py), and the evaluation's turns re-timed against another commit's package (scripts/eval_latency_probe.py)."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np

SCRIPTS = Path(__file__).parents[1] / "scripts"


def test_malloc_ab_times_both_processes(engine_run, tmp_path):
    """Each mode runs in its own process and times every request, unguided and guided; the report compares them."""
    out = tmp_path / "mab"
    r = subprocess.run([sys.executable, str(SCRIPTS / "malloc_ab.py"), "--run", str(engine_run), "--requests", "2", "--rounds", "1", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    assert set(res["modes"]) == {"tuned", "untuned"}
    for mode in res["modes"].values():
        assert len(mode["unguided"]) == 2 and len(mode["guided"]) == 2 and all(0 < t < 60 for t in mode["unguided"] + mode["guided"])
    assert res["quantize"] in ("none", "bf16-linear")  # 'auto' resolved for this machine
    assert "| unguided (w = 0) |" in out.with_suffix(".md").read_text()


def test_scale_sim_matches_a_real_item_space(tmp_path):
    """--vectors matched draws vectors with the real space's dimension; HNSW recall is a fraction; a missing --like is refused."""
    rng = np.random.default_rng(0)
    like = tmp_path / "items.npz"
    np.savez(like, ids=np.arange(300).astype(str), vectors=(rng.standard_normal((300, 3)) @ rng.standard_normal((3, 24)) + 0.1 * rng.standard_normal((300, 24))).astype(np.float32))
    out = tmp_path / "scale"
    r = subprocess.run([sys.executable, str(SCRIPTS / "scale_sim.py"), "--sizes", "500", "--queries", "2", "--vectors", "matched", "--like", str(like), "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    row = json.loads(out.with_suffix(".json").read_text())["sizes"][0]
    assert row["items"] == 500 and row["dim"] == 24 and all(0 <= h["recall10"] <= 1 for h in row["hnsw"])
    assert row["beam_passes_mean"] >= 1 and 0 <= row["beam_outside_passes_p50_ms"] <= row["beam_p50_ms"]  # the beam's time split into passes and the rest
    assert "Gaussian with the mean and covariance" in out.with_suffix(".md").read_text()
    bad = subprocess.run([sys.executable, str(SCRIPTS / "scale_sim.py"), "--sizes", "500", "--vectors", "matched", "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--like" in bad.stderr


def test_batch_ab_batches_the_forward_passes(engine_run, tmp_path):
    """Turns answered together take fewer forward passes, each feeding more tokens; both modes are timed round by round."""
    out = tmp_path / "bab"
    r = subprocess.run([sys.executable, str(SCRIPTS / "batch_ab.py"), "--run", str(engine_run), "--clients", "3", "--turns", "2", "--rounds", "1", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    one, batched = res["modes"]["one at a time"], res["modes"]["batched"]
    assert len(one["seconds"]) == len(batched["seconds"]) == 2 and all(0 < t < 120 for t in one["seconds"] + batched["seconds"])
    assert batched["passes"] < one["passes"] and batched["tokens"] / batched["passes"] > one["tokens"] / one["passes"]
    assert 0 <= res["first_overlap"] <= 1 and res["batched_over_serial"] > 0
    assert "| batched |" in out.with_suffix(".md").read_text()
    bad = subprocess.run([sys.executable, str(SCRIPTS / "batch_ab.py"), "--run", str(engine_run), "--clients", "0", "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "at least 1" in bad.stderr


def test_thread_ab_and_http_fresh_at_tiny_size(engine_run, tmp_path):
    """scripts/thread_ab.py times the same work on the main thread and a worker thread; scripts/http_fresh.py runs the HTTP benchmark
    in a fresh process, per round throughput and page faults; both refuse bad counts."""
    out = tmp_path / "thr"
    r = subprocess.run([sys.executable, str(SCRIPTS / "thread_ab.py"), "--run", str(engine_run), "--rounds", "1", "--reps", "20", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    for where in ("main", "worker"):
        assert len(res["linear"][where]) == 1 and res["linear"][where][0]["us"] > 0 and len(res["engine"][where]) == 5
    assert "worker / main" in out.with_suffix(".md").read_text()
    out = tmp_path / "fresh"
    r = subprocess.run([sys.executable, str(SCRIPTS / "http_fresh.py"), "--run", str(engine_run), "--rounds", "1", "--warmup", "0", "--clients", "2",
                        "--turns", "1", "--kv-sessions", "3", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["kv_sessions"] == 3 and res["http"]["modes"]["batched"]["requests"] == 2 and res["http"]["modes"]["batched"]["errors"] == 0
    assert all(isinstance(m["page_faults"], int) for m in res["http"]["modes"].values())
    for script, args in (("thread_ab.py", ["--rounds", "0"]), ("http_fresh.py", ["--kv-sessions", "0"])):
        bad = subprocess.run([sys.executable, str(SCRIPTS / script), "--run", str(engine_run), *args, "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
        assert bad.returncode != 0 and "at least" in bad.stderr


def test_blas_and_history_prior_ab_time_both_settings(engine_run, tmp_path):
    """Each head's turns are timed under both settings, user by user, with the LLM's share measured; a bad count is refused."""
    out = tmp_path / "blas"
    r = subprocess.run([sys.executable, str(SCRIPTS / "blas_threads_ab.py"), "--run", str(engine_run), "--users", "2", "--out", str(out)],
                       capture_output=True, text=True, timeout=900, env={**os.environ, "OPENBLAS_NUM_THREADS": "2"})  # two BLAS threads to compare with one, on any machine
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    assert [h["mode"] for h in res["heads"]] == ["generative", "dense"] and res["many"] == 2
    for h in res["heads"]:
        for arm in ("one", "many"):
            s = h["summary"][arm]
            assert s["turns"] == 2 and 0 < s["decoder_p50_ms"] <= s["p50_ms"] and s["calls_p50"] >= 1
        assert 0 <= h["same_lists"] <= 2
    assert "| turn p50 ms |" in out.with_suffix(".md").read_text()
    out = tmp_path / "hp"
    r = subprocess.run([sys.executable, str(SCRIPTS / "history_prior_latency_ab.py"), "--run", str(engine_run), "--users", "2", "--weight", "4", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["weight"] == 4 and res["summary"]["on"]["turns"] == res["summary"]["off"]["turns"] == 2
    bad = subprocess.run([sys.executable, str(SCRIPTS / "blas_threads_ab.py"), "--run", str(engine_run), "--users", "0", "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "at least 1" in bad.stderr


def test_eval_latency_probe_times_the_turns_and_two_packages(engine_run, tmp_path):
    """The evaluation's turns are timed with the decoder's share; the prefill A/B and the code A/B (this checkout against HEAD's
    package, fresh processes) each time both arms; a bad count is refused."""
    out = tmp_path / "elp"
    r = subprocess.run([sys.executable, str(SCRIPTS / "eval_latency_probe.py"), "--run", str(engine_run), "--users", "2", "--rounds", "2",
                        "--against", "HEAD", "--code-rounds", "1", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.with_suffix(".json").read_text())
    t = res["turns"]
    assert t["users"] == 2 and 0 < t["decoder_p50_ms"] <= t["p50_ms"] and t["calls_p50"] >= 1 and t["prompt_tokens_min"] > 0
    assert res["prefill"]["base"]["n"] == res["prefill"]["aligned"]["n"] == 2
    assert list(res["code_ab"]) == ["this checkout", "HEAD"] and all(len(v) == 1 and v[0]["users"] == 2 for v in res["code_ab"].values())
    assert "| median of rounds |" in out.with_suffix(".md").read_text()
    bad = subprocess.run([sys.executable, str(SCRIPTS / "eval_latency_probe.py"), "--run", str(engine_run), "--users", "0", "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "at least 1" in bad.stderr
