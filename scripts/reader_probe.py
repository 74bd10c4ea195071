"""Choose the dense engine's reader weights without the evaluation's phrasings: how well `AttributeReader` reads which
attribute a request names, for several weights of the item evidence (`item_weight`), on requests built from the
training-only phrasings (`steer_training` in the description YAML), each left out of the reader that reads it
(leave-one-phrasing-out: the phrasing is as new to the reader as a synonym is). The weight with the best
leave-one-out accuracy is the engine's default. The evaluation's phrasing families (template, paraphrase,
vocabulary synonyms) are read too, as a diagnostic only: they choose nothing; so is every vocabulary synonym in every
evaluation template, listing the requests the reader misreads. Also: how often the sentence encoder
alone tells a negation from a request (nearest of the attribute's training negation and request phrasings, each
negation template left out in turn), which is why polarity comes from negation cues (`talkwalk.reader.negated`).
No LLM, no users: text encoder and item embeddings only.

    .venv/bin/python scripts/reader_probe.py runs/ml-100k-collab --report reports/reader_probe_ml-100k-collab
"""
import argparse, copy, json, time
from collections import Counter
from pathlib import Path

import numpy as np

from talkwalk.reader import AttributeReader, READER_NEUTRAL, attribute_phrasings, run_reader
from talkwalk.eval_steer import FAMILIES, NEGATIVE_TEMPLATES, NEW_TEMPLATES, steer_request
from talkwalk.prompts import NEGATION_TEMPLATES, NOUNS, STEER_TEMPLATES, with_attr
from talkwalk.utils import machine_info, unit, write_json_atomic


def without_phrasing(reader:AttributeReader, j:int, phrasing:str) -> np.ndarray:
    "The reader's phrasing vectors with `phrasing` left out of attribute `j`'s mean."
    texts = [p for p in attribute_phrasings([reader.attrs[j]], reader.domain)[0] if p != phrasing]
    V = reader.vectors.copy(); V[j] = unit(reader.encoder.encode(texts, progress=False).mean(0)); return V


def scores(reader:AttributeReader, requests:list, weight:float, V:np.ndarray|None=None) -> np.ndarray:
    "[requests, attributes] `AttributeReader.similarity` at item weight `weight` (phrasing vectors `V`, default the reader's)."
    r = copy.copy(reader); r.item_weight = weight; r.vectors = reader.vectors if V is None else V
    return r.similarity(requests)


def leave_one_out(reader:AttributeReader, weights:list) -> dict:
    "Per item weight, the share of training-only phrasings (in every training template) read as their own attribute by a reader without them."
    hits = {w: [] for w in weights}
    for j, a in enumerate(reader.attrs):
        for p in a.training_phrasings:
            V, reqs = without_phrasing(reader, j, p), [t.format(a=p) for t in STEER_TEMPLATES]
            for w in weights: hits[w] += list(scores(reader, reqs, w, V).argmax(1) == j)
    return {w: float(np.mean(h)) if h else float('nan') for w, h in hits.items()} | {'requests': len(hits[weights[0]])}


def family_reading(reader:AttributeReader, weights:list, per_attr:int, seed:int) -> dict:
    "Per evaluation phrasing family and item weight: share read as the asked-for attribute above that weight's neutral threshold (diagnostic)."
    rng, out = np.random.default_rng(seed), {}
    for fam in FAMILIES:
        reqs, gold = [], []
        for j, a in enumerate(reader.attrs):
            for _ in range(per_attr):
                if r := steer_request(a, fam, rng, reader.domain): reqs.append(r); gold.append(j)
        if not reqs: continue
        out[fam] = {'requests': len(reqs)}
        for w in weights:
            s, tau = scores(reader, reqs, w), scores(reader, list(READER_NEUTRAL), w).max()
            out[fam][w] = float(((s.argmax(1) == np.array(gold)) & (s.max(1) > tau)).mean())
    return out


def synonym_reading(reader:AttributeReader) -> dict:
    "Every vocabulary synonym in every evaluation template of its slot, read by the engine's reader (its default item weight): the requests it misreads (diagnostic)."
    noun, nouns = NOUNS.get(reader.domain, ('item', 'items')); rows = []
    for j, a in enumerate(reader.attrs):
        for s in a.synonyms:
            for t in NEW_TEMPLATES[a.slot]:
                req = t.format(a=s, noun=noun, nouns=nouns); got = reader.read(req)
                rows.append({'attribute': a.key, 'synonym': s, 'request': req, 'read_as': None if got is None else reader.attrs[got].key})
    wrong = [r for r in rows if r['read_as'] != r['attribute']]
    return {'requests': len(rows), 'synonyms': len({(r['attribute'], r['synonym']) for r in rows}), 'read_right': 1 - len(wrong) / max(len(rows), 1), 'misread': wrong}


