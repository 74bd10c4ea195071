"""What `talkwalk.llm.tune_malloc` saves (issue 18): the default engine's turns, unguided and guided, in fresh processes with
`EngineConfig.tune_malloc` on and off, alternated round by round so both see the same machine (the setting is process-wide, so
one process cannot time both).

    python scripts/malloc_ab.py --run runs/ml-100k-collab [--requests 30 --rounds 2 --guidance 2 --out reports/malloc_ab]

Each process loads the run's generative head (`load_recommender`, defaults otherwise), answers the latency benchmark's seeded test
users (20 history items each, its requests) on fresh sessions after one warm-up turn, and reports per-turn seconds.
Writes <out>.json and <out>.md."""
import argparse, json, subprocess, sys, time
import numpy as np

def one(run:str, requests:int, guidance:float, tune:bool) -> dict:
    "Per-turn seconds of one process: unguided and guided turns of the benchmark's users."
    from talkwalk.recommender import load_recommender
    from talkwalk.engine import bench_sessions
    from talkwalk.session import Session
    rec = load_recommender(run, max_history=20, tune_malloc=tune)
    cases, warm = bench_sessions(rec, requests, 20, 0), bench_sessions(rec, 1, 20, 1)[0]
    rec.turn(Session(warm[0].user, list(warm[0].history)), warm[1], 10)
    out = {'unguided': [], 'guided': [], 'quantize': rec.cfg.quantize}
    for s, req, _ in cases:
        for mode, w in (('unguided', 0.0), ('guided', guidance)):
            t0 = time.perf_counter(); rec.turn(Session(s.user, list(s.history)), req, 10, cache=False, guidance=w); out[mode].append(time.perf_counter() - t0)
    return out

def p50(xs:list) -> float: return round(float(np.median(xs)) * 1000, 1)

def report(res:dict) -> str:
    "The Markdown report."
    r = res['modes']; on, off = r['tuned'], r['untuned']
    md = ['# What `tune_malloc` saves', '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`, quantize {res['quantize']}.", '',
          f"{res['requests']} seeded test users (20 history items, the latency benchmark's requests), top 10 on fresh sessions, in {res['rounds']} rounds of "
          'two fresh processes each (tuned, then untuned), each after one warm-up turn.', '',
          '| turn | tuned p50 ms | untuned p50 ms | untuned / tuned |', '|---|---|---|---|']
    md += [f"| {m} (w = {res['guidance'] if m == 'guided' else 0}) | {p50(on[m])} | {p50(off[m])} | {p50(off[m]) / p50(on[m]):.2f}x |" for m in ('unguided', 'guided')]
    md += ['', f"Guided over unguided, p50: {p50(on['guided']) / p50(on['unguided']):.2f}x tuned, {p50(off['guided']) / p50(off['unguided']):.2f}x untuned."]
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--requests', type=int, default=30); ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--guidance', type=float, default=2.0); ap.add_argument('--out', default='reports/malloc_ab')
    ap.add_argument('--one', choices=['tuned', 'untuned'], default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one: print('RESULT ' + json.dumps(one(a.run, a.requests, a.guidance, a.one == 'tuned'))); sys.exit(0)
    from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic, repo_relative
    modes = {'tuned': {'unguided': [], 'guided': []}, 'untuned': {'unguided': [], 'guided': []}}
    for rnd in range(a.rounds):
        for mode in modes:
            print(f'[malloc] round {rnd + 1}/{a.rounds}: {mode} ...', flush=True)
            p = subprocess.run([sys.executable, __file__, '--run', a.run, '--requests', str(a.requests), '--guidance', str(a.guidance), '--one', mode], capture_output=True, text=True)
            line = [l for l in p.stdout.splitlines() if l.startswith('RESULT ')]
            if p.returncode or not line: sys.exit(f'[malloc] the {mode} process failed:\n{p.stderr[-3000:]}')
            got = json.loads(line[0][7:]); quantize = got.pop('quantize')
            for m, xs in got.items(): modes[mode][m] += xs
    res = {'command': 'python scripts/malloc_ab.py ' + ' '.join(sys.argv[1:]), 'machine': machine_info(), 'run': repo_relative(a.run), 'quantize': quantize,
           'requests': a.requests, 'rounds': a.rounds, 'guidance': a.guidance, 'modes': modes,
           'p50_ms': {mode: {m: p50(xs) for m, xs in v.items()} for mode, v in modes.items()}}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))
