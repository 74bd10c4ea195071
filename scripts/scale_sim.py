"""What TalkWalk's serving costs at catalogue sizes it has never seen (issue 18): synthetic catalogues of 10^4, 10^5 and 10^6 items
with random SIDs (3 levels x 256 codes + the collision level) and dense vectors, through the engine's own pieces.

    python scripts/scale_sim.py [--sizes 10000,100000,1000000 --queries 30 --dim 384 --out reports/scale]
    python scripts/scale_sim.py --vectors matched --like runs/ml-100k-collab/dense/items.npz --out reports/scale_matched

Dense vectors (--vectors): `random`, unit vectors uniform on the sphere (the worst case for any approximate index: in hundreds of
dimensions every point is almost equally far from every other), or `matched`, drawn from a Gaussian with the mean and covariance of a
real item space (--like: a dense head's items.npz or a contrastive item_emb.npy), so the synthetic catalogue has the real one's
anisotropy; queries are drawn the same way as items.

Per size, in a fresh subprocess (so memory figures do not mix):
- the SID trie (`talkwalk.sids.TokenTrie`): build time and resident memory it adds;
- top-10 beam search over it (`talkwalk.decoding.trie_beam_search`) with the bundled SmolLM2-135M on a fixed 200-token prompt
  (SID codes mapped onto existing vocabulary rows: the model's cost does not depend on the catalogue, the trie's does), excluding
  20 random items as a history would; p50 of the beam search alone and of prefill + beam, the beam's forward passes per query and
  its time outside them (the trie's lookups and the scoring);
- the dense index (`talkwalk.dense_engine.ItemIndex`): exact (numpy) and HNSW (faiss) build time, query p50, HNSW recall@10 against
  exact, on random unit query vectors.
Writes <out>.json and <out>.md."""
import argparse, gc, json, os, subprocess, sys, time
from pathlib import Path
import numpy as np

EF_SEARCH = (64, 128, 256, 512, 1024)

def random_sids(n:int, levels:int=3, codes:int=256, seed:int=0) -> dict:
    "Item id -> SID: `levels` uniform random codes, then the collision code (the item's rank among items sharing that prefix)."
    rng = np.random.default_rng(seed); c = rng.integers(0, codes, size=(n, levels))
    seen, out = {}, {}
    for i, row in enumerate(map(tuple, c.tolist())):
        k = seen.get(row, 0); seen[row] = k + 1; out[str(i)] = row + (k,)
    return out

class CodeTokens:
    "A stand-in tokenizer for the trie: SID token '<|L{l}_{c}|>' -> a fixed row of the model's existing vocabulary."
    def convert_tokens_to_ids(self, toks:list) -> list:
        out = []
        for t in toks:
            l, c = t[3:-2].split('_'); out.append(1000 + (int(l) - 1) * 300 + int(c))
        return out

def rss() -> int:
    import psutil; gc.collect(); return psutil.Process().memory_info().rss

def pct(xs:list, q:float) -> float: return float(np.percentile(np.asarray(xs) * 1000, q))

def like_stats(path:str) -> tuple:
    "`(mean, covariance)` of the rows of a real item space: a dense head's items.npz (`vectors`) or an .npy matrix."
    v = np.load(path)['vectors'] if path.endswith('.npz') else np.load(path)
    v = np.asarray(v, np.float64); return v.mean(0), np.cov(v, rowvar=False)

def draw_vectors(n:int, kind:str, dim:int, rng, like:str|None=None, chunk:int=100_000) -> np.ndarray:
    "`n` float32 vectors: `random` unit vectors of `dim` dimensions, or `matched` draws from the Gaussian of a real item space (`like`)."
    if kind == 'random':
        v = rng.standard_normal((n, dim), dtype=np.float32); return v / np.linalg.norm(v, axis=1, keepdims=True)
    if kind != 'matched' or not like: raise SystemExit(f"--vectors {kind!r}: use 'random', or 'matched' with --like <items.npz | item_emb.npy>")
    mu, cov = like_stats(like); L = np.linalg.cholesky(cov + 1e-6 * np.eye(len(mu)))  # jitter: a catalogue smaller than its dimension gives a singular covariance
    return np.concatenate([(mu + rng.standard_normal((min(chunk, n - i), len(mu))) @ L.T).astype(np.float32) for i in range(0, n, chunk)])

