"""The attribute reader's requests off the on-disk text cache: do the reads change, and what did the cache cost a turn?
Before, `AttributeReader.similarity` encoded requests through the `TextCache` of catalogue texts: each new request text
was added to it and the whole file rewritten. Now requests are encoded one at a time, kept in memory only
(`AttributeReader.request_vectors`). This reads one run's requests both ways in one process: the evaluation's steering
suite, the held-out undo set, the neutral and other conversational phrases. The old way reads through a temporary copy
of the cache, so the real one is untouched. It compares which attribute each request names, its polarity and whether
it reads as an undo. It then times a never-seen request both ways (the old way includes rewriting the cache copy).

    .venv/bin/python scripts/reader_requests_ab.py --run runs/amazon-scientific --report reports/reader_requests_amazon-scientific
"""
import argparse, copy, shutil, tempfile, time
from pathlib import Path

import numpy as np

from talkwalk.encoders import TextCache
from talkwalk.eval_data import EvalConfig, load_eval_data, sample_users
from talkwalk.eval_steer import UNDO_HELD_OUT, steer_suite
from talkwalk.prompts import catalogue_attributes
from talkwalk.reader import OTHER_REQUESTS, READER_NEUTRAL, UNDO_PHRASES, run_reader
from talkwalk.utils import git_state, machine_info, unit, write_json_atomic, write_text_atomic


def old_reader(reader, cache:TextCache):
    "A copy of `reader` that encodes requests as before: through `cache` (the on-disk text cache), its threshold recomputed that way."
    old = copy.copy(reader); old._requests = {}
    old.request_vectors = lambda texts: unit(cache.encode(list(texts), progress=False)) if len(texts) else np.zeros((0, reader.vectors.shape[1]), np.float32)
    old.threshold = float(old.similarity(list(READER_NEUTRAL)).max())
    return old


def old_reads_undo(reader, requests:list) -> list:
    "`reads_undo` as before: the requests encoded in one batch, uncached."
    reader.reads_undo([])  # builds the reference phrases
    undo, other = reader._undo
    q = unit(reader.encoder.model.encode(list(requests), convert_to_numpy=True, normalize_embeddings=True).astype(np.float32))
    return [bool(r.strip() and u > o) for r, u, o in zip(requests, (q @ undo.T).max(1), (q @ other.T).max(1))]


def reads(reader, requests:list) -> list:
    "Per request: the attribute it names (key or None) and, where one, its polarity."
    out = []
    for r in requests:
        j = reader.read(r)
        out.append((None, None) if j is None else (reader.attrs[j].key, reader.polarity(r, j)))
    return out


