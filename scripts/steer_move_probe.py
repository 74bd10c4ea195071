"""Validation probe (never the test split): how should the dense head's steering move enter the query? The head maps a
context with a request to `z` and the same context with the neutral request to `plain` (unit vectors); the engine ranks a
steered request from `unit(P + unit(z + w (z - plain)) - plain)`, P the neutral query pulled toward the history and w the
dial's guidance. This probe compares that with `unit(P + m (z - plain))`, and with the move restricted to the item space's
attribute coordinates (the head's own reading of which attributes were asked for, without its content part), for several m, and reports on validation users:
- unsteered Hit@10 / NDCG@10 (the neutral request);
- steer share: the share of the top 10 carrying an attribute the user's history lacks, when it is asked for;
- matching Hit@10 / NDCG@10: the held-out item ranked after a request for one of its own genres (the evaluation's
  cost-of-steering case, 'give me something {genre}'), against the unsteered figure for the same users.
Inference only: the head is the run's trained head, unchanged.

    .venv/bin/python scripts/steer_move_probe.py runs/ml-100k-collab --report reports/steer_move_probe_ml-100k-collab
"""
import argparse, json, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from talkwalk.catalog import load_descriptions
from talkwalk.dense import DenseConfig, FeatureCache, _profiles, dense_inputs, hit_ndcg, topk_excluding
from talkwalk.reader import READER_NEUTRAL, run_reader
from talkwalk.encoders import guided, history_centroids, load_head, with_history
from talkwalk.llm import load_llm
from talkwalk.eval_steer import FAMILIES, steer_request
from talkwalk.prompts import NEGATION_TEMPLATES, dense_messages, with_attr
from talkwalk.run import RunDir
from talkwalk.session import dial_path
from talkwalk.utils import machine_info, pick_device, write_json_atomic

MATCH_TEMPLATE = 'give me something {a}'  # the evaluation's cost-of-steering request (talkwalk.eval_steer.steer_suite)


def matching_contexts(inp:dict, cfg:DenseConfig, tok, seed:int) -> tuple:
    "Per validation row, the neutral context's text index and a context asking for a random genre (or category) of its held-out item; `(rows, texts)`."
    ds, ex, attrs, M = inp['ds'], inp['ex'], inp['attrs'], inp['M']
    main = 'genre' if any(a.kind == 'genre' for a in attrs) else 'category'
    title, prof = ds.items['title'].astype(str).to_dict(), _profiles(ds, load_descriptions(ds.domain))
    val = inp['split'].valid.sample(n=min(cfg.val_users, len(inp['split'].valid)), random_state=cfg.val_seed)  # the rows of `ex.val`, in order
    rng, rows, texts = np.random.default_rng(seed), [], []
    for r, (neutral, target) in zip(val.itertuples(), ex.val):
        have = [j for j, a in enumerate(attrs) if a.kind == main and M[j, target]]
        if not have: continue
        a = attrs[have[int(rng.integers(len(have)))]]
        hist = list(r.history)[-(cfg.max_history or inp['split'].max_history):]
        msgs = dense_messages([title[i] for i in hist], [with_attr(MATCH_TEMPLATE, a.phrase)], [], prof.get(r.user_id), ds.domain)
        rows.append((len(rows), int(neutral), int(target), attrs.index(a), with_attr(MATCH_TEMPLATE, a.phrase))); texts.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
    return rows, texts


def negation_contexts(inp:dict, cfg:DenseConfig, tok, seed:int) -> tuple:
    "Per validation row, a context banning the genre (or category) most of its history has, in a training negation phrasing; `(rows, texts)`: (val row, attribute, request)."
    ds, ex, attrs, M = inp['ds'], inp['ex'], inp['attrs'], inp['M']
    title, prof, pos = ds.items['title'].astype(str).to_dict(), _profiles(ds, load_descriptions(ds.domain)), {i: p for p, i in enumerate(ds.items.index)}
    val = inp['split'].valid.sample(n=min(cfg.val_users, len(inp['split'].valid)), random_state=cfg.val_seed)
    plain = [j for j, a in enumerate(attrs) if a.kind != 'decade']
    rng, rows, texts = np.random.default_rng(seed + 1), [], []
    for v, r in enumerate(val.itertuples()):
        hist = list(r.history)[-(cfg.max_history or inp['split'].max_history):]
        j = plain[int(M[plain][:, [pos[i] for i in hist]].mean(1).argmax())]
        req = NEGATION_TEMPLATES[int(rng.integers(len(NEGATION_TEMPLATES)))].format(w=attrs[j].phrase)
        msgs = dense_messages([title[i] for i in hist], [req], [], prof.get(r.user_id), ds.domain)
        rows.append((v, j, req)); texts.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
    return rows, texts


