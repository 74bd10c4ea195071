"""Choose the dense engine's reader weights without the evaluation's phrasings: how well `AttributeReader` reads which
attribute a request names, for several weights of the item evidence (`item_weight`), on requests built from the
training-only phrasings (`steer_training` in the description YAML), each left out of the reader that reads it
(leave-one-phrasing-out: the phrasing is as new to the reader as a synonym is). The weight with the best
leave-one-out accuracy is the engine's default. The evaluation's phrasing families (template, paraphrase,
vocabulary synonyms) are read too, as a diagnostic only: they choose nothing. Also: how often the sentence encoder
alone tells a negation from a request (nearest of the attribute's training negation and request phrasings, each
negation template left out in turn), which is why polarity comes from negation cues (`talkwalk.reader.negated`).
No LLM, no users: text encoder and item embeddings only.

    .venv/bin/python scripts/reader_probe.py runs/ml-100k-collab --report reports/reader_probe_ml-100k-collab
"""
import argparse, copy, time
from pathlib import Path

import numpy as np

from talkwalk.reader import AttributeReader, READER_NEUTRAL, attribute_phrasings, run_reader
from talkwalk.eval_steer import FAMILIES, NEGATIVE_TEMPLATES, steer_request
from talkwalk.prompts import NEGATION_TEMPLATES, STEER_TEMPLATES, with_attr
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
    p = m['polarity']
    lines += ['', f"Chosen: item weight {m['chosen']:g} (best leave-one-out accuracy; the engine's default `AttributeReader.item_weight`).", '',
              f"Polarity. The sentence encoder alone puts a training negation nearer the attribute's other training negations than its requests for "
              f"{p['training negations, left out']:.3f} of {p['requests']} (each template left out): no better than a coin, so the sign comes from negation cues. "
              f"The cues read {p['cues (negated), training negations']:.3f} of the training negations and {p['cues (negated), evaluation negations']:.3f} of the evaluation's "
              f"('no {{a}} please', 'nothing with {{a}}': their cue words are in the hand-written list) as negated, and {p['cues (asked for), training requests']:.3f} of training requests as asked for."]
    Path(stem.with_suffix('.md')).write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run', type=Path, help='a run folder with the data and contrastive stages (runs/<dataset>)')
    ap.add_argument('--weights', default='0,0.25,0.5,1,2,4', help='item weights, comma separated')
    ap.add_argument('--per-attr', type=int, default=5, help='requests per attribute and family (diagnostic)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--report', type=Path, required=True, help='output stem, e.g. reports/reader_probe_ml-100k-collab')
    a = ap.parse_args(); t0 = time.time()
    reader = run_reader(a.run)
    W = [float(x) for x in a.weights.split(',')]
    loo = leave_one_out(reader, W)
    m = {'run': str(a.run), 'attributes': len(reader.attrs), 'weights': W, 'loo': {str(k): v for k, v in loo.items()},
         'families': {f: {str(k): v for k, v in d.items()} for f, d in family_reading(reader, W, a.per_attr, a.seed).items()},
         'polarity': encoder_polarity(reader), 'chosen': max(W, key=lambda w: loo[w])}
    m.update(machine=machine_info(), wall_s=time.time() - t0)
    write_report(m, a.report, f'.venv/bin/python scripts/reader_probe.py {a.run} --weights {a.weights} --per-attr {a.per_attr} --seed {a.seed} --report {a.report}')
    print(a.report.with_suffix('.md').read_text())
