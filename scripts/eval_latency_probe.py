"""Where the test evaluation's generative latency goes, and whether the aligned model is slower than the base LLM (issue 14):
the evaluation's own path (`load_recommender(..., quantize='none')`, a top-10 turn on a fresh session per seeded test user of
its sample, the request 'recommend something') timed whole, with a hook on the decoder that times its forward passes; then the
decoder body alone on one random prompt of the turns' median length, the base SmolLM2 and the run's stage-A model alternated
(ABBA) in the same process, float32. With `--against COMMIT`, the turns are also timed with that commit's `talkwalk` package (from
`git archive`, on the same run folder and users), in fresh processes alternated with this checkout's, `--rounds` times each: code
against code on one machine, minutes apart.

    .venv/bin/python scripts/eval_latency_probe.py --run runs/ml-100k-collab --users 40 --against bb9e79b --out reports/eval_latency_probe_ml-100k-collab

Only timing is read off the test users. Writes <out>.json and <out>.md."""
import argparse, json, os, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM

from history_prior_latency_ab import DecoderMeter, ratio_rows  # the same decoder meter and table rows as the priors' A/B
from talkwalk.eval_data import load_eval_data, sample_users  # what `eval_turns` needs, also under `--against`'s older package; the rest in the functions that use it
from talkwalk.recommender import load_recommender
from talkwalk.session import Session


def eval_turns(run:Path, users:int, request:str='recommend something') -> list:
    "Per sampled test user, as the evaluation times it: the turn's seconds, the decoder's seconds and passes, and the prompt's tokens."
    ed = load_eval_data(run, on='test'); cases = [ed.cases[u] for u in sample_users(ed, 300, 0)[:users]]  # the evaluation's sample (seed 0), first `users`
    rec = load_recommender(run, mode='generative', stage='b', device='cpu', quantize='none')
    meter, out = DecoderMeter(rec.model.get_decoder()), []
    session = lambda c: Session(user=c.profile, history=list(c.prior))
    warm = session(cases[0]); rec.turn(warm, request, 10); rec.end_session(warm)  # first-call allocations, as the evaluation warms up
    for c in tqdm(cases, desc='turns'):
        s = session(c); meter.reset()
        t0 = time.perf_counter(); rec.turn(s, request, 10); sec = time.perf_counter() - t0; rec.end_session(s)
        out.append({'seconds': sec, 'decoder_seconds': meter.seconds, 'calls': meter.calls, 'prompt_tokens': len(rec.prompt_ids(session(c), request))})
    return out


def prefill_ab(run:Path, tokens:int, rounds:int) -> dict:
    "Seconds of the decoder body on one random prompt of `tokens` tokens: the base LLM and the run's stage-A model alternated (ABBA), float32."
    from talkwalk.llm import default_model_dir
    from talkwalk.run import RunDir
    torch.manual_seed(0)
    models = {'base': AutoModelForCausalLM.from_pretrained(str(default_model_dir()), torch_dtype=torch.float32).eval(),
              'aligned': AutoModelForCausalLM.from_pretrained(str(RunDir(run).path('alignment', 'stage_a')), torch_dtype=torch.float32).eval()}
    ids, secs = torch.randint(0, 49152, (1, tokens)), {k: [] for k in models}
    with torch.inference_mode():
        for m in models.values(): m.model(input_ids=ids)
        for r in range(rounds):
            for name in (('base', 'aligned') if r % 2 == 0 else ('aligned', 'base')):
                t0 = time.perf_counter(); models[name].model(input_ids=ids); secs[name].append(time.perf_counter() - t0)
    return {k: {'p50_ms': round(float(np.median(v)) * 1000, 1), 'mean_ms': round(float(np.mean(v)) * 1000, 1), 'n': len(v)} for k, v in secs.items()} | {'tokens': tokens}


def turn_summary(turns:list) -> dict:
    "Medians and means of `eval_turns`' rows, in ms."
    col = lambda k: np.array([x[k] for x in turns], float)
    sec, dec, toks = col('seconds') * 1000, col('decoder_seconds') * 1000, col('prompt_tokens')
    return {'users': len(turns), 'p50_ms': round(float(np.median(sec)), 1), 'mean_ms': round(float(sec.mean()), 1), 'decoder_p50_ms': round(float(np.median(dec)), 1),
            'decoder_mean_ms': round(float(dec.mean()), 1), 'outside_p50_ms': round(float(np.median(sec - dec)), 1), 'outside_mean_ms': round(float((sec - dec).mean()), 1),
            'calls_p50': float(np.median(col('calls'))), 'prompt_tokens_p50': float(np.median(toks)), 'prompt_tokens_min': int(toks.min()), 'prompt_tokens_max': int(toks.max())}