def reader_rows(run, inp, rows, texts_m, st, P_m, P_s, E, seen, seen_m, target_m, Mb, a_s, bonuses, seed, head_reading, negation) -> dict:
    "Reading accuracy of the engine's reader (`run_reader`) and of the head (which attribute a request names), its polarity, and ranking with a bonus on its reading."
    reader = run_reader(run, inp['ds'])
    assert [a.key for a in reader.attrs] == [a.key for a in inp['attrs']], 'the reader and the head list different attributes'
    read = lambda texts: torch.as_tensor(reader.similarity(texts).argmax(1))
    rng, attrs, Mf = np.random.default_rng(seed), inp['attrs'], Mb.float()
    true_m = torch.as_tensor([r[3] for r in rows]); out = {}
    reqs = {f: [steer_request(attrs[int(j)], f, rng, inp['ds'].domain) for j in a_s] for f in FAMILIES}
    acc = {'matching': {'encoder': (read(texts_m) == true_m).float().mean().item(), 'head': (head_reading['matching'] == true_m).float().mean().item()}}
    for f, rq in reqs.items():
        ok = [i for i, r in enumerate(rq) if r]
        acc[f] = {'encoder': (read([rq[i] for i in ok]) == a_s[ok]).float().mean().item(), 'requests': len(ok)}
    acc['template']['head'] = (head_reading['template'] == a_s).float().mean().item()
    out['reading accuracy'] = acc
    sim = lambda texts: torch.as_tensor(reader.similarity(texts).max(1))
    named = torch.cat([sim(texts_m), sim(reqs['template']), sim([r for r in reqs['vocabulary'] if r])])
    tau = reader.threshold; out['threshold'] = {'neutral max cosine': tau, 'neutral': len(READER_NEUTRAL), 'attribute requests': len(named),
                                                'attribute requests above it': (named > tau).float().mean().item(), 'attribute requests min cosine': named.min().item()}
    neg_rows, neg_move, D, steer_move = negation
    neg_read = read([r[2] for r in neg_rows]); banned = torch.as_tensor([r[1] for r in neg_rows])
    along = lambda move, j: (move * D[j]).sum(1)  # the head's move along the read attribute's direction in its item space
    text_sign = torch.as_tensor([reader.polarity(r[2], int(j)) for r, j in zip(neg_rows, neg_read)])
    tmpl_read = read(reqs['template'])
    out['polarity'] = {'negation read as the banned attribute': (neg_read == banned).float().mean().item(),
                       'negation: text reads it negated': (text_sign < 0).float().mean().item(),
                       'negation: head moves away': (along(neg_move, neg_read) < 0).float().mean().item(),
                       'template request: text reads it asked for': float(np.mean([reader.polarity(r, int(j)) > 0 for r, j in zip(reqs['template'], tmpl_read)])),
                       'template request: head moves toward': (along(steer_move, tmpl_read) > 0).float().mean().item()}
    P_n = P_s[[r[0] for r in neg_rows]]; seen_n = [seen[r[0]] for r in neg_rows]
    for m in bonuses:  # signed as the engine signs it: by the text
        top = topk_excluding(P_n, E, 10, seen_n, m * text_sign[:, None] * Mf[neg_read])
        out.setdefault('negation free share', {})[f'b = {m:g}'] = 1 - Mb[banned[:, None], top].float().mean().item()
    out['negation free share']['unsteered'] = 1 - Mb[banned[:, None], topk_excluding(P_n, E, 10, seen_n)].float().mean().item()
    r_m, r_s = Mf[read(texts_m)], Mf[tmpl_read]
    for m in bonuses:
        h, n = hit_ndcg(topk_excluding(P_m, E, 10, seen_m, m * r_m), target_m)
        top = topk_excluding(P_s, E, 10, seen, m * r_s)
        out[f'encoder-read attribute bonus, b = {m:g}'] = {'match_hit@10': h, 'match_ndcg@10': n, 'steer_share': Mb[a_s[:, None], top].float().mean().item()}
    return out