def suite_requests(run:Path, cfg:EvalConfig) -> list:
    "The steering suite's request texts for this run, as the evaluation builds them (its seeds and users)."
    ed = load_eval_data(run); users = sample_users(ed, max(cfg.n_llm_users, cfg.n_steer_users), cfg.seed)
    attrs, masks = catalogue_attributes(ed.ds, cfg.min_attr_items)
    return [c['request'] for c in steer_suite(ed, users[:cfg.n_steer_users], users[:cfg.n_llm_users], attrs, masks, cfg)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True); ap.add_argument('--report', required=True)
    ap.add_argument('--steer-users', type=int, default=100); ap.add_argument('--users', type=int, default=300)
    ap.add_argument('--timed', type=int, default=8, help='never-seen requests timed each way')
    a = ap.parse_args(); run = Path(a.run); t0 = time.time()
    cfg = EvalConfig(n_steer_users=a.steer_users, n_llm_users=a.users)
    suite = list(dict.fromkeys(suite_requests(run, cfg)))
    conversational = list(dict.fromkeys([cfg.request, cfg.go_back, *READER_NEUTRAL, *OTHER_REQUESTS, *UNDO_PHRASES, *UNDO_HELD_OUT['undo'], *UNDO_HELD_OUT['not_undo']]))
    reader = run_reader(run)
    with tempfile.TemporaryDirectory() as tmp:
        copy_path = Path(tmp)/'cache.npz'
        if reader.encoder.path.exists(): shutil.copy(reader.encoder.path, copy_path)
        cache = TextCache(reader.encoder.name, path=copy_path); cache._model = reader.encoder.model; cached_texts = len(cache.index)
        old = old_reader(reader, cache)
        rows = {}
        for name, requests in (('steering suite', suite), ('conversational and undo phrases', conversational)):
            new_r, old_r = reads(reader, requests), reads(old, requests)
            new_u, old_u = reader.reads_undo(requests), old_reads_undo(reader, requests)
            gap = np.abs(reader.similarity(requests) - old.similarity(requests)).max()
            rows[name] = {'requests': len(requests), 'attribute_differs': sum(n[0] != o[0] for n, o in zip(new_r, old_r)),
                          'polarity_differs': sum(n[0] == o[0] and n[1] != o[1] for n, o in zip(new_r, old_r)),
                          'undo_differs': sum(n != o for n, o in zip(new_u, old_u)), 'read_as_attribute': sum(n[0] is not None for n in new_r),
                          'max_similarity_gap': float(gap),
                          'examples': [r for r, n, o in zip(requests, new_r, old_r) if n != o][:5]}
        fresh = [f'never typed before {k}: something for the lab, {k * 7919 % 1000}' for k in range(2 * a.timed)]
        timed_old, timed_new = [], []
        for k in range(a.timed):  # interleaved, so load on the shared machine falls on both
            t = time.perf_counter(); old.read(fresh[2 * k]); timed_old.append(time.perf_counter() - t)
            t = time.perf_counter(); reader.read(fresh[2 * k + 1]); timed_new.append(time.perf_counter() - t)
    out = {'run': str(run), 'machine': machine_info(), 'commit': git_state('nbs', 'talkwalk'), 'threshold': {'new': reader.threshold, 'old': old.threshold},
           'cached_texts': cached_texts, 'cache_mb': round(reader.encoder.path.stat().st_size / 2**20, 1) if reader.encoder.path.exists() else 0.0,
           'reads': rows, 'new_request_ms': {'old': 1000 * float(np.median(timed_old)), 'new': 1000 * float(np.median(timed_new)), 'timed': a.timed},
           'wall_s': round(time.time() - t0, 1), 'command': f'.venv/bin/python scripts/reader_requests_ab.py --run {a.run} --report {a.report}'}
    write_json_atomic(f'{a.report}.json', out); write_text_atomic(f'{a.report}.md', render(out)); print(render(out))


def render(r:dict) -> str:
    "The report page."
    ms = r['new_request_ms']
    lines = ['# The attribute reader off the on-disk text cache', '',
             f"Command: `{r['command']}`; {r['machine']}; {r['wall_s']:.0f} s.", '',
             'Requests read both ways in one process: as before (through the on-disk text cache of catalogue texts, '
             f"{r['cached_texts']:,} texts, {r['cache_mb']} MB, here a temporary copy) and now (each request encoded alone, kept in memory). "
             f"Neutral threshold: before {r['threshold']['old']:.6f}, now {r['threshold']['new']:.6f}.", '',
             '| requests | count | read as an attribute (now) | attribute read differently | polarity differently | undo differently | largest similarity gap |',
             '|---|---|---|---|---|---|---|']
    for name, x in r['reads'].items():
        lines.append(f"| {name} | {x['requests']:,} | {x['read_as_attribute']:,} | {x['attribute_differs']} | {x['polarity_differs']} | {x['undo_differs']} | {x['max_similarity_gap']:.1e} |")
    lines += ['', f"A never-seen request, median of {ms['timed']} each way (interleaved): before {ms['old']:.0f} ms (encoding it and rewriting the cache file), "
              f"now {ms['new']:.0f} ms ({ms['old'] / max(ms['new'], 1e-9):.0f}x)."]
    ex = [e for x in r['reads'].values() for e in x['examples']]
    if ex: lines += ['', 'Requests read differently: ' + '; '.join(f'"{e}"' for e in ex)]
    return '\n'.join(lines) + '\n'


if __name__ == '__main__': main()
