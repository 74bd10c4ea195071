"""Spot check of the dense engine: Hit@10 of a request naming a genre of the held-out item ("give me something {genre}", the
evaluation's cost-of-steering request), against the unsteered turn, on validation or test users, with and without the attribute bonus.

Usage: .venv/bin/python scripts/matching_request_check.py runs/ml-100k-collab --split valid --users 100 [--bonuses 0.5,0]
Validation users are the dense stage's (its val_seed); test users a seeded sample (seed 0). Prints one line per bonus; writes nothing.
"""
import argparse, time
import numpy as np
from talkwalk.recommender import load_recommender
from talkwalk.catalog import load_data_artifacts
from talkwalk.eval_data import prior_items
from talkwalk.run import RunDir
from talkwalk.prompts import catalogue_attributes, with_attr


def cases(run:RunDir, split_name:str, users:int, seed:int=0) -> list:
    "`(user, every item before the held-out one, held-out item, request)` per user whose held-out item has a genre: the session history the evaluation gives (`talkwalk.eval_data`), so every item the user saw is excluded and the prompt keeps the last `max_history`."
    ds, split = load_data_artifacts(run.dir('data')); cfg = run.saved_config('dense')
    prior = prior_items(ds.interactions)
    if split_name == 'valid': prior = {u: p[:-1] for u, p in prior.items()}  # the validation item is the last before the test item
    attrs, masks = catalogue_attributes(ds); pos = {i: p for p, i in enumerate(ds.items.index)}
    rows = (split.valid.sample(n=min(cfg['val_users'], len(split.valid)), random_state=cfg.get('val_seed', 0)) if split_name == 'valid'
            else split.test.sample(n=300, random_state=0)).head(users)
    rng, out = np.random.default_rng(seed), []
    for r in rows.itertuples():
        have = [a for a in attrs if a.kind == 'genre' and masks[a.key][pos[r.target]]]
        if have: out.append((r.user_id, list(prior[r.user_id]), r.target, with_attr('give me something {a}', have[int(rng.integers(len(have)))].phrase)))
    return out


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run'); ap.add_argument('--split', choices=('valid', 'test'), default='valid')
    ap.add_argument('--users', type=int, default=100); ap.add_argument('--bonuses', default='0.5,0')
    a = ap.parse_args(); cs = cases(RunDir(a.run), a.split, a.users)
    hit = lambda rec, q: np.mean([t in [x.item_id for x in rec.recommend(q(r), history=h, user_id=u, k=10)] for u, h, t, r in cs])
    for b in map(float, a.bonuses.split(',')):
        rec, t0 = load_recommender(a.run, mode='dense', attribute_bonus=b), time.time()
        print(f'{a.split}, {len(cs)} users, bonus {b:g}: unsteered Hit@10 {hit(rec, lambda r: ""):.3f}, matching request Hit@10 {hit(rec, lambda r: r):.3f} ({time.time() - t0:.0f} s)', flush=True)