def query(P:torch.Tensor, move:torch.Tensor, m:float, attr_cols:slice|None) -> torch.Tensor:
    "Unit `P + m * move`, the move restricted to the attribute coordinates where `attr_cols` is given."
    if attr_cols is not None: move = torch.zeros_like(move).index_copy_(1, torch.arange(move.shape[1])[attr_cols], move[:, attr_cols])
    return F.normalize(P + m * move, dim=-1)


def probe(run:Path, scales:list, guidances:list, bonuses:list, seed:int) -> dict:
    "Unsteered, steer-share and matching-request figures of each way of adding the move, on the run's validation users."
    cfg = DenseConfig(**RunDir(run).saved_config('dense'))
    inp = dense_inputs(run, cfg, progress=False, log=lambda *a: None)
    head, ex, dev = load_head(run/'dense'), inp['ex'], 'cpu'
    E, X = torch.as_tensor(inp['E'], dtype=torch.float32), torch.as_tensor(inp['X'], dtype=torch.float32)
    n_attr = len(inp['attrs']); attr_cols = slice(E.shape[1] - n_attr, E.shape[1]) if cfg.attribute_weight > 0 else None
    model, tok = load_llm(cfg.model, pick_device(cfg.device))
    rows, texts = matching_contexts(inp, cfg, tok, seed)
    Xm = torch.as_tensor(FeatureCache(RunDir(run).path('dense', 'features'), cfg.model or 'SmolLM2-135M-Instruct').features(model, tok, texts, cfg.llm_batch, progress=True), dtype=torch.float32)
    neg_rows, neg_texts = negation_contexts(inp, cfg, tok, seed)
    Xn = torch.as_tensor(FeatureCache(RunDir(run).path('dense', 'features'), cfg.model or 'SmolLM2-135M-Instruct').features(model, tok, neg_texts, cfg.llm_batch, progress=True), dtype=torch.float32)
    seen, w = ex.val_seen, cfg.history_weight
    cen = history_centroids([E[torch.as_tensor(s, dtype=torch.long)] for s in seen], E.shape[1])
    pull = lambda z: F.normalize(F.normalize(z, dim=-1) + w * cen[:len(z)], dim=-1) if w else F.normalize(z, dim=-1)
    with torch.no_grad():
        plain_v = head(X[ex.val[:, 0]]); P_v = pull(plain_v)
        st = ex.val_steer; plain_s = head(X[st[:, 0]]); z_s = head(X[st[:, 1]]); P_s = pull(plain_s)
        idx = torch.as_tensor([r[0] for r in rows]); z_m = head(Xm)
        which = [int(np.flatnonzero(ex.val[:, 0] == r[1])[0]) for r in rows]  # the validation row of each matching context
        P_m, plain_m = P_v[which], plain_v[which]
    target_v, target_m = torch.as_tensor(ex.val[:, 1]), torch.as_tensor([r[2] for r in rows])
    seen_m, Mb, a_s = [seen[i] for i in which], torch.as_tensor(inp['M']).bool(), torch.as_tensor(st[:, 2])
    def share(q):
        top = topk_excluding(q, E, 10, seen); return Mb[a_s[:, None], top].float().mean().item()
    uns = hit_ndcg(topk_excluding(P_v, E, 10, seen), target_v); uns_m = hit_ndcg(topk_excluding(P_m, E, 10, seen_m), target_m)
    out = {'unsteered (all validation users)': {'val_hit@10': uns[0], 'val_ndcg@10': uns[1]},
           'unsteered (users with a matching request)': {'val_hit@10': uns_m[0], 'val_ndcg@10': uns_m[1], 'steer_share': share(P_s)}}
    hist_m = [E[torch.as_tensor(s, dtype=torch.long)] for s in seen_m]
    engine = lambda z, plain, g, hs: with_history(guided(z, plain, g), hs, w, plain)  # as the engine and `validate` rank a steered request
    for g in guidances:
        h, n = hit_ndcg(topk_excluding(engine(z_m, plain_m, g, hist_m), E, 10, seen_m), target_m)
        out[f'engine, w = {g:g}'] = {'match_hit@10': h, 'match_ndcg@10': n,
                                     'steer_share': share(engine(z_s, plain_s, g, [E[torch.as_tensor(s, dtype=torch.long)] for s in seen]))}
    for space, cols in (('full move', None), ('attribute move', attr_cols)):
        if space == 'attribute move' and cols is None: continue
        for m in scales:
            h, n = hit_ndcg(topk_excluding(query(P_m, z_m - plain_m, m, cols), E, 10, seen_m), target_m)
            out[f'{space}, m = {m:g}'] = {'match_hit@10': h, 'match_ndcg@10': n, 'steer_share': share(query(P_s, z_s - plain_s, m, cols))}
    if attr_cols is not None:  # the move's attribute coordinates as a bonus for each attribute an item has (a soft filter that keeps the personal order)
        Mf = torch.as_tensor(inp['M'], dtype=torch.float32)
        def bonus(move):
            d = move[:, attr_cols]; return d / d.abs().amax(1, keepdim=True).clamp_min(1e-9) @ Mf
        def dominant(move):  # only the attribute the move weighs most (its sign kept): the head's reading of the request, made hard
            d = move[:, attr_cols]; j = d.abs().argmax(1); return (torch.zeros_like(d).scatter_(1, j[:, None], d.gather(1, j[:, None]).sign())) @ Mf
        oracle_m = Mf[torch.as_tensor([r[3] for r in rows])]; oracle_s = Mf[a_s]  # the requested attribute itself, as a constraint would name it
        for name, b_m, b_s in (('attribute bonus', bonus(z_m - plain_m), bonus(z_s - plain_s)), ('dominant attribute bonus', dominant(z_m - plain_m), dominant(z_s - plain_s)),
                               ('requested attribute bonus (oracle)', oracle_m, oracle_s)):
            for m in bonuses:
                h, n = hit_ndcg(topk_excluding(P_m, E, 10, seen_m, m * b_m), target_m)
                top = topk_excluding(P_s, E, 10, seen, m * b_s)
                out[f'{name}, b = {m:g}'] = {'match_hit@10': h, 'match_ndcg@10': n, 'steer_share': Mb[a_s[:, None], top].float().mean().item()}
        out.update(reader_rows(run, inp, rows, texts_m := [r[4] for r in rows], st, P_m, P_s, E, seen, seen_m, target_m, Mb, a_s, bonuses, seed,
                               negation=(neg_rows, head(Xn) - plain_v[[r[0] for r in neg_rows]], torch.as_tensor(inp['D'], dtype=torch.float32), z_s - plain_s),
                               head_reading={'matching': (z_m - plain_m)[:, attr_cols].argmax(1), 'template': (z_s - plain_s)[:, attr_cols].argmax(1)}))
    return {'run': str(run), 'users': len(ex.val), 'match_users': len(rows), 'steer_users': len(st), 'item_space': inp['space'],
            'history_weight': w, 'template': MATCH_TEMPLATE, 'seed': seed, 'rows': out}