def code_ab(run:Path, users:int, commit:str, rounds:int) -> dict:
    "Turn medians of this checkout's `talkwalk` and `commit`'s, each in a fresh process per round, alternated (ABBA), on the same run folder and users."
    out = {'this checkout': [], commit: []}
    with tempfile.TemporaryDirectory() as old:
        tar = Path(old)/'talkwalk.tar'
        subprocess.run(['git', 'archive', '-o', str(tar), commit, 'talkwalk'], cwd=Path(__file__).resolve().parents[1], check=True)  # that commit's package, beside none of this checkout's
        tarfile.open(tar).extractall(old, filter='data')
        for r in range(rounds):
            for name in ((commit, 'this checkout') if r % 2 == 0 else ('this checkout', commit)):
                # that commit's package first on the path; the caller's own PYTHONPATH kept behind it (and alone for this checkout)
                env = {**os.environ, 'PYTHONPATH': os.pathsep.join(p for p in (old if name == commit else '', os.environ.get('PYTHONPATH', '')) if p)}
                cmd = [sys.executable, __file__, '--run', str(run), '--users', str(users), '--turns-only']
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                out[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def report(res:dict) -> str:
    "The Markdown report."
    t, p = res['turns'], res['prefill']
    md = ["# The evaluation's generative latency, re-timed", '', f"Command: `{res['command']}`; {res['machine']}; run `{res['run']}`, float32 (the evaluation's setting), "
          f"torch threads {res['threads']}.", '',
          f"{t['users']} users of the test evaluation's seeded sample, a top-10 turn each on a fresh session, timed as `nbs/05_eval` times it; a hook on the decoder times "
          "its forward passes (the prompt's prefill and the beam search's tree steps).", '',
          '| | p50 | mean |', '|---|---|---|',
          f"| turn, ms | {t['p50_ms']} | {t['mean_ms']} |", f"| in the decoder, ms | {t['decoder_p50_ms']} | {t['decoder_mean_ms']} |",
          f"| outside the decoder, ms | {t['outside_p50_ms']} | {t['outside_mean_ms']} |", f"| decoder forward passes | {t['calls_p50']:g} | |",
          f"| prompt tokens | {t['prompt_tokens_p50']:g} | (min {t['prompt_tokens_min']}, max {t['prompt_tokens_max']}) |", '',
          f"The decoder body alone on one random {p['tokens']}-token prompt, {p['base']['n']} passes per model, alternated:", '',
          '| | aligned (stage A) | base SmolLM2 | ratio |', '|---|---|---|---|', *ratio_rows([('prefill p50 ms', 'p50_ms'), ('prefill mean ms', 'mean_ms')], p['aligned'], p['base'])]
    if ab := res.get('code_ab'):
        (a, ra), (b, rb) = ab.items()
        md += ['', f"The same turns with `{b}`'s `talkwalk` package (`git archive`) and this checkout's, on the same model and users, in fresh processes alternated "
               f"(ABBA), {len(ra)} rounds each (turn p50 ms, decoder p50 ms per round):", '', f'| round | {a} | {b} |', '|---|---|---|',
               *[f"| {i + 1} | {x['p50_ms']} ({x['decoder_p50_ms']}) | {y['p50_ms']} ({y['decoder_p50_ms']}) |" for i, (x, y) in enumerate(zip(ra, rb))],
               f"| median of rounds | {np.median([x['p50_ms'] for x in ra]):.1f} | {np.median([y['p50_ms'] for y in rb]):.1f} |"]
    return '\n'.join(md) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True, type=Path); ap.add_argument('--users', type=int, default=40); ap.add_argument('--rounds', type=int, default=12)
    ap.add_argument('--against', default='', help="a git commit whose talkwalk package to time against this checkout's (fresh processes, alternated)")
    ap.add_argument('--code-rounds', type=int, default=3, help='rounds of that comparison (each runs both packages once)')
    ap.add_argument('--turns-only', action='store_true', help="print the turns' summary as one JSON line and stop (what --against runs in each process)")
    ap.add_argument('--out', default='')
    a = ap.parse_args()
    if a.users < 1 or a.rounds < 1 or a.code_rounds < 1: sys.exit(f'--users, --rounds and --code-rounds must be at least 1, got {a.users}, {a.rounds}, {a.code_rounds}')
    if a.turns_only: print(json.dumps(turn_summary(eval_turns(a.run, a.users)))); return
    if not a.out: sys.exit('--out is required (the report stem), except with --turns-only')
    from talkwalk.utils import git_state, machine_info, repo_relative, write_json_atomic, write_text_atomic
    turns = eval_turns(a.run, a.users); t = turn_summary(turns)
    res = {'command': '.venv/bin/python scripts/eval_latency_probe.py ' + ' '.join(sys.argv[1:]), 'commit': git_state(), 'machine': machine_info(),
           'run': repo_relative(a.run), 'threads': torch.get_num_threads(), 'turns': t, 'prefill': prefill_ab(a.run, int(t['prompt_tokens_p50']), a.rounds),
           'per_turn': turns}
    if a.against: res['code_ab'] = code_ab(a.run, a.users, a.against, a.code_rounds)
    write_json_atomic(a.out + '.json', res); write_text_atomic(a.out + '.md', report(res)); print(report(res))


if __name__ == '__main__':
    main()
