"""A trained run exported as a Hugging Face model repository (`talkwalk.export`) loads with plain transformers and serves through the engine."""
import json
import pytest


@pytest.fixture(scope="module")
def exported(engine_run, tmp_path_factory):
    """The served run folder exported once for this module (the merged model is written: about 10 s)."""
    from talkwalk.export import export_run
    return export_run(engine_run, tmp_path_factory.mktemp("hf") / "talkwalk-export")


def test_transformers_loads_export(exported):
    """`AutoModelForCausalLM` and `AutoTokenizer` load the folder; every SID token of the catalogue is one token of the vocabulary."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from talkwalk.sids import SIDTable, sid_tokens
    model, tok = AutoModelForCausalLM.from_pretrained(exported), AutoTokenizer.from_pretrained(exported)
    sids = SIDTable.load(exported / "rqvae" / "lookup.json").sid_of
    want = sorted({t for s in sids.values() for t in sid_tokens(s)})
    ids = tok.convert_tokens_to_ids(want)
    assert tok.unk_token_id not in ids and len(set(ids)) == len(want)
    assert max(ids) < model.get_input_embeddings().num_embeddings
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\n") and "## Evaluation" in card


def test_recommender_loads_export(exported, engine):
    """`Recommender.load(export)` serves the same recommendations as the run folder it came from."""
    from talkwalk.engine import GenerativeRecommender
    from talkwalk.recommender import Recommender  # the module that gives the interface its `load`
    rec = Recommender.load(exported, device="cpu")
    assert isinstance(rec, GenerativeRecommender) and json.loads((exported / "talkwalk.json").read_text())["stage"] == "b"
    history = list(engine.dataset.items.index[:3])
    got = [r.item_id for r in rec.turn(rec.session(history=history), "something funny and light", 5)]
    want = [r.item_id for r in engine.turn(engine.session(history=history), "something funny and light", 5)]
    assert got == want and len(got) == 5