def measure(n:int, queries:int, dim:int, hnsw_max:int=10**9, seed:int=0, vectors:str='random', like:str|None=None) -> dict:
    "Every figure for one catalogue size (run in its own process)."
    import torch
    from talkwalk.sids import TokenTrie
    from talkwalk.decoding import trie_beam_search
    from talkwalk.llm import load_llm
    from talkwalk.dense_engine import ItemIndex
    torch.manual_seed(seed); rng = np.random.default_rng(seed); out = {'items': n}
    sids = random_sids(n, seed=seed); out['max_collision_code'] = max(s[-1] for s in sids.values())
    base = rss(); t0 = time.perf_counter(); trie = TokenTrie(sids, CodeTokens())
    out['trie_build_s'] = time.perf_counter() - t0; out['trie_mb'] = (rss() - base) / 2**20
    model, _ = load_llm(); model.eval()
    prompt = torch.randint(2000, 40000, (1, 200)); dec = model.get_decoder()
    beam, total, passes, outside, timed = [], [], [], [], []
    forward = dec.forward
    def timed_forward(*a, **kw):
        "The decoder's forward pass, its seconds kept: the beam's cost splits into passes and everything else (trie, scoring)."
        t = time.perf_counter(); r = forward(*a, **kw); timed.append(time.perf_counter() - t); return r
    dec.forward = timed_forward
    for q in range(queries + 2):
        exclude = {str(i) for i in rng.integers(0, n, 20)}
        t0 = time.perf_counter()
        with torch.no_grad(): o = dec(input_ids=prompt, use_cache=True)
        timed.clear(); t1 = time.perf_counter(); top = trie_beam_search(model, o.past_key_values, o.last_hidden_state[:, -1], trie, 10, None, exclude); t2 = time.perf_counter()
        assert len(top) == 10 and not exclude & {i for i, _ in top}
        if q >= 2: beam.append(t2 - t1); total.append(t2 - t0); passes.append(len(timed)); outside.append(t2 - t1 - sum(timed))  # two warm-up queries
    dec.forward = forward
    out.update(beam_p50_ms=pct(beam, 50), beam_p90_ms=pct(beam, 90), turn_p50_ms=pct(total, 50),
               beam_passes_mean=float(np.mean(passes)), beam_outside_passes_p50_ms=pct(outside, 50))
    del trie, sids; gc.collect()
    vec, qs = draw_vectors(n, vectors, dim, rng, like), draw_vectors(queries, vectors, dim, rng, like); out['dim'] = vec.shape[1]
    ids = [str(i) for i in range(n)]
    t0 = time.perf_counter(); exact = ItemIndex(ids, vec, 'exact'); out['exact_build_s'] = time.perf_counter() - t0
    truth, lat = [], []
    for q in qs:
        t0 = time.perf_counter(); truth.append({i for i, _ in exact.search(q, 10)}); lat.append(time.perf_counter() - t0)
    out['exact_p50_ms'] = pct(lat, 50)
    if n > hnsw_max: return out  # HNSW's build is the costliest step: skipped above --hnsw-max (said in the report)
    t0 = time.perf_counter(); hnsw = ItemIndex(ids, vec, 'faiss', approx_over=0); out['hnsw_build_s'] = time.perf_counter() - t0; out['hnsw_kind'] = hnsw.kind
    out['hnsw'] = []
    for ef in EF_SEARCH:  # search breadth: recall against latency
        hnsw.ef_search, lat, rec = ef, [], []
        for q, t in zip(qs, truth):
            t0 = time.perf_counter(); got = {i for i, _ in hnsw.search(q, 10)}; lat.append(time.perf_counter() - t0); rec.append(len(got & t) / 10)
        out['hnsw'].append({'ef_search': ef, 'p50_ms': pct(lat, 50), 'recall10': float(np.mean(rec))})
    best = next((h for h in out['hnsw'] if h['recall10'] >= 0.95), out['hnsw'][-1])  # the cheapest breadth reaching the target
    out.update(hnsw_ef=best['ef_search'], hnsw_p50_ms=best['p50_ms'], hnsw_recall10=best['recall10'])
    return out

