"""HTTP batching in a freshly started process (issue 18): the latency notebook measures `http_benchmark` after ~1,000 benchmark
turns in the same process; this loads the default engine and runs it straight away, reporting each round's throughput and page
faults, so a new server's first minutes can be compared with the notebook's figure.

    python scripts/http_fresh.py --run runs/ml-100k-collab [--rounds 4 --warmup 1 --kv-sessions 32 --out reports/http_fresh]

`--kv-sessions` sets how many sessions' KV caches the engine keeps (`EngineConfig.kv_sessions`, default 32): a small store is
full from the first rounds, which tells whether a fresh server's page faults come from that store filling.

Writes <out>.json and <out>.md."""
import argparse, sys

def report(res:dict) -> str:
    "The Markdown report."
    md = ['# HTTP batching in a freshly started process', '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`, quantize {res['quantize']}.", '',
          f"The default engine loaded (KV caches kept for {res['kv_sessions']} sessions), then `http_benchmark` at once: {res['clients']} clients x {res['turns']} turns per round, "
          f"{res['warmup']} untimed round(s) of each mode, then {res['rounds']} timed rounds of each, alternated.", '',
          '| timed round | one at a time, requests/s | page faults | batched, requests/s | page faults |', '|---|---|---|---|---|']
    one, bat = res['http']['modes']['one at a time']['rounds'], res['http']['modes']['batched']['rounds']
    md += [f"| {i + 1} | {a['requests_per_s']} | {a['page_faults']} | {b['requests_per_s']} | {b['page_faults']} |" for i, (a, b) in enumerate(zip(one, bat))]
    md += ['', f"- batched over one at a time, all timed rounds: **{res['http']['batched_over_serial']}x**"]
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--rounds', type=int, default=4); ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--clients', type=int, default=4); ap.add_argument('--turns', type=int, default=5); ap.add_argument('--out', default='reports/http_fresh')
    ap.add_argument('--kv-sessions', type=int, default=None, help="sessions whose KV cache the engine keeps (default: EngineConfig's)")
    a = ap.parse_args()
    if min(a.rounds, a.clients, a.turns) < 1 or a.warmup < 0: sys.exit('--rounds, --clients and --turns must be at least 1, --warmup at least 0')
    from talkwalk.recommender import load_recommender
    from talkwalk.serve import ServeConfig, http_benchmark
    from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic, repo_relative
    if a.kv_sessions is not None and a.kv_sessions < 1: sys.exit('--kv-sessions must be at least 1')
    rec = load_recommender(a.run, **({} if a.kv_sessions is None else {'kv_sessions': a.kv_sessions}))
    http = http_benchmark(rec, a.clients, a.turns, ServeConfig().batch_wait_ms, rounds=a.rounds, warmup=a.warmup)
    res = {'command': 'python scripts/http_fresh.py ' + ' '.join(sys.argv[1:]), 'machine': machine_info(), 'run': repo_relative(a.run), 'quantize': rec.cfg.quantize,
           'kv_sessions': rec.cfg.kv_sessions, 'clients': a.clients, 'turns': a.turns, 'rounds': a.rounds, 'warmup': a.warmup, 'http': http}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))