def evaluation_reading(reader:AttributeReader, results:Path) -> dict:
    "The committed evaluation's attribute-control cases, rebuilt from its config and seeds (checked against its case counts), read by the reader: per family, the share read as the attribute asked for, beside each head's steered share (diagnostic)."
    from talkwalk.eval_data import EvalConfig, load_eval_data, sample_users
    from talkwalk.eval_steer import steer_suite
    from talkwalk.prompts import catalogue_attributes
    r = json.loads(results.read_text()); cfg = EvalConfig(**r['config']); ed = load_eval_data(r['run'])
    users = sample_users(ed, max(cfg.n_llm_users, cfg.n_steer_users), cfg.seed)
    if users[:cfg.n_steer_users] != r['users']['steer']: raise SystemExit(f"{results}: its steer users differ from {r['run']}'s rebuilt sample: not the same run folder or split")
    attrs, masks = catalogue_attributes(ed.ds, cfg.min_attr_items)
    cases = [c for c in steer_suite(ed, r['users']['steer'], users[:cfg.n_llm_users], attrs, masks, cfg) if c['test'] == 'attribute']
    heads = [m for m in r['steer'] if m.startswith('talkwalk')]
    counts = {a: v['cases'] for a, v in r['steer'][heads[0]]['attribute']['by_attribute'].items()}
    if Counter(c['attr'] for c in cases) != counts: raise SystemExit(f'{results}: the rebuilt attribute cases do not match its case counts per attribute')
    out, at = {'results': str(results), 'cases': len(cases), 'families': {}}, {a.key: j for j, a in enumerate(reader.attrs)}
    for fam in FAMILIES:
        fc = [c for c in cases if c['family'] == fam]; right = [reader.read(c['request']) == at[c['attr']] for c in fc]
        out['families'][fam] = {'cases': len(fc), 'read_right': float(np.mean(right)),
                                'misread_by_attribute': dict(Counter(c['attr'] for c, ok in zip(fc, right) if not ok)),
                                'steered': {m: r['steer'][m]['attribute']['by_family'][fam]['steered']['mean'] for m in heads}}
    return out


def encoder_polarity(reader:AttributeReader) -> dict:
    "How often the sentence encoder alone reads a negation as one: nearer the attribute's training negations than its requests (each negation template left out in turn)."
    main = [j for j, a in enumerate(reader.attrs) if a.kind != 'decade']
    E = lambda t: unit(reader.encoder.encode(list(t), progress=False))
    def negative(req, j, negs):
        q, a = E([req])[0], reader.attrs[j]
        return q @ unit(E([t.format(w=a.phrase) for t in negs]).mean(0)) > q @ unit(E([with_attr(t, a.phrase) for t in STEER_TEMPLATES]).mean(0))
    loo = [negative(t.format(w=reader.attrs[j].phrase), j, [x for x in NEGATION_TEMPLATES if x != t]) for t in NEGATION_TEMPLATES for j in main]
    return {'training negations, left out': float(np.mean(loo)), 'requests': len(loo),
            'cues (negated), training negations': float(np.mean([reader.polarity(t.format(w=reader.attrs[j].phrase), j) < 0 for t in NEGATION_TEMPLATES for j in main])),
            'cues (negated), evaluation negations': float(np.mean([reader.polarity(t.format(a=reader.attrs[j].phrase), j) < 0 for t in NEGATIVE_TEMPLATES for j in main])),
            'cues (asked for), training requests': float(np.mean([reader.polarity(with_attr(t, reader.attrs[j].phrase), j) > 0 for t in STEER_TEMPLATES for j in main]))}