def report(res:dict) -> str:
    "The Markdown report."
    rows = res['sizes']; first = rows[0]
    md = ['# Serving cost against catalogue size (simulation)', '', f"Command: `{res['command']}`; {res['machine']}.", '',
          'Synthetic catalogues: random SIDs (3 levels x 256 codes + the collision level), ' + (f"random unit vectors of {res['dim']} dimensions" if res.get('vectors', 'random') == 'random' else
          f"vectors of {rows[0].get('dim', res['dim'])} dimensions drawn from a Gaussian with the mean and covariance of the real item space `{res['like']}` (queries drawn the same way)") +
          f"; {res['queries']} queries per figure (p50). Each size runs in its own process. "
          "The beam search uses the bundled SmolLM2-135M on a fixed 200-token prompt, so its cost is the model's (constant) plus the trie's.", '',
          'HNSW (faiss `IndexHNSWFlat`, M = 32) is searched at breadths ' + ', '.join(map(str, EF_SEARCH)) + '; the table shows the smallest reaching recall@10 >= 0.95 '
          '(else the largest), all breadths below it.', '',
          "The beam's forward passes are one per level where some beam has a choice (a level where every beam has a single child costs none), "
          "so their number grows with the catalogue; 'outside the passes' is the trie's lookups and the scoring.", '',
          '| items | trie build s | trie MB | beam p50 ms (x first) | beam passes (mean) | beam outside the passes p50 ms | prefill + beam p50 ms | exact p50 ms | HNSW build s | HNSW ef | HNSW p50 ms | HNSW recall@10 |',
          '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        md.append(f"| {r['items']:,} | {r['trie_build_s']:.1f} | {r['trie_mb']:.0f} | {r['beam_p50_ms']:.0f} ({r['beam_p50_ms'] / first['beam_p50_ms']:.2f}x) | "
                  f"{r['beam_passes_mean']:.1f} | {r['beam_outside_passes_p50_ms']:.1f} | "
                  f"{r['turn_p50_ms']:.0f} | {r['exact_p50_ms']:.1f} | " + (f"{r['hnsw_build_s']:.1f} | {r['hnsw_ef']} | {r['hnsw_p50_ms']:.2f} | {r['hnsw_recall10']:.3f} |" if 'hnsw' in r else 'not built (--hnsw-max) | | | |'))
    md += ['', '| items | ' + ' | '.join(f'ef {ef}: recall / p50 ms' for ef in EF_SEARCH) + ' |', '|---|' + '---|' * len(EF_SEARCH)]
    md += [f"| {r['items']:,} | " + ' | '.join(f"{h['recall10']:.3f} / {h['p50_ms']:.2f}" for h in r['hnsw']) + ' |' for r in rows if 'hnsw' in r]
    big = rows[-1]
    md += ['', '## Against the targets (issue 18, at the largest size)', '',
           '| | measured | target | met |', '|---|---|---|---|',
           f"| trie memory, {big['items']:,} items | {big['trie_mb']:.0f} MB | under 1 GB | {'yes' if big['trie_mb'] < 1024 else 'no'} |",
           f"| top-10 beam p50 vs {first['items']:,} items | {big['beam_p50_ms'] / first['beam_p50_ms']:.2f}x | under 2x | {'yes' if big['beam_p50_ms'] < 2 * first['beam_p50_ms'] else 'no'} |",
           *([f"| HNSW recall@10 | {big['hnsw_recall10']:.3f} | at least 0.95 | {'yes' if big['hnsw_recall10'] >= 0.95 else 'no'} |",
              f"| HNSW p50 | {big['hnsw_p50_ms']:.2f} ms | under 10 ms | {'yes' if big['hnsw_p50_ms'] < 10 else 'no'} |"] if 'hnsw' in big else
             [f"| HNSW recall@10 / p50 | not measured at this size (built up to {max(r['items'] for r in rows if 'hnsw' in r) if any('hnsw' in r for r in rows) else 0:,} items) | at least 0.95 / under 10 ms | unmeasured |"]),
           f"| exact search p50 | {big['exact_p50_ms']:.1f} ms | — | — |"]
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', default='10000,100000,1000000'); ap.add_argument('--queries', type=int, default=30)
    ap.add_argument('--dim', type=int, default=384); ap.add_argument('--out', default='reports/scale')
    ap.add_argument('--hnsw-max', type=int, default=10**9, help='build HNSW only for catalogues up to this size')
    ap.add_argument('--vectors', choices=['random', 'matched'], default='random', help='dense vectors: uniform unit vectors, or matched to --like')
    ap.add_argument('--like', default=None, help="the real item space 'matched' copies: a dense head's items.npz or a contrastive item_emb.npy")
    ap.add_argument('--one', type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.vectors == 'matched' and not (a.like and Path(a.like).exists()): sys.exit(f'--vectors matched needs --like <an existing items.npz or item_emb.npy>, got {a.like!r}')
    if a.one is not None: print('RESULT ' + json.dumps(measure(a.one, a.queries, a.dim, a.hnsw_max, vectors=a.vectors, like=a.like))); sys.exit(0)
    from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic
    rows = []
    for n in [int(s) for s in a.sizes.split(',')]:
        print(f'[scale] {n:,} items ...', flush=True)
        p = subprocess.run([sys.executable, __file__, '--one', str(n), '--queries', str(a.queries), '--dim', str(a.dim), '--hnsw-max', str(a.hnsw_max),
                            '--vectors', a.vectors, *(['--like', a.like] if a.like else [])], capture_output=True, text=True)
        line = [l for l in p.stdout.splitlines() if l.startswith('RESULT ')]
        if p.returncode or not line: sys.exit(f'[scale] {n:,} items failed:\n{p.stderr[-3000:]}')
        rows.append(json.loads(line[0][7:])); print(f'[scale] {rows[-1]}', flush=True)
    res = {'command': 'python scripts/scale_sim.py ' + ' '.join(sys.argv[1:]), 'machine': machine_info(), 'dim': a.dim, 'queries': a.queries, 'sizes': rows,
           'vectors': a.vectors, 'like': a.like}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))
