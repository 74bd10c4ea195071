"""What the generative head's history prior costs a turn, and where (issue 14): the run's engine answers the latency benchmark's
seeded test users with the history prior at the run's validated weight and off (`EngineConfig.history_prior = 0`), alternated
user by user (ABBA) in one process so both see the same machine. Each turn is timed whole, and a hook on the decoder counts its
forward passes, the tokens they feed (prefill and tree steps; padding included) and the seconds spent in them.

    .venv/bin/python scripts/history_prior_latency_ab.py --run runs/amazon-scientific --users 40 --out reports/history_prior_latency_amazon-scientific

Only timing is read off the test users (the weight was validated on validation users). Writes <out>.json and <out>.md."""
import argparse, sys, time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from talkwalk.session import Session  # the rest of talkwalk is imported in `main`: eval_latency_probe.py imports the meter under an older commit's package


class DecoderMeter:
    "Forward passes of a module, the tokens they feed and the seconds they take, since the last `reset`."
    def __init__(self, module):
        self.reset(); self._t0 = None
        module.register_forward_pre_hook(self._pre, with_kwargs=True); module.register_forward_hook(self._post)
    def reset(self): self.calls, self.tokens, self.seconds = 0, 0, 0.0
    def _pre(self, mod, args, kwargs):
        ids = kwargs.get('input_ids', args[0] if args else None)
        if ids is None and kwargs.get('inputs_embeds') is not None: ids = kwargs['inputs_embeds'][..., 0]
        self.calls += 1; self.tokens += int(ids.numel()) if ids is not None else 0; self._t0 = time.perf_counter()
    def _post(self, mod, args, out): self.seconds += time.perf_counter() - self._t0


def timed_turn(rec, meter:DecoderMeter, s:Session, request:str, setting) -> dict:
    "One top-10 turn on a fresh copy of `s` inside the context manager `setting` (the A/B's arm): seconds, decoder calls, tokens and seconds, and the items."
    meter.reset()
    with setting:
        t0 = time.perf_counter(); recs = rec.turn(Session(s.user, list(s.history)), request, 10, cache=False); sec = time.perf_counter() - t0
    return {'seconds': sec, 'calls': meter.calls, 'tokens': meter.tokens, 'decoder_seconds': meter.seconds, 'items': [r.item_id for r in recs]}


def summary(turns:list) -> dict:
    "Medians (and the mean seconds) of one setting's turns."
    med = lambda k: float(np.median([t[k] for t in turns]))
    return {'turns': len(turns), 'p50_ms': round(med('seconds') * 1000, 1), 'mean_ms': round(float(np.mean([t['seconds'] for t in turns])) * 1000, 1),
            'decoder_p50_ms': round(med('decoder_seconds') * 1000, 1), 'outside_decoder_p50_ms': round(float(np.median([t['seconds'] - t['decoder_seconds'] for t in turns])) * 1000, 1),
            'calls_p50': med('calls'), 'tokens_p50': med('tokens'), 'tokens_mean': round(float(np.mean([t['tokens'] for t in turns])), 1)}


def ratio_rows(rows:list, # (row name, `summary` key) pairs
               a:dict, b:dict, # two settings' `summary` dicts
              ) -> list:
    "Markdown table rows: each figure under setting `a`, under `b`, and their ratio a / b ('—' where b's is 0)."
    return [f"| {name} | {a[k]} | {b[k]} | {a[k] / b[k]:.2f}x |" if b[k] else f"| {name} | {a[k]} | {b[k]} | — |" for name, k in rows]


def report(res:dict) -> str:
    "The Markdown report."
    on, off = res['summary']['on'], res['summary']['off']
    rows = [('turn p50 ms', 'p50_ms'), ('turn mean ms', 'mean_ms'), ('in the decoder, p50 ms', 'decoder_p50_ms'), ('outside the decoder, p50 ms', 'outside_decoder_p50_ms'),
            ('decoder forward passes, p50', 'calls_p50'), ('tokens fed, p50', 'tokens_p50'), ('tokens fed, mean', 'tokens_mean')]
    md = ['# What the history prior costs a generative turn', '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`, quantize {res['quantize']}.", '',
          f"{res['users']} seeded test users of the latency benchmark (at least 20 history items, its requests), a top-10 turn each on a fresh session (no KV cache kept), "
          f"with the history prior at {res['weight']} ({res['weight_from']}) and off (0), alternated user by user (on first, then off first) after one warm-up turn of each. "
          "A hook on the decoder counts its forward passes (the prompt's prefill and the beam search's tree steps), the tokens they feed (padding included) and their seconds.", '',
          f"| | prior {res['weight']} | prior 0 | ratio |", '|---|---|---|---|']
    md += ratio_rows(rows, on, off)
    md += ['', f"Lists that differ between the two settings: {res['lists_differ']} of {res['users']} users; mean overlap of the two top 10s: {res['mean_overlap']:.2f}."]
    return '\n'.join(md) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True); ap.add_argument('--users', type=int, default=40); ap.add_argument('--out', required=True)
    ap.add_argument('--weight', type=float, default=None, help="history-prior weight to time against 0 (default: the run's validated one)")
    a = ap.parse_args()
    from talkwalk.engine import bench_sessions
    from talkwalk.recommender import load_recommender
    from talkwalk.session import engine_config
    from talkwalk.utils import git_state, machine_info, repo_relative, write_json_atomic, write_text_atomic
    rec = load_recommender(Path(a.run), max_history=20)
    weight = rec.history_prior_default() if a.weight is None else a.weight
    if not weight: sys.exit(f'{a.run}: its history prior is 0 (dial/generative.json); pass --weight to time one')
    meter = DecoderMeter(rec.model.get_decoder())
    cases, warm = bench_sessions(rec, a.users, 20, 0), bench_sessions(rec, 1, 20, 1)[0]
    for w in (weight, 0.0): timed_turn(rec, meter, warm[0], warm[1], engine_config(rec, history_prior=w))  # builds the history space, warms both paths
    turns = {'on': [], 'off': []}
    for n, (s, request, _) in enumerate(tqdm(cases, desc='users')):
        order = ('on', 'off') if n % 2 == 0 else ('off', 'on')
        for setting in order: turns[setting].append(timed_turn(rec, meter, s, request, engine_config(rec, history_prior=weight if setting == 'on' else 0.0)))
    overlap = [len(set(x['items']) & set(y['items'])) / 10 for x, y in zip(turns['on'], turns['off'])]
    res = {'command': 'python scripts/history_prior_latency_ab.py ' + ' '.join(sys.argv[1:]), 'commit': git_state(), 'machine': machine_info(),
           'run': repo_relative(a.run), 'quantize': rec.cfg.quantize, 'weight': weight, 'weight_from': 'the run\'s validated weight' if a.weight is None else '--weight', 'users': len(cases),
           'summary': {k: summary(v) for k, v in turns.items()}, 'lists_differ': sum(o < 1 for o in overlap), 'mean_overlap': float(np.mean(overlap)),
           'turns': {k: [{x: t[x] for x in ('seconds', 'calls', 'tokens', 'decoder_seconds')} for t in v] for k, v in turns.items()}}
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))


if __name__ == '__main__':
    main()
