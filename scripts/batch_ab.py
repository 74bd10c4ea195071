"""How much batching concurrent turns saves inside the engine, without HTTP (issue 18): `clients` sessions take turns in lockstep,
each round of turns answered one at a time (`Recommender.turn`) or as one batch (`Recommender.turn_many`, what the server's batcher
calls), rounds alternated so both modes see the same machine.

    python scripts/batch_ab.py --run runs/ml-100k-collab [--clients 4 --turns 5 --rounds 3 --quantize auto --out reports/batch_ab]

Sessions start empty, as the HTTP benchmark's do (reports/latency.md), and send its requests (`talkwalk.serve.DEFAULT_REQUESTS`).
The decoder's forward passes are counted with the tokens each one feeds: batching shares a pass's weight reads among the turns,
but not the arithmetic of the tokens it adds. Writes <out>.json and <out>.md."""
import argparse, sys, time
import numpy as np

def lockstep(rec, clients:int, turns:int, batched:bool, passes:list) -> dict:
    "Seconds of each round of `clients` turns, the forward passes of all rounds, and each session's first list."
    from talkwalk.session import TurnRequest
    from talkwalk.serve import DEFAULT_REQUESTS
    sessions, seconds, first = [rec.session() for _ in range(clients)], [], []
    passes.clear()
    for j in range(turns):
        reqs = [TurnRequest(s, DEFAULT_REQUESTS[(c + j) % len(DEFAULT_REQUESTS)], 10) for c, s in enumerate(sessions)]
        t0 = time.perf_counter()
        out = rec.turn_many(reqs) if batched else [rec.turn(r.session, r.request, r.k) for r in reqs]
        seconds.append(time.perf_counter() - t0)
        if j == 0: first = [[x.item_id for x in recs] for recs in out]
    for s in sessions: rec.end_session(s)
    return {'seconds': seconds, 'passes': len(passes), 'tokens': int(sum(passes)), 'first_lists': first}

def report(res:dict) -> str:
    "The Markdown report."
    m = res['modes']; p50 = {k: float(np.median(v['seconds'])) * 1000 for k, v in m.items()}
    per = {k: (v['passes'] / v['rounds_of_turns'], v['tokens'] / max(v['passes'], 1)) for k, v in m.items()}
    md = ['# Batched turns inside the engine', '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`, quantize {res['quantize']}.", '',
          f"{res['clients']} empty sessions take {res['turns']} turns each in lockstep; each round of {res['clients']} turns is answered one at a time "
          f"(`turn`) or as one batch (`turn_many`); {res['rounds']} rounds of each mode, alternated. No HTTP.", '',
          f"| mode | p50 ms per {res['clients']} turns | forward passes per {res['clients']} turns | tokens per pass |", '|---|---|---|---|']
    md += [f"| {k} | {p50[k]:.1f} | {per[k][0]:.1f} | {per[k][1]:.1f} |" for k in m]
    md += ['', f"- batched over one at a time: **{p50['one at a time'] / p50['batched']:.2f}x** (p50 per round of turns)",
           f"- first turn's lists, one at a time vs batched: identical for {res['same_first_lists']:.0%} of {res['clients'] * res['rounds']} sessions, "
           f"mean top-10 overlap {res['first_overlap']:.3f}"]
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--clients', type=int, default=4); ap.add_argument('--turns', type=int, default=5)
    ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--out', default='reports/batch_ab')
    ap.add_argument('--quantize', default='auto', help="the engine's precision (EngineConfig.quantize): 'auto' is the default path")
    a = ap.parse_args()
    if min(a.clients, a.turns, a.rounds) < 1: sys.exit('--clients, --turns and --rounds must each be at least 1')
    from talkwalk.recommender import load_recommender
    from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic, repo_relative
    rec = load_recommender(a.run, quantize=a.quantize)
    passes, dec = [], rec.model.get_decoder()
    forward = dec.forward
    def counted(*args, **kw):
        "The decoder's forward pass, counted with the tokens it feeds."
        passes.append(kw['input_ids'].numel() if 'input_ids' in kw else args[0].numel()); return forward(*args, **kw)
    dec.forward = counted
    for batched in (False, True): lockstep(rec, a.clients, 1, batched, passes)  # warm-up: first-call allocations are not latency
    modes = {name: {'seconds': [], 'passes': 0, 'tokens': 0, 'rounds_of_turns': 0} for name in ('one at a time', 'batched')}
    same, overlap = [], []
    for rnd in range(a.rounds):
        got = {}
        for name in (('one at a time', 'batched') if rnd % 2 == 0 else ('batched', 'one at a time')):
            print(f'[batch] round {rnd + 1}/{a.rounds}: {name} ...', flush=True)
            got[name] = r = lockstep(rec, a.clients, a.turns, name == 'batched', passes)
            m = modes[name]; m['seconds'] += r['seconds']; m['passes'] += r['passes']; m['tokens'] += r['tokens']; m['rounds_of_turns'] += a.turns
        pairs = list(zip(got['one at a time']['first_lists'], got['batched']['first_lists']))
        same += [x == y for x, y in pairs]; overlap += [len(set(x) & set(y)) / max(len(x), 1) for x, y in pairs]
    res = {'command': 'python scripts/batch_ab.py ' + ' '.join(sys.argv[1:]), 'machine': machine_info(), 'run': repo_relative(a.run), 'quantize': rec.cfg.quantize,
           'clients': a.clients, 'turns': a.turns, 'rounds': a.rounds, 'modes': modes, 'same_first_lists': float(np.mean(same)), 'first_overlap': float(np.mean(overlap)),
           'batched_over_serial': round(float(np.median(modes['one at a time']['seconds']) / np.median(modes['batched']['seconds'])), 2)}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))
