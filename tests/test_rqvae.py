"""The semantic-ID stage on the real data sets, with text embeddings (fast, and independent of the contrastive stage)."""
import json
import shutil
import os

import numpy as np
import pytest

from talkwalk.data import DataConfig, load_dataset, run_data_stage
from talkwalk.sids import REC, SIDError, SIDTable, SIDTrie, SID_END, SID_START, all_sid_tokens, parse_sid_string, sid_string, sid_tokens
from talkwalk.rqvae import RQVAEConfig, add_collision_level, assign_sid, load_item_embeddings, load_quantizer, load_sid_artifacts, run_rqvae_stage, text_item_embeddings

os.environ.setdefault("WANDB_MODE", "disabled")
DATASETS = ("ml-100k", "amazon-scientific")
QUANTIZERS = ("rqvae", "rqkmeans")
FAST = dict(embeddings="text", epochs=20, checkpoint_every=10, log_every=10, progress=False)  # enough to get past the early collapse


@pytest.fixture(scope="session")
def text_emb(shared_data):
    """Text embeddings of both catalogues: encoded once per session (and cached on disk between sessions)."""
    return {name: text_item_embeddings(load_dataset(DataConfig(dataset=name))) for name in DATASETS}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small models on a shared 2-core machine: one thread avoids oversubscription (several times faster there)."""
    import torch
    from threadpoolctl import threadpool_limits
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def runs(one_thread, text_emb, tmp_path_factory):
    """One stage run per (data set, quantiser) at the default 3 levels x 256 codes."""
    out = {}
    for name in DATASETS:
        ids, emb = text_emb[name]
        data = tmp_path_factory.mktemp(f"{name}-data")
        run_data_stage(DataConfig(dataset=name), data)  # the stage reads item metadata (coherence) from the run's data artifacts
        for q in QUANTIZERS:
            run = tmp_path_factory.mktemp(f"{name}-{q}"); shutil.copytree(data / "data", run / "data")
            out[name, q] = run_rqvae_stage(RQVAEConfig(dataset=name, quantizer=q, **FAST), run, ids=ids, emb=emb)
    return out


def test_text_embeddings_cover_the_catalogue(text_emb):
    for name in DATASETS:
        ids, emb = text_emb[name]
        ds = load_dataset(DataConfig(dataset=name))
        assert ids == list(ds.items.index) and emb.shape == (len(ds.items), 384) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    assert len(text_emb["ml-100k"][0]) == 1682 and len(text_emb["amazon-scientific"][0]) == 4344


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("q", QUANTIZERS)
def test_every_item_one_sid_both_ways(runs, text_emb, name, q):
    r, ids = runs[name, q], text_emb[name][0]
    assert r.sids.shape == (len(ids), 4) and len(r.table) == len(ids) == len(r.trie)
    assert len({tuple(s) for s in r.sids.tolist()}) == len(ids), "every SID is unique"
    assert set(r.table.sid_of) == set(ids), "every item has a SID"
    for i, s in zip(ids, r.sids.tolist()):
        assert r.table.sid(i) == tuple(s) and r.table.item(tuple(s)) == i and r.trie.item_of(s) == i
    for s, i in r.table.item_of.items():
        assert r.table.sid(i) == s
    lookup = json.loads((r.out / "lookup.json").read_text())
    assert len(lookup["item_to_sid"]) == len(lookup["sid_to_item"]) == len(ids)
    assert all(lookup["item_to_sid"][i] == list(parse_sid_string(s)) for s, i in lookup["sid_to_item"].items())
    # the collision level: 0 for the first item of each group (catalogue order), then 1, 2, ...
    seen, shared = {}, 0
    for s in r.sids.tolist():
        prefix = tuple(s[:3]); assert s[3] == seen.get(prefix, 0); seen[prefix] = s[3] + 1
    sizes = list(seen.values())
    assert r.stats["collisions"]["largest_group"] == max(sizes)
    assert r.stats["collisions"]["collision_rate"] == pytest.approx(sum(n for n in sizes if n > 1) / len(ids), abs=1e-6)
    assert r.stats["codebook_size"] == 256 and len(r.stats["codebooks"]) == 3
    if q == "rqvae":
        assert r.stats["collisions"]["collision_rate"] < 0.3 and r.stats["codebooks"][0]["perplexity"] > 30, "codebooks did not collapse"
    co = r.stats["coherence"]
    assert co["field"] == ("genres" if name == "ml-100k" else "top_category") and 0 <= co["same_l1_share"] <= 1


@pytest.mark.parametrize("q", QUANTIZERS)
def test_same_seed_same_sids(runs, text_emb, tmp_path, q):
    ids, emb = text_emb["ml-100k"]
    again = run_rqvae_stage(RQVAEConfig(dataset="ml-100k", quantizer=q, **FAST), tmp_path, ids=ids, emb=emb)
    np.testing.assert_array_equal(again.sids, runs["ml-100k", q].sids)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("q", QUANTIZERS)
def test_reload_gives_the_same_sids(runs, text_emb, name, q):
    r, (ids, emb) = runs[name, q], text_emb[name]
    quantizer, table, trie = load_sid_artifacts(r.out)
    assert quantizer.kind == q
    np.testing.assert_array_equal(quantizer.codes(emb), r.sids[:, :3])
    np.testing.assert_array_equal(np.load(r.out / "codes.npy"), r.sids)
    assert json.loads((r.out / "item_ids.json").read_text()) == ids
    assert table.sid_of == r.table.sid_of and table.item_of == r.table.item_of and trie.items == r.trie.items


def test_resume_continues_exactly(runs, text_emb, tmp_path):
    ids, emb = text_emb["ml-100k"]
    run_rqvae_stage(RQVAEConfig(dataset="ml-100k", **(FAST | {"epochs": 10})), tmp_path, ids=ids, emb=emb)  # "interrupted" after 10 epochs
    resumed = run_rqvae_stage(RQVAEConfig(dataset="ml-100k", **FAST), tmp_path, ids=ids, emb=emb)
    assert resumed.stats["resumed_from_epoch"] == 10
    np.testing.assert_array_equal(resumed.sids, runs["ml-100k", "rqvae"].sids)


def test_clear_errors(text_emb, runs, tmp_path):
    ids, emb = text_emb["ml-100k"]
    cfg = RQVAEConfig(dataset="ml-100k", **FAST)
    with pytest.raises(SIDError, match="catalogue is empty"):
        run_rqvae_stage(cfg, tmp_path, ids=[], emb=np.zeros((0, 384), np.float32))
    bad = emb.copy(); bad[10, 5] = np.nan; bad[20, 0] = np.inf
    with pytest.raises(SIDError, match=rf"row 10 \(item '{ids[10]}'\) has NaN or infinite values \(2 such rows"):
        run_rqvae_stage(cfg, tmp_path, ids=ids, emb=bad)
    with pytest.raises(SIDError, match="1,681 item ids but 1,682 embedding rows"):
        run_rqvae_stage(cfg, tmp_path, ids=ids[:-1], emb=emb)
    with pytest.raises(SIDError, match="address at most 64 items, but the catalogue has 1,682"):
        run_rqvae_stage(RQVAEConfig(codebook_size=2, levels=3, max_collision_codes=8, **FAST), tmp_path, ids=ids, emb=emb)
    with pytest.raises(FileNotFoundError, match="run_contrastive_stage"):
        run_rqvae_stage(RQVAEConfig(dataset="ml-100k", embeddings="contrastive"), tmp_path)
    with pytest.raises(SIDError, match="max_collision_codes=1"):  # level-1 codes alone: many items share them
        add_collision_level(runs["ml-100k", "rqvae"].sids[:, :1], max_collision_codes=1)
    with pytest.raises(SIDError, match="quantizer='vq'"):
        run_rqvae_stage(RQVAEConfig(quantizer="vq"), tmp_path, ids=ids, emb=emb)
    assert not (tmp_path / "rqvae" / "lookup.json").exists(), "a refused run writes no artifacts"


def test_contrastive_input_contract(text_emb, tmp_path):
    """The stage reads <run>/contrastive/item_emb.npy + item_ids.json, as stage 01 writes them."""
    ids, emb = text_emb["ml-100k"]
    (tmp_path / "contrastive").mkdir()
    np.save(tmp_path / "contrastive" / "item_emb.npy", emb)
    (tmp_path / "contrastive" / "item_ids.json").write_text(json.dumps(ids))
    got_ids, got = load_item_embeddings(tmp_path)
    assert got_ids == ids and np.array_equal(got, emb)
    r = run_rqvae_stage(RQVAEConfig(dataset="ml-100k", embeddings="contrastive", quantizer="rqkmeans", codebook_size="auto", progress=False), tmp_path)
    assert r.stats["embedding_source"].startswith("contrastive:") and r.stats["codebook_size"] == 16  # auto: 16**3 >= 1,682
    assert len(r.table) == 1682 and (tmp_path / "rqvae" / "stats.json").exists()


@pytest.mark.parametrize("key", [("amazon-scientific", "rqvae"), ("ml-100k", "rqkmeans")])
def test_trie_allows_only_existing_continuations(runs, key):
    r = runs[key]
    sids = [tuple(s) for s in r.sids.tolist()]
    nxt = {}
    for s in sids:
        for k in range(4):
            nxt.setdefault(s[:k], set()).add(s[k])
    for prefix, codes in nxt.items():
        assert r.trie.allowed_next(prefix) == sorted(codes)
        assert not r.trie.is_complete(prefix)
        assert r.trie.allowed_next_tokens(prefix) == [f"<|L{len(prefix) + 1}_{c}|>" for c in sorted(codes)]
    for s in sids[:200]:
        assert r.trie.is_complete(s) and r.trie.allowed_next(s) == [] and r.trie.allowed_next_tokens(s) == [SID_END]
    used_l1 = nxt[()]
    missing_l1 = next(c for c in range(256 + 1) if c not in used_l1)
    assert r.trie.allowed_next((missing_l1,)) == [] and r.trie.item_of((missing_l1, 0, 0, 0)) is None
    s = sids[0]
    assert r.trie.allowed_next((*s[:2], 999)) == [] and not r.trie.is_complete((*s[:3], 999))
    assert SIDTrie.load(r.out / "trie.json").items == r.trie.items


def test_sid_strings_round_trip(runs):
    for r in runs.values():
        vocab = set(all_sid_tokens(r.table))
        assert len(vocab) == 3 * 256 + 256 + 3 and {SID_START, SID_END, REC} <= vocab
        for s in r.sids.tolist():
            text = sid_string(s)
            assert parse_sid_string(text, length=4) == tuple(s) and r.table.item(text) == r.table.item(s)
            assert set(sid_tokens(s)) <= vocab and "".join(sid_tokens(s)) == text
    assert sid_string((12, 187, 45, 0)) == "<|sid_start|><|L1_12|><|L2_187|><|L3_45|><|L4_0|><|sid_end|>"
    for bad in ["", "<|sid_start|><|sid_end|>", "<|sid_start|><|L1_12|><|L3_4|><|sid_end|>", "<|L1_12|><|L2_3|>",
                "<|sid_start|><|L1_12|><|L2_x|><|sid_end|>", "<|sid_start|><|L1_12|><|sid_end|>junk"]:
        with pytest.raises(ValueError, match="malformed SID string"):
            parse_sid_string(bad)


@pytest.mark.parametrize("q", QUANTIZERS)
def test_cold_start_assigns_unique_sids_without_retraining(text_emb, tmp_path, q):
    ids, emb = text_emb["ml-100k"]
    rng = np.random.default_rng(0)
    new = set(rng.choice(len(ids), size=len(ids) // 10, replace=False).tolist())
    old = [i for i in range(len(ids)) if i not in new]
    r = run_rqvae_stage(RQVAEConfig(dataset="ml-100k", quantizer=q, **FAST), tmp_path, ids=[ids[i] for i in old], emb=emb[old])
    quantizer, table, trie = load_sid_artifacts(r.out)  # the saved quantiser, as a later process would load it
    new = sorted(new)
    got = assign_sid(emb[new], [ids[i] for i in new], quantizer, table, trie)
    assert len(table) == len(ids) and len(set(table.item_of)) == len(ids), "old and new SIDs are all unique"
    assert all(trie.item_of(s) == ids[i] for s, i in zip(got, new))
    for level in range(3):
        assert {s[level] for s in got} <= {s[level] for s in r.sids.tolist()}, "new items reuse codes the catalogue uses (L1 groups included)"
    free = load_quantizer(r.out).codes(emb[new])  # unrestricted: the quantiser's own choice, the same saved weights
    assert (free[:, 0] == np.array(got)[:, 0]).mean() > 0.7, "the restriction only moves items whose nearest code is unused"
    table.save(tmp_path / "lookup-with-new.json")
    assert SIDTable.load(tmp_path / "lookup-with-new.json").sid_of == table.sid_of