def write_report(m:dict, stem:Path, command:str):
    "`<stem>.json` and `<stem>.md`."
    write_json_atomic(stem.with_suffix('.json'), m)
    f = lambda v, k: f"{v[k]:.3f}" if k in v else ''
    lines = [f"# Dense head: how the steering move enters the query (validation probe, {m['run']})", '',
             f"Command: `{command}`; {m['users']} validation users (the test split is never used), {m['match_users']} with a matching request "
             f"(\"{m['template']}\" for a random genre of their held-out item, seed {m['seed']}), {m['steer_users']} steering requests for an attribute the history lacks; "
             f"item space {m['item_space']}; history pull {m['history_weight']:g}; the run's head, unchanged; {m['machine']}; wall time {m['wall_s']:.0f} s.", '',
             'Query `unit(P + m (z - plain))`: P the neutral query pulled toward the history, z the head\'s query with the request; the engine\'s '
             'dial extrapolates the move (`engine, w`: `unit(P + unit(z + w (z - plain)) - plain)`, the ranking the evaluation measures). "attribute move" keeps only the move\'s attribute coordinates.', '',
             '| query | val Hit@10 | val NDCG@10 | matching Hit@10 | matching NDCG@10 | steer share |', '|---|---|---|---|---|---|']
    rows = {k: v for k, v in m['rows'].items() if k not in ('reading accuracy', 'threshold', 'polarity', 'negation free share')}
    lines += [f"| {k} | {f(v, 'val_hit@10')} | {f(v, 'val_ndcg@10')} | {f(v, 'match_hit@10')} | {f(v, 'match_ndcg@10')} | {f(v, 'steer_share')} |" for k, v in rows.items()]
    if acc := m['rows'].get('reading accuracy'):
        lines += ['', 'Reading accuracy: how often the attribute a request names is the one read first, by the engine\'s reader (`talkwalk.reader.AttributeReader`: cosine to each attribute\'s '
                  'plain and training-only phrasings plus cosine to its direction among the contrastive item embeddings) and by the head (its move\'s largest attribute coordinate); the steering requests in each phrasing family.', '',
                  '| requests | reader | head |', '|---|---|---|']
        lines += [f"| {k} | {v['encoder']:.3f} | {v['head']:.3f} |" if 'head' in v else f"| {k} | {v['encoder']:.3f} | |" for k, v in acc.items()]
    if th := m['rows'].get('threshold'):
        lines += ['', f"Requests that name no attribute ({th['neutral']} neutral phrasings) reach a cosine of at most {th['neutral max cosine']:.3f} to any attribute; "
                  f"{th['attribute requests above it']:.3f} of {th['attribute requests']} attribute requests (matching, template, vocabulary) exceed it (their lowest: {th['attribute requests min cosine']:.3f})."]
    if po := m['rows'].get('polarity'):
        lines += ['', 'Polarity (a negation, in a training negation phrasing, for the genre most of the history has): ' + '; '.join(f'{k} {v:.3f}' for k, v in po.items()) + '.',
                  'Lists free of the banned genre with the bonus signed by the text (`AttributeReader.polarity`): ' + ', '.join(f'{k} {v:.3f}' for k, v in m['rows']['negation free share'].items()) + '.']
    Path(stem.with_suffix('.md')).write_text('\n'.join(lines) + '\n')


