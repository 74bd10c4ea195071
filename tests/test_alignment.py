"""The alignment stage: vocabulary extension, stage A freezing, example leakage, constrained decoding, errors."""
import pytest
import torch

import copy
from talkwalk.alignment import add_sid_tokens, encode_example, make_examples, param_checksums, save_stage_b, sid_code_ids, train_stage_a, train_stage_b
from talkwalk.prompts import PromptStyle, rec_messages
from talkwalk.sids import TokenTrie, sid_string
from talkwalk.decoding import constrained_beam_search, rec_prompt_ids
from talkwalk.llm import load_llm
from talkwalk.data import DataConfig, load_dataset
from talkwalk.catalog import leave_one_out


@pytest.fixture(scope="module")
def ml():
    ds = load_dataset(DataConfig(dataset="ml-100k"))
    split = leave_one_out(ds.interactions, 20)
    # any collision-free 3-level SIDs + collision code will do for these checks
    sids = {i: (n // 256 % 8, n // 16 % 16, n % 16, 0) for n, i in enumerate(ds.items.index)}
    return ds, split, sids


@pytest.fixture(scope="module")
def llm(ml):
    _, _, sids = ml
    model, tok = load_llm()
    tokens = sorted({f"<|L{l + 1}_{c}|>" for s in sids.values() for l, c in enumerate(s)})
    n_old = model.get_input_embeddings().weight.shape[0]
    new_ids = add_sid_tokens(model, tok, tokens)
    return model, tok, new_ids, n_old, tokens


def test_token_addition_is_idempotent_and_round_trips(llm, tmp_path):
    model, tok, new_ids, n_old, tokens = llm
    n = len(tok)
    assert add_sid_tokens(model, tok, tokens) == new_ids and len(tok) == n
    assert all(i >= n_old for i in new_ids) and model.get_input_embeddings().weight.shape[0] == n
    ids = tok("Recently watched:\n" + sid_string((1, 2, 3, 0)), add_special_tokens=False).input_ids
    assert tok.convert_ids_to_tokens(ids[-6:]) == ["<|sid_start|>", "<|L1_1|>", "<|L2_2|>", "<|L3_3|>", "<|L4_0|>", "<|sid_end|>"]
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    m2, t2 = load_llm(str(tmp_path))
    assert t2.convert_tokens_to_ids(tokens) == tok.convert_tokens_to_ids(tokens)
    assert torch.equal(m2.get_input_embeddings().weight, model.get_input_embeddings().weight)


def test_stage_a_changes_only_new_rows(ml, llm):
    ds, split, sids = ml
    model, tok, new_ids, n_old, _ = llm
    sid_str = {i: sid_string(s) for i, s in sids.items()}
    ex = make_examples(ds, split, sids, sid_str, PromptStyle(max_history=3), {"next": 4, "sid2text": 2}, seed=0)
    enc = [encode_example(tok, e) for e in ex]
    before = param_checksums(model, skip_rows_from=n_old)
    rows = model.get_input_embeddings().weight[n_old:].clone()
    train_stage_a(model, tok, enc, n_old, steps=2, lr=1e-2, batch_size=2)
    assert param_checksums(model, skip_rows_from=n_old) == before
    assert not torch.equal(model.get_input_embeddings().weight[n_old:], rows)
    assert all(p.requires_grad is False for n, p in model.named_parameters() if "embed" not in n and "lm_head" not in n)


def test_examples_never_contain_validation_or_test_targets(ml):
    ds, split, sids = ml
    sid_str = {i: sid_string(s) for i, s in sids.items()}
    n = {"text2sid": 300, "sid2text": 300, "next": 3000, "steer": 1000, "session": 500, "sequence": 2000}
    ex = make_examples(ds, split, sids, sid_str, PromptStyle(), n, seed=1)
    held = {(r.user_id, r.target) for df in (split.valid, split.test) for r in df.itertuples()}
    train = split.train_sequences()
    train_items = set(split.train.item_id)
    for e in ex:
        for u in e.users:
            assert not any((u, i) in held for i in e.items), f"{e.kind} example leaks a held-out target of user {u}"
            assert set(e.items) <= set(train[u]), f"{e.kind} example of {u} uses items outside their training sequence"
        assert set(e.items) <= train_items
    assert {e.kind for e in ex} == set(n)
    again = make_examples(ds, split, sids, sid_str, PromptStyle(), n, seed=1)
    assert [e.messages for e in ex[:50]] == [e.messages for e in again[:50]]  # deterministic under a seed


def test_constrained_search_returns_distinct_real_items(ml, llm):
    ds, split, sids = ml
    model, tok, *_ = llm
    trie = TokenTrie(sids, tok)
    sid_str = {i: sid_string(s) for i, s in sids.items()}
    ids = rec_prompt_ids(tok, rec_messages(list(split.valid.history.iloc[0]), "something scary", sid_str, PromptStyle()))
    res = constrained_beam_search(model, ids, trie, k=10)
    items = [i for i, _ in res]
    assert len(set(items)) == 10 and set(items) <= set(sids)
    assert [s for _, s in res] == sorted([s for _, s in res], reverse=True)
    shown = set(items[:5])
    assert not shown & {i for i, _ in constrained_beam_search(model, ids, trie, k=10, exclude=shown)}
    with pytest.raises(ValueError, match="share SID"):
        TokenTrie({"a": (1, 1, 1, 0), "b": (1, 1, 1, 0)}, tok)


def test_clear_errors(llm):
    model, tok, *_ = llm
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_llm("/no/such/model-folder")
    with pytest.raises(ValueError, match="max_vocab"):
        add_sid_tokens(model, tok, ["<|L9_1|>", "<|L9_2|>"], max_vocab=len(tok) + 1)


def test_stage_b_adapter_is_small_and_reloads(ml, llm, tmp_path):
    from peft import PeftModel
    ds, split, sids = ml
    model, tok, new_ids, n_old, _ = llm
    sid_str = {i: sid_string(s) for i, s in sids.items()}
    ex = make_examples(ds, split, sids, sid_str, PromptStyle(max_history=3), {"next": 4}, seed=2)
    model.save_pretrained(tmp_path / "a")
    tok.save_pretrained(tmp_path / "a")
    pm, stats = train_stage_b(model, tok, [encode_example(tok, e) for e in ex], new_ids, steps=1, lr=1e-3, batch_size=2)
    save_stage_b(pm, tmp_path / "b")
    size_mb = sum(f.stat().st_size for f in (tmp_path / "b").rglob("*") if f.is_file()) / 1e6
    assert size_mb < 20, f"adapter is {size_mb:.0f} MB: the full embedding matrices were saved"
    ids = tok("Request: <|rec|><|sid_start|>", return_tensors="pt").input_ids
    with torch.no_grad():
        ref = pm(ids).logits[0, -1]
        base, _ = load_llm(str(tmp_path / "a"))
        again = PeftModel.from_pretrained(base, str(tmp_path / "b"))(ids).logits[0, -1]
    assert torch.allclose(ref, again, atol=1e-5)
    pm.unload()  # leave the shared module-scoped model as it was


def test_stage_b_top_layers_moves_only_the_top_and_the_new_rows(ml, llm, tmp_path):
    ds, split, sids = ml
    model, tok, new_ids, n_old, _ = llm
    m = copy.deepcopy(model)
    sid_str = {i: sid_string(s) for i, s in sids.items()}
    ex = make_examples(ds, split, sids, sid_str, PromptStyle(max_history=3), {"sequence": 4}, seed=3)
    enc = [encode_example(tok, e, 256, sid_code_ids(tok)) for e in ex]
    layers = m.get_decoder().layers
    low, top = [p.detach().clone() for p in layers[0].parameters()], [p.detach().clone() for p in layers[-1].parameters()]
    old_rows = m.get_input_embeddings().weight[:n_old].detach().clone()
    pm, stats = train_stage_b(m, tok, enc, new_ids, steps=2, lr=1e-3, batch_size=2, mode="top", top_layers=2)
    assert pm is m and stats["steps"] == 2
    assert all(torch.equal(a, b) for a, b in zip(low, layers[0].parameters())), "layers below the top ones are frozen"
    assert not all(torch.equal(a, b) for a, b in zip(top, layers[-1].parameters())), "the top layer trained"
    assert torch.equal(old_rows, m.get_input_embeddings().weight[:n_old]), "the original vocabulary rows are frozen"
    save_stage_b(pm, tmp_path / "b", tok)
    m2, _ = load_llm(str(tmp_path / "b"))
    assert torch.equal(m2.get_decoder().layers[-1].self_attn.q_proj.weight, layers[-1].self_attn.q_proj.weight)
    with pytest.raises(ValueError, match="decoder layers"):
        train_stage_b(copy.deepcopy(model), tok, enc, new_ids, steps=1, lr=1e-3, batch_size=2, mode="top", top_layers=999)


def test_level_loss_is_the_constrained_choice(ml, llm):
    """code_loss='level': a SID code target's cross-entropy over its level's codes only, computed independently here."""
    from talkwalk.alignment import labelled_loss, level_codes
    ds, split, sids = ml
    model, tok, *_ = llm
    codes = level_codes(tok)
    assert [len(c) for c in codes] == [7, 16, 16, 1]  # level 1: n // 256 % 8 of 1,682 items reaches 6
    ids = tok("Recently watched:\n" + sid_string(sids["1"]), add_special_tokens=False, return_tensors="pt").input_ids
    labels = ids.clone(); labels[:, :-6] = -100
    mask = torch.ones_like(ids)
    with torch.no_grad():
        vocab = labelled_loss(model, ids, labels, mask)
        level = labelled_loss(model, ids, labels, mask, codes, "level")
        both = labelled_loss(model, ids, labels, mask, codes, "both")
        logits = model(ids).logits[0, :-1].float()
    y = labels[0, 1:]
    level_tok, both_tok = [], []
    for p in range(len(y)):
        if y[p] == -100:
            continue
        full = torch.nn.functional.cross_entropy(logits[p][None], y[p][None])
        group = next((c for c in codes if int(y[p]) in c.tolist()), None)
        if group is None:  # a format token (<|sid_start|>, <|sid_end|>): the whole vocabulary in every mode
            level_tok.append(full); both_tok.append(full)
            continue
        own = torch.nn.functional.cross_entropy(logits[p, group][None], torch.tensor([group.tolist().index(int(y[p]))]))
        level_tok.append(own); both_tok.append(full + own)
    assert torch.allclose(level, torch.stack(level_tok).mean(), atol=1e-4)
    assert torch.allclose(both, torch.stack(both_tok).mean(), atol=1e-4)
    assert level < vocab < both  # fewer choices than the vocabulary: a smaller loss; 'both' adds the level term
    with pytest.raises(ValueError, match="code_loss"):
        labelled_loss(model, ids, labels, mask, codes, "other")


def test_l1_weight_counts_first_level_codes_and_reaches_training(ml, llm):
    """l1_weight: first-level SID code targets count that many times in the loss's weighted mean (computed independently here), and the
    weight set for a phase is the one its Trainer's loss uses."""
    from unittest.mock import patch
    import talkwalk.alignment as al
    ds, split, sids = ml
    model, tok, *_ = llm
    codes = al.level_codes(tok)
    ids = tok("Recently watched:\n" + sid_string(sids["1"]) + sid_string(sids["2"]), add_special_tokens=False, return_tensors="pt").input_ids
    labels = ids.clone(); labels[:, :-12] = -100
    with torch.no_grad():
        got = al.labelled_loss(model, ids, labels, torch.ones_like(ids), codes, l1_weight=4.0)
        logits = model(ids).logits[0, :-1].float()
    y = labels[0, 1:]; keep = y != -100
    per = torch.nn.functional.cross_entropy(logits[keep], y[keep], reduction="none")
    w = torch.tensor([4.0 if int(t) in codes[0].tolist() else 1.0 for t in y[keep]])
    assert int((w == 4).sum()) == 2  # one first-level code per item, two items
    assert torch.allclose(got, (per * w).sum() / w.sum(), atol=1e-4) and not torch.allclose(got, per.mean(), atol=1e-4)
    sid_str = {i: sid_string(s) for i, s in sids.items()}
    enc = [al.encode_example(tok, e) for e in al.make_examples(ds, split, sids, sid_str, PromptStyle(max_history=3), {"next": 2}, seed=0)]
    seen, loss = [], al.labelled_loss
    def spy(*a, **kw):
        seen.append((a[4] is not None, a[6])); return loss(*a, **kw)
    with patch.object(al, "labelled_loss", spy):
        al.train_stage_a(copy.deepcopy(model), tok, enc, model.get_input_embeddings().weight.shape[0], steps=1, lr=1e-3, batch_size=2, l1_weight=3.0)
    assert seen and all(s == (True, 3.0) for s in seen)  # the level codes were passed, and the weight
