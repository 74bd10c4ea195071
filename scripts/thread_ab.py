"""Does the thread that runs the engine matter on this CPU? (issue 18) The same work on the main thread and on a worker
thread, alternated: one bf16 linear layer of the model's MLP shape, many times, and the engine's batched turns in lockstep
(`batch_ab.lockstep`: 4 empty sessions, 5 turns, as the HTTP benchmark sends them).

    python scripts/thread_ab.py --run runs/ml-100k-collab [--rounds 3 --out reports/thread_ab]

Why `talkwalk serve` answers turns on its main thread (`talkwalk.serve.answer_while_serving`). Writes <out>.json and <out>.md."""
import argparse, os, sys, threading, time
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from batch_ab import lockstep

def on_worker(fn):
    "`fn()` run on a new thread; its result."
    out = {}
    th = threading.Thread(target=lambda: out.update(r=fn())); th.start(); th.join()
    return out['r']

def linear_us(layer, x, reps:int) -> dict:
    "Microseconds per call of `layer(x)`, and the process's CPU seconds per wall second meanwhile."
    with torch.inference_mode():
        for _ in range(20): layer(x)
        t, cpu = time.perf_counter(), time.process_time()
        for _ in range(reps): layer(x)
        wall = time.perf_counter() - t
    return {'us': wall / reps * 1e6, 'cpu_per_wall': (time.process_time() - cpu) / wall}

def report(res:dict) -> str:
    "The Markdown report."
    lin, eng = res['linear'], res['engine']
    med = lambda rows, key: float(np.median([r[key] for r in rows]))
    md = ['# The engine on the main thread vs a worker thread', '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`, quantize {res['quantize']}.", '',
          f"The same work on the main thread and on a new worker thread, {res['rounds']} rounds alternated.", '',
          '| work | main thread | worker thread | worker / main |', '|---|---|---|---|',
          f"| bf16 linear {res['linear_shape']}, µs per call (median of rounds) | {med(lin['main'], 'us'):.1f} | {med(lin['worker'], 'us'):.1f} | {med(lin['worker'], 'us') / med(lin['main'], 'us'):.2f}x |",
          f"| process CPU seconds per wall second during it | {med(lin['main'], 'cpu_per_wall'):.2f} | {med(lin['worker'], 'cpu_per_wall'):.2f} | |",
          f"| engine, 4 turns batched (`turn_many`), mean ms per round of turns | {np.mean(eng['main']) * 1000:.1f} | {np.mean(eng['worker']) * 1000:.1f} | {np.mean(eng['worker']) / np.mean(eng['main']):.2f}x |",
          '', 'On a worker thread the process uses less CPU for the same call: PyTorch\'s OpenMP workers idle between operations there. '
          'So `talkwalk serve` runs uvicorn on a background thread and answers turns on the main thread.']
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--reps', type=int, default=2000)
    ap.add_argument('--out', default='reports/thread_ab'); ap.add_argument('--quantize', default='auto')
    a = ap.parse_args()
    if min(a.rounds, a.reps) < 1: sys.exit('--rounds and --reps must each be at least 1')
    from talkwalk.recommender import load_recommender
    from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic, repo_relative
    rec = load_recommender(a.run, quantize=a.quantize)
    up = rec.model.get_decoder().layers[0].mlp.up_proj
    x = torch.randn(48, up.in_features, dtype=up.weight.dtype)  # 48 tokens: a batched pass of four turns' beams
    lockstep(rec, 4, 1, True, [])  # warm-up
    lin, eng = {'main': [], 'worker': []}, {'main': [], 'worker': []}
    for rnd in range(a.rounds):
        for where in (('main', 'worker') if rnd % 2 == 0 else ('worker', 'main')):
            print(f'[thread] round {rnd + 1}/{a.rounds}: {where} ...', flush=True)
            run = (lambda f: f()) if where == 'main' else on_worker
            lin[where].append(run(lambda: linear_us(up, x, a.reps)))
            eng[where] += run(lambda: lockstep(rec, 4, 5, True, []))['seconds']
    res = {'command': 'python scripts/thread_ab.py ' + ' '.join(sys.argv[1:]), 'machine': machine_info(), 'run': repo_relative(a.run), 'quantize': rec.cfg.quantize,
           'rounds': a.rounds, 'linear_shape': f'{tuple(x.shape)} x {tuple(up.weight.shape[::-1])} {str(up.weight.dtype).replace("torch.", "")}', 'linear': lin, 'engine': eng}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))