def adopt_bonus(m:dict, floor:float=0.9) -> tuple:
    "`(b, why)`: the smallest encoder-read bonus whose matching Hit@10 is at least the unsteered one and whose steer share and negation free share reach `floor` (None where none does)."
    uns = m['rows']['unsteered (users with a matching request)']['val_hit@10']
    for k, v in m['rows'].items():
        if not k.startswith('encoder-read attribute bonus, b = '): continue
        b = float(k.rsplit('= ', 1)[1]); neg = m['rows']['negation free share'][f'b = {b:g}']
        if v['match_hit@10'] >= uns and v['steer_share'] >= floor and neg >= floor:
            return b, (f"smallest bonus with validation matching Hit@10 >= unsteered ({v['match_hit@10']:.3f} vs {uns:.3f}), steer share {v['steer_share']:.3f} "
                       f"and negation free share {neg:.3f} >= {floor:g} ({m['users']} validation users, scripts/steer_move_probe.py)")
    return None, f'no bonus reached the floors ({floor:g})'


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run', type=Path, help='a run folder with a trained dense head (runs/<dataset>)')
    ap.add_argument('--scales', default='0.25,0.5,1,2,5,10,20', help='move scales m, comma separated')
    ap.add_argument('--guidances', default='0,4', help="the engine's own steered query at these dial weights, comma separated")
    ap.add_argument('--bonuses', default='0.05,0.1,0.2,0.5,1', help='attribute-bonus weights b, comma separated')
    ap.add_argument('--seed', type=int, default=0, help='seed of the matching requests\' genre draw')
    ap.add_argument('--report', type=Path, required=True, help='output stem, e.g. reports/steer_move_probe_ml-100k-collab')
    ap.add_argument('--adopt', action='store_true', help="save the bonus chosen by `adopt_bonus` as the run's default (attribute_bonus in <run>/dial/dense.json)")
    a = ap.parse_args()
    if not (a.run/'dense'/'config.yaml').exists(): ap.error(f'{a.run}/dense/config.yaml is missing: train the head first (talkwalk dense --run {a.run})')
    t0 = time.time(); m = probe(a.run, [float(x) for x in a.scales.split(',')], [float(x) for x in a.guidances.split(',')], [float(x) for x in a.bonuses.split(',')], a.seed)
    m.update(machine=machine_info(), wall_s=time.time() - t0)
    write_report(m, a.report, f'.venv/bin/python scripts/steer_move_probe.py {a.run} --scales {a.scales} --guidances {a.guidances} --bonuses {a.bonuses} --seed {a.seed} --report {a.report}')
    if a.adopt:
        b, why = adopt_bonus(m); f = dial_path(a.run, 'dense'); f.parent.mkdir(parents=True, exist_ok=True)
        if b is None: ap.exit(1, f'nothing adopted: {why}\n')
        write_json_atomic(f, {**(json.loads(f.read_text()) if f.exists() else {}), 'attribute_bonus': b, 'attribute_bonus_why': why})
        print(f'adopted attribute_bonus {b:g} into {f}: {why}')
    print(a.report.with_suffix('.md').read_text())
