"""What numpy's BLAS threads cost a turn (`EngineConfig.blas_threads`): each head of a run answers the latency benchmark's seeded
test users with numpy's BLAS (OpenBLAS, through threadpoolctl) limited to one thread and left at the machine's count, alternated
user by user (ABBA) in one process so both settings see the same machine. Each turn is timed whole, and a hook on the LLM
counts the seconds spent in its forward passes: BLAS threads that spin after a numpy call take cores from the model's.

    .venv/bin/python scripts/blas_threads_ab.py --run runs/amazon-scientific --users 40 --out reports/blas_threads_ab

Only timing is read off the test users. Writes <out>.json and <out>.md."""
import argparse, os, sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from history_prior_latency_ab import DecoderMeter, ratio_rows, summary, timed_turn  # the same meter, timed turn, medians and table rows as the history prior's A/B

from talkwalk.engine import bench_sessions
from talkwalk.recommender import load_recommender
from talkwalk.session import Session
from talkwalk.utils import git_state, machine_info, repo_relative, write_json_atomic, write_text_atomic


def ab(run:Path, mode:str, users:int, many:int) -> dict:
    "The A/B of one head: one BLAS thread against `many`, alternated user by user after a warm-up turn of each."
    rec = load_recommender(run, mode=mode, max_history=20, blas_threads=0)  # 0: the engine leaves BLAS alone; each turn sets it
    meter = DecoderMeter(rec.model.get_decoder())
    cases, warm = bench_sessions(rec, users, 20, 0), bench_sessions(rec, 1, 20, 1)[0]
    for b in (1, many): timed_turn(rec, meter, warm[0], warm[1], threadpool_limits(b, user_api='blas'))
    turns = {'one': [], 'many': []}
    for n, (s, request, _) in enumerate(tqdm(cases, desc=f'{mode} users')):
        for setting in (('one', 'many') if n % 2 == 0 else ('many', 'one')): turns[setting].append(timed_turn(rec, meter, s, request, threadpool_limits(1 if setting == 'one' else many, user_api='blas')))
    same = sum(x['items'] == y['items'] for x, y in zip(turns['one'], turns['many']))
    return {'mode': mode, 'users': len(cases), 'quantize': rec.cfg.quantize, 'summary': {k: summary(v) for k, v in turns.items()}, 'same_lists': same,
            'turns': {k: [{x: t[x] for x in ('seconds', 'calls', 'tokens', 'decoder_seconds')} for t in v] for k, v in turns.items()}}


def report(res:dict) -> str:
    "The Markdown report."
    rows = [('turn p50 ms', 'p50_ms'), ('turn mean ms', 'mean_ms'), ('in the LLM, p50 ms', 'decoder_p50_ms'), ('outside the LLM, p50 ms', 'outside_decoder_p50_ms')]
    md = ["# What numpy's BLAS threads cost a turn", '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`.", '',
          f"The latency benchmark's seeded test users (at least 20 history items, its requests), a top-10 turn each on a fresh session (no KV cache kept), "
          f"with numpy's BLAS ({res['blas']}) limited to 1 thread and at {res['many']} (the process's count before the engine loaded), alternated user by user "
          "(ABBA) after one warm-up turn of each. A hook on the LLM times its forward passes; the rest of a turn (the reader, the priors, the item index) runs outside it.", '']
    for h in res['heads']:
        one, many = h['summary']['one'], h['summary']['many']
        md += [f"## {h['mode']} head ({h['users']} users, quantize {h['quantize']})", '', f"| | BLAS 1 thread | BLAS {res['many']} threads | ratio (1 / {res['many']}) |", '|---|---|---|---|']
        md += ratio_rows(rows, one, many)
        md += ['', f"Identical top 10s under both settings: {h['same_lists']} of {h['users']} users.", '']
    return '\n'.join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True); ap.add_argument('--users', type=int, default=40); ap.add_argument('--out', required=True)
    ap.add_argument('--modes', default='generative,dense', help='heads to time, comma separated')
    a = ap.parse_args()
    if a.users < 1: sys.exit(f'--users must be at least 1, got {a.users}')
    blas = [p for p in threadpool_info() if p['user_api'] == 'blas']
    if not blas: sys.exit('threadpoolctl sees no BLAS library in this process: nothing to compare')
    many = max(p['num_threads'] for p in blas)
    if many < 2: sys.exit(f'numpy\'s BLAS already runs on {many} thread (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS?): unset them to compare')
    heads = [ab(Path(a.run), m.strip(), a.users, many) for m in a.modes.split(',') if m.strip()]
    res = {'command': 'python scripts/blas_threads_ab.py ' + ' '.join(sys.argv[1:]), 'commit': git_state(), 'machine': machine_info(), 'run': repo_relative(a.run),
           'blas': ', '.join(sorted({f"{p['internal_api']} {p['version']}" for p in blas})), 'many': many, 'cpus': os.cpu_count(), 'heads': heads}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))


if __name__ == '__main__':
    main()
