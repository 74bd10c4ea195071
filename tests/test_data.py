"""The data stage on the real files: loaders, layout equivalence, the split, and bad input."""
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from talkwalk.data import DataConfig, build_dataset, dataset_stats, embedded_ml100k_dir, load_dataset, load_lcrec, load_movielens_100k, run_data_stage
from talkwalk.catalog import DataError, Field, describe_item, describe_user, leave_one_out, load_data_artifacts, load_descriptions


def _frames_equal(a, b):
    pd.testing.assert_frame_equal(a.items.sort_index(), b.items.sort_index(), check_dtype=False)
    pd.testing.assert_frame_equal(a.users.sort_index(), b.users.sort_index(), check_dtype=False)
    pd.testing.assert_frame_equal(a.interactions, b.interactions, check_dtype=False)


def test_ml100k_both_layouts_identical(shared_data):
    recbole = load_movielens_100k(embedded_ml100k_dir())
    grouplens = load_movielens_100k(shared_data / "ml-100k")
    assert (len(recbole.items), len(recbole.users), len(recbole.interactions)) == (1682, 943, 100_000)
    _frames_equal(recbole, grouplens)
    toy = recbole.items.loc["1"]
    assert (toy.title, toy.year, list(toy.genres)) == ("Toy Story", 1995, ["Animation", "Children's", "Comedy"])
    assert dict(recbole.users.loc["1"]) == {"age": 24, "gender": "M", "occupation": "technician"}


def test_ml_latest_small(shared_data):
    ds = load_dataset(DataConfig(dataset="ml-latest-small"))
    assert (len(ds.items), ds.interactions.user_id.nunique(), len(ds.interactions)) == (9742, 610, 100_836)
    toy = ds.items.loc["1"]
    assert toy.year == 1995 and "Animation" in toy.genres and "pixar" in toy.tags
    assert ds.items.loc["1"].title == "Toy Story"
    assert {f.name: f.kind for f in ds.item_fields}["tags"] == "multilabel"


def test_amazon_scientific_order_and_metadata(shared_data):
    ds = load_dataset(DataConfig(dataset="amazon-scientific"))
    raw = json.loads((shared_data / "amazon-scientific" / "Scientific.inter.json").read_text())
    assert (len(ds.items), ds.interactions.user_id.nunique(), len(ds.interactions)) == (4344, 8317, 58_492)
    seqs = {u: list(g) for u, g in ds.interactions.groupby("user_id", sort=False)["item_id"]}
    for u in list(raw)[:500]:  # the list order is the chronology
        assert seqs[u] == [str(i) for i in raw[u]]
    it = ds.items.loc["0"]
    assert it.top_category == "Industrial Electrical" and it.categories[-1] == "Capacitors" and it.brand.startswith("Sealed Unit")
    st = dataset_stats(ds)
    assert 0.99 < st["item_coverage"]["brand"] < 1.0  # 12 items have no brand: counted as missing, not present


@pytest.mark.parametrize("name", ["ml-100k", "ml-latest-small", "amazon-scientific"])
def test_leave_one_out_no_leakage(shared_data, name):
    ds = load_dataset(DataConfig(dataset=name))
    split = leave_one_out(ds.interactions, max_history=20)
    full = {u: list(g) for u, g in ds.interactions.groupby("user_id", sort=False)["item_id"]}
    times = {u: list(g) for u, g in ds.interactions.groupby("user_id", sort=False)["timestamp"]}
    train = split.train_sequences()
    valid = split.valid.set_index("user_id")
    for row in split.test.itertuples():
        u = row.user_id
        assert row.target not in train[u], f"test item of user {u} is in their training sequence"
        assert valid.loc[u, "target"] not in train[u]
        assert row.target == full[u][-1] and valid.loc[u, "target"] == full[u][-2]
        assert max(times[u][:-1]) <= times[u][-1], "the test event is the chronologically last"
        assert list(row.history) == full[u][:-1][-20:] and list(valid.loc[u, "history"]) == full[u][:-2][-20:]
    assert len(split.train) + len(split.valid) + len(split.test) == len(ds.interactions)


def test_artifacts_round_trip(tmp_path):
    ds, split, _ = run_data_stage(DataConfig(dataset="ml-100k"), tmp_path)
    ds2, split2 = load_data_artifacts(tmp_path / "data")
    _frames_equal(ds, ds2)
    assert list(split2.valid.history) == list(split.valid.history) and list(split2.test.target) == list(split.test.target)
    descs = [json.loads(l) for l in (tmp_path / "data" / "descriptions.jsonl").read_text().splitlines()]
    assert sum(d["kind"] == "item" for d in descs) == 1682 and sum(d["kind"] == "user" for d in descs) == 943
    assert all(len(d["variants"]) == 3 for d in descs)


