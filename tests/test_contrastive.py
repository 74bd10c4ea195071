"""The contrastive stage: loss properties, robustness of the encoder, and artifact reloads."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from talkwalk.contrastive import ContrastiveConfig, run_contrastive_stage, same_matrix, symmetric_infonce
from talkwalk.encoders import load_contrastive, load_embeddings
from talkwalk.data import DataConfig, run_data_stage


def test_loss_symmetric_and_lower_for_matched_pairs():
    torch.manual_seed(0)
    a = F.normalize(torch.randn(32, 24), dim=-1)
    b = F.normalize(torch.randn(32, 24), dim=-1)
    scale = torch.tensor(math.log(1 / 0.07))
    assert torch.allclose(symmetric_infonce(a, b, scale), symmetric_infonce(b, a, scale), atol=1e-5)
    matched = F.normalize(a + 0.1 * torch.randn(32, 24), dim=-1)
    shuffled = matched[torch.randperm(32)]
    assert symmetric_infonce(a, matched, scale) < 0.5 * symmetric_infonce(a, shuffled, scale)


def test_identical_descriptions_are_not_negatives():
    torch.manual_seed(1)
    a = F.normalize(torch.randn(6, 8), dim=-1)
    a[1] = a[0]
    same = same_matrix(["x", "x", "y", "z", "u", "v"])
    assert same[0, 1] and same[1, 0] and not same[0, 2]
    scale = torch.tensor(math.log(1 / 0.07))
    # with the duplicate masked, a perfect alignment has (near) zero loss; unmasked it cannot
    assert symmetric_infonce(a, a, scale, same) < 0.01 < symmetric_infonce(a, a, scale)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A small real catalogue in the generic layout, trained for two epochs."""
    root = tmp_path_factory.mktemp("toy")
    data = root / "catalogue"
    data.mkdir()
    rng = np.random.default_rng(0)
    moods, kinds = ["calm", "energetic", "dark", "happy"], ["song", "podcast"]
    items = [{"id": f"i{i}", "title": f"Track {i}", "mood": moods[i % 4], "kind": kinds[i % 2], "bpm": int(60 + 10 * (i % 9)),
              "tags": [moods[i % 4], "live"] if i % 3 else []} for i in range(60)]
    (data / "items.jsonl").write_text("".join(json.dumps(o) + "\n" for o in items))
    rows = ["user,item,timestamp"] + [f"u{u},i{int(rng.integers(60))},{t}" for u in range(20) for t in range(6)]
    (data / "interactions.csv").write_text("\n".join(rows) + "\n")
    cfg = ContrastiveConfig(dataset=str(data), epochs=2, batch_size=16, n_variants=1, holdout_frac=0.2)
    run_data_stage(DataConfig(dataset=str(data)), root / "run")  # the stage reads the data stage's artifacts
    model, metrics = run_contrastive_stage(cfg, root / "run")
    return root / "run", model, metrics, pd.DataFrame(items).set_index("id")


def test_artifacts_reload_to_identical_embeddings(toy_run):
    run, model, metrics, items = toy_run
    ids, emb = load_embeddings(run / "contrastive")
    assert ids == list(items.index) and emb.shape == (60, 384)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    again = load_contrastive(run / "contrastive").embed_items(items.loc[ids])
    assert np.allclose(again, emb, atol=1e-5)
    assert metrics["n_heldout"] == 12 and 0 <= metrics["contrastive/heldout"]["desc->item R@10"] <= 1


def test_missing_fields_and_unseen_values(toy_run):
    run, *_ = toy_run
    model = load_contrastive(run / "contrastive")
    new = pd.DataFrame([{"title": "Brand new", "mood": "melancholic", "kind": None, "bpm": None, "tags": ["never-seen"]},
                        {"title": None}], index=["n1", "n2"])  # unseen values, missing fields, absent columns
    emb = model.embed_items(new)
    assert emb.shape == (2, 384) and np.isfinite(emb).all()
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    assert model.embed_items(new.iloc[:0]).shape == (0, 384)


def test_resume_continues_from_checkpoint(toy_run, capsys):
    run, *_ = toy_run
    cfg = ContrastiveConfig(dataset="unused", epochs=3, batch_size=16, n_variants=1, holdout_frac=0.2, checkpoint_every=1)
    cfg.dataset = str(run.parent / "catalogue")
    run_contrastive_stage(cfg, run)  # the checkpoint from the 2-epoch run has the same config apart from epochs
    assert "resuming from" in capsys.readouterr().out
    cfg.epochs = 1  # a checkpoint past the asked-for epochs is not silently reused
    run_contrastive_stage(cfg, run)
    assert "training from scratch" in capsys.readouterr().out