def write_report(m:dict, stem:Path, command:str):
    "`<stem>.json` and `<stem>.md`."
    write_json_atomic(stem.with_suffix('.json'), m); W = m['weights']
    lines = [f"# Reading the requested attribute: the reader's item weight (no evaluation phrasing chooses it; {m['run']})", '',
             f"Command: `{command}`; {m['attributes']} requestable attributes; {m['machine']}; wall time {m['wall_s']:.0f} s.", '',
             "`AttributeReader` scores each attribute as cosine(request, mean of its plain and training-only phrasings) + `item_weight` x cosine(request, "
             "its direction among the contrastive stage's item embeddings). Leave-one-out: each training-only phrasing, in each training template, read by a "
             "reader without it (the choice). Families: the evaluation's phrasings, read above each weight's neutral threshold (diagnostic, chooses nothing).", '',
             '| item weight | ' + ' | '.join(f'{w:g}' for w in W) + ' |', '|---|' + '---|' * len(W),
             f"| leave-one-out, training-only phrasings ({m['loo']['requests']} requests) | " + ' | '.join(f"{m['loo'][str(w)]:.3f}" for w in W) + ' |']
    lines += [f"| {f} ({v['requests']} requests, diagnostic) | " + ' | '.join(f"{v[str(w)]:.3f}" for w in W) + ' |' for f, v in m['families'].items()]
    p, v = m['polarity'], m['synonyms']
    lines += ['', f"Chosen: item weight {m['chosen']:g} (best leave-one-out accuracy; the engine's default `AttributeReader.item_weight`).", '',
              f"Polarity. The sentence encoder alone puts a training negation nearer the attribute's other training negations than its requests for "
              f"{p['training negations, left out']:.3f} of {p['requests']} (each template left out): no better than a coin, so the sign comes from negation cues. "
              f"The cues read {p['cues (negated), training negations']:.3f} of the training negations and {p['cues (negated), evaluation negations']:.3f} of the evaluation's "
              f"('no {{a}} please', 'nothing with {{a}}': their cue words are in the hand-written list) as negated, and {p['cues (asked for), training requests']:.3f} of training requests as asked for.", '',
              f"The vocabulary family word by word (diagnostic, chooses nothing): each of the {v['synonyms']} description-vocabulary synonyms in each evaluation "
              f"template of its slot ({v['requests']} requests), read by the engine's reader (item weight {m['reader_item_weight']:g}, above its neutral threshold): "
              f"{v['read_right']:.3f} read as the attribute asked for. The requests it misreads (words the frozen encoder does not tie to their attribute):", '',
              '| asked for | request | read as |', '|---|---|---|']
    lines += [f"| {r['attribute']} | {r['request']} | {r['read_as'] or '(no attribute)'} |" for r in v['misread']]
    if e := m.get('evaluation'):
        F, heads = e['families'], list(next(iter(e['families'].values()))['steered'])
        lines += ['', f"The committed evaluation's {e['cases']} attribute-control cases ({e['results']}: its users, seeds and phrasings rebuilt, checked against "
                  "its case counts), read by the same reader (diagnostic; the heads' figures are the evaluation's own, on test users):", '',
                  '| | ' + ' | '.join(F) + ' |', '|---|' + '---|' * len(F),
                  '| cases | ' + ' | '.join(str(v['cases']) for v in F.values()) + ' |',
                  '| read as the attribute asked for | ' + ' | '.join(f"{v['read_right']:.3f}" for v in F.values()) + ' |',
                  '| misread, by attribute asked for | ' + ' | '.join(', '.join(f'{a} {n}' for a, n in v['misread_by_attribute'].items()) or '—' for v in F.values()) + ' |']
        lines += [f'| {h}: steered share of the top 10 | ' + ' | '.join(f"{v['steered'][h]:.3f}" for v in F.values()) + ' |' for h in heads]
    Path(stem.with_suffix('.md')).write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run', type=Path, help='a run folder with the data and contrastive stages (runs/<dataset>)')
    ap.add_argument('--weights', default='0,0.25,0.5,1,2,4', help='item weights, comma separated')
    ap.add_argument('--per-attr', type=int, default=5, help='requests per attribute and family (diagnostic)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--eval-results', type=Path, help="a committed evaluation (reports/results_<dataset>.json) of the same run folder: its attribute cases read too (diagnostic)")
    ap.add_argument('--report', type=Path, required=True, help='output stem, e.g. reports/reader_probe_ml-100k-collab')
    a = ap.parse_args(); t0 = time.time()
    reader = run_reader(a.run)
    W = [float(x) for x in a.weights.split(',')]
    loo = leave_one_out(reader, W)
    m = {'run': str(a.run), 'attributes': len(reader.attrs), 'weights': W, 'loo': {str(k): v for k, v in loo.items()},
         'families': {f: {str(k): v for k, v in d.items()} for f, d in family_reading(reader, W, a.per_attr, a.seed).items()},
         'polarity': encoder_polarity(reader), 'chosen': max(W, key=lambda w: loo[w]),
         'synonyms': synonym_reading(reader), 'reader_item_weight': reader.item_weight}
    if a.eval_results: m['evaluation'] = evaluation_reading(reader, a.eval_results)
    m.update(machine=machine_info(), wall_s=time.time() - t0)
    write_report(m, a.report, f'.venv/bin/python scripts/reader_probe.py {a.run} --weights {a.weights} --per-attr {a.per_attr} --seed {a.seed}' + (f' --eval-results {a.eval_results}' if a.eval_results else '') + f' --report {a.report}')
    print(a.report.with_suffix('.md').read_text())