def test_descriptions_cover_every_value(shared_data):
    for name in ["ml-100k", "ml-latest-small"]:
        ds = load_dataset(DataConfig(dataset=name))
        voc = load_descriptions("movielens")["items"]
        genres = {g for gs in ds.items.genres for g in gs} - {"unknown"}
        assert genres <= set(voc["genres"]), f"genres without phrases: {genres - set(voc['genres'])}"
        decades = {f"{int(y) // 10 * 10}s" for y in ds.items.year.dropna()}
        assert decades <= set(voc["decades"]), f"decades without phrases: {decades - set(voc['decades'])}"
    users = load_descriptions("movielens")["users"]
    ds = load_dataset(DataConfig(dataset="ml-100k"))
    assert set(ds.users.occupation) <= set(users["occupation"])
    rng = np.random.default_rng(0)
    texts = {describe_item(ds.items.loc["1"], ds.item_fields, load_descriptions("movielens"), rng) for _ in range(20)}
    assert len(texts) > 3, "augmented descriptions vary"
    assert describe_user(ds.users.loc["1"], ds.user_fields, load_descriptions("movielens")).startswith("a man")


# ---- bad input: clear errors naming file and line, nothing lost silently -------------------------------------

@pytest.fixture
def ml_copy(tmp_path, shared_data):
    dst = tmp_path / "ml"
    shutil.copytree(shared_data / "ml-100k", dst)
    return dst


def test_missing_folder_and_file(tmp_path, ml_copy):
    with pytest.raises(DataError, match="MovieLens 100K folder not found"):
        load_movielens_100k(tmp_path / "nowhere")
    (ml_copy / "u.data").unlink()
    with pytest.raises(DataError, match=r"u.data not found.*\n.*recbole"):
        load_movielens_100k(ml_copy)


def test_malformed_line_reports_file_and_line(ml_copy):
    lines = (ml_copy / "u.data").read_text().splitlines()
    lines[41] = "196\t242\tthree"
    (ml_copy / "u.data").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"u.data:42: expected 4"):
        load_movielens_100k(ml_copy)
    lines[41] = "196\t242\t3\tsoon"
    (ml_copy / "u.data").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"u.data:42: field 'timestamp'"):
        load_movielens_100k(ml_copy)


def test_unknown_item_error_or_drop(ml_copy):
    with open(ml_copy / "u.data", "a") as f:
        f.write("1\t99999\t5\t900000000\n")
    with pytest.raises(DataError, match=r"u.data:100001: user '1' interacts with item '99999'"):
        load_movielens_100k(ml_copy)
    ds = load_movielens_100k(ml_copy, on_unknown_item="drop")
    assert len(ds.interactions) == 100_000 and "dropped 1 interactions" in ds.notes[0]


def test_duplicate_item_id(ml_copy):
    txt = (ml_copy / "u.item").read_text(encoding="latin-1")
    first = txt.splitlines()[0]
    (ml_copy / "u.item").write_text(txt + first + "\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"u.item:1683: duplicate item id '1' \(first seen at line 1\)"):
        load_movielens_100k(ml_copy)


def test_empty_catalogue(ml_copy):
    (ml_copy / "u.item").write_text("")
    with pytest.raises(DataError, match="catalogue is empty"):
        load_movielens_100k(ml_copy)


def test_users_below_minimum_are_dropped_with_count(shared_data):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = load_dataset(DataConfig(dataset="amazon-scientific", min_interactions=8))
    assert any("fewer than 8" in str(x.message) for x in w)
    note = next(n for n in ds.notes if "fewer than 8" in n)
    raw = json.loads((shared_data / "amazon-scientific" / "Scientific.inter.json").read_text())
    n_few = sum(len(v) < 8 for v in raw.values())
    assert note.startswith(f"dropped {n_few:,} users") and ds.interactions.user_id.nunique() == len(raw) - n_few


def test_lcrec_malformed_json(tmp_path):
    (tmp_path / "X.item.json").write_text('{"0": {"title": "a"},\n "1": }')
    (tmp_path / "X.inter.json").write_text('{"0": [0]}')
    with pytest.raises(DataError, match=r"X.item.json:2: malformed JSON"):
        load_lcrec(tmp_path)


def test_field_kind_is_checked():
    with pytest.raises(ValueError, match="kind 'colour'"):
        Field("x", "colour")
    with pytest.raises(DataError, match="no interactions left"):
        build_dataset("t", "generic", [(1, "a", {})], [(1, "u", "a", 1, None)], [], min_interactions=3)
