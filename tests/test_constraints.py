"""System constraints (issue 15) on the real engine, both heads: they hold for every returned item, and bad constraints are
clear errors (HTTP 422 naming the field)."""
import pytest
from fastapi.testclient import TestClient

from talkwalk.eval_steer import constraint_suite, constraint_violations
from talkwalk.serve import make_api
from talkwalk.session import EngineError


@pytest.mark.parametrize("head", ["generative", "dense"])
def test_random_constraints_always_hold(engine, dense, head):
    rec = engine if head == "generative" else dense
    out = constraint_suite(rec, n=25, k=10, seed=1)
    assert out["items_returned"] > 150 and out["violations"] == 0, out


def test_constraints_hold_in_a_session_and_on_repeat(engine):
    rules = {"exclude": {"genres": ["Drama", "Comedy"]}, "ranges": {"year": [1990, None]}}
    s = engine.session(history=["1", "50"])
    shown = []
    for request in ("something funny", "play that again", "more like that"):
        ids = [r.item_id for r in engine.turn(s, request, 5, constraints=rules)]
        assert not constraint_violations(engine.dataset.items, ids, rules)
        shown += ids
    unconstrained = engine.session(history=["1", "50"])
    ids = [r.item_id for r in engine.turn(unconstrained, "play that again", 5)]
    assert ids  # the same session machinery without rules still answers


def test_an_item_that_breaks_a_rule_is_not_repeated(engine):
    s = engine.session()
    first = engine.turn(s, "anything", 1)[0].item_id
    rules = {"exclude_items": [first]}
    again = [r.item_id for r in engine.turn(s, "play that again", 3, constraints=rules)]
    assert first not in again


@pytest.mark.parametrize("rules,says", [
    ({"include": {"shoe_size": ["44"]}}, "constraints.include.shoe_size"),
    ({"include": {"genres": ["Space Opera"]}}, "constraints.include.genres: unknown value"),
    ({"exclude": {"title": ["Heat"]}}, "constraints.exclude.title"),
    ({"ranges": {"year": [2000, 1990]}}, "min 2000 is above max 1990"),
    ({"ranges": {"genres": [1, 2]}}, "constraints.ranges.genres: not a numeric item field"),
    ({"ranges": {"year": [1, 2, 3]}}, "constraints.ranges.year"),
    ({"items": ["99999"]}, "constraints.items"),
    ({"include": {"genres": ["Film-Noir"]}, "ranges": {"year": [2100, None]}}, "no item"),
    ({"colour": "red"}, "constraints.colour: unknown field"),
])
def test_bad_constraints_are_clear_errors(engine, rules, says):
    with pytest.raises(EngineError, match=None) as e:
        engine.recommend("x", k=3, constraints=rules)
    assert says in str(e.value), str(e.value)
    r = TestClient(make_api(engine)).post("/recommend", json={"request": "x", "k": 3, "constraints": rules})
    assert r.status_code == 422 and says.split(":")[0].split(" ")[0] in r.json()["detail"], r.text


def test_nan_range_over_http_is_422(engine):
    r = TestClient(make_api(engine)).post("/recommend", content=b'{"request": "x", "constraints": {"ranges": {"year": [NaN, 1990]}}}',
                                          headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "constraints.ranges.year" in r.json()["detail"], r.text
