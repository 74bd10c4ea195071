"""W&B offline runs of a pipeline run hold each stage's artifact and the upstream artifacts it used (`talkwalk.tracking`)."""
import pytest
from talkwalk.pipeline import build_pipeline
from talkwalk.run import RunDir, STAGE_INPUTS
from talkwalk.tracking import artifact_name, check_lineage, log_outputs, offline_runs, use_inputs
from talkwalk.utils import start_wandb


@pytest.fixture
def offline(monkeypatch):
    """W&B in offline mode (the project's default; the Makefile's test targets disable it)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_DIR", raising=False)


def test_stages_log_artifacts(offline, tmp_path):
    """Stages 00-02 trained at tiny size: one offline run each, grouped by the run folder, each logging its artifact and the inputs it read."""
    run = build_pipeline(tmp_path / "wb-run", "ml-100k", "tiny", upto="rqvae", log=lambda *a: None)
    runs = offline_runs(run)
    assert [r["job_type"] for r in runs] == ["data", "contrastive", "rqvae"]
    assert {r["group"] for r in runs} == {"wb-run"} and runs[0]["path"].parent == run / "wandb"
    lin = check_lineage(run)  # raises when a stage logged nothing or used a version no run logged
    assert lin["data"]["logged"]["type"] == "dataset" and "interactions.csv" in lin["data"]["logged"]["files"]
    assert lin["contrastive"]["used"] == ["wb-run-data"] and "item_emb.npy" in lin["contrastive"]["logged"]["files"]
    assert lin["rqvae"]["used"] == ["wb-run-data", "wb-run-contrastive"]
    assert "lookup.json" in lin["rqvae"]["logged"]["files"] and "checkpoint.pt" not in lin["rqvae"]["logged"]["files"]


def test_every_stage_artifact(offline, engine_run, tmp_path, monkeypatch):
    """Every stage of a served run folder (aligned model, dense head and evaluation where present) logged as the stages log it; W&B files in a temporary folder."""
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run = RunDir(engine_run)
    stages = [s for s in STAGE_INPUTS if run.has(s)]
    assert {"data", "contrastive", "rqvae", "alignment"} <= set(stages)
    before = set((run / "wandb").glob("offline-run-*"))
    for s in stages:
        w = start_wandb(s, None, run.root)
        use_inputs(w, run, s)
        log_outputs(w, run, s)
        w.finish()
    assert set((run / "wandb").glob("offline-run-*")) == before and len(list((tmp_path / "wandb").glob("offline-run-*"))) == len(stages)
    lin = check_lineage(run)
    assert set(lin) == set(stages)
    files = lin["alignment"]["logged"]["files"]
    assert {"stage_a/model.safetensors", "stage_a/tokenizer.json", "config.yaml"} <= set(files)
    assert not any(f.startswith(("checkpoint", "progress")) for f in files)
    assert lin["alignment"]["used"] == [artifact_name(run, s) for s in ("data", "contrastive", "rqvae")]
    if "eval" in lin:
        assert artifact_name(run, "alignment") in lin["eval"]["used"] and {"config.yaml", "results.json"} <= set(lin["eval"]["logged"]["files"])
