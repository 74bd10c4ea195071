"""Training throughput of the alignment stage on this machine: float32 vs bf16 autocast, stage A (new embedding rows) and stage B
(LoRA on all linear layers), on sequence-task batches (windows of the data stage's history cap), interleaved in one process so the
ratios are fair on a shared machine.

    python scripts/bench_train_step.py --run runs/ml-100k [--steps 4 --rounds 2 --batch-size 8 --stages a,b --out reports/train_throughput.json]

Reads the run's data and SID stages; writes the JSON (tokens/s, item targets/s and the first-step loss per setting and round)."""
import argparse, statistics
from pathlib import Path
from peft import LoraConfig, get_peft_model
from talkwalk.alignment import (AlignmentConfig, load_sids, prepare_model, make_examples, encode_example, sid_code_ids, lora_targets,
                                 train_phase, train_stage_a)
from talkwalk.catalog import load_data_artifacts
from talkwalk.llm import native_bf16
from talkwalk.prompts import PromptStyle
from talkwalk.sids import sid_string
from talkwalk.utils import write_json_atomic, machine_info

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--steps', type=int, default=4); ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=8); ap.add_argument('--out', default='reports/train_throughput.json')
    ap.add_argument('--stages', default='a,b', help="which stages to time, comma-separated: 'a' (new rows), 'b' (LoRA); one stage where emulated bf16 makes a step take minutes")
    a = ap.parse_args(); stages = tuple(x.strip() for x in a.stages.split(','))
    if not stages or set(stages) - {'a', 'b'}: ap.error(f"--stages {a.stages!r}: use a, b or a,b")
    ds, split = load_data_artifacts(Path(a.run)/'data'); sids, levels = load_sids(a.run)
    cfg = AlignmentConfig(dataset=ds.name, device='cpu'); style = PromptStyle(split.max_history)
    ex = make_examples(ds, split, sids, {i: sid_string(s) for i, s in sids.items()}, style, {'sequence': a.steps * a.batch_size * 4}, 0)
    rows = []
    for stage in stages:
        model, tok, new_ids, n_old, _ = prepare_model(cfg, sids, levels, None, {})
        enc = [encode_example(tok, e, 512, sid_code_ids(tok)) for e in ex]
        kw = dict(resume=False, target_ids=sid_code_ids(tok, 1))
        if stage == 'b':  # LoRA once; each measurement continues training the same adapter
            for p in model.parameters(): p.requires_grad_(False)
            model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=lora_targets(model, 'all-linear'), task_type='CAUSAL_LM', trainable_token_indices=sorted(new_ids)))
        for r in range(a.rounds):
            for bf16 in (False, True):
                if stage == 'a': st = train_stage_a(model, tok, enc, n_old, a.steps, 1e-6, a.batch_size, bf16=bf16, **kw)
                else:
                    st = train_phase(model, enc, tok.pad_token_id, steps=a.steps, lr=1e-6, batch_size=a.batch_size, bf16=bf16, **kw)
                rows.append({'stage': stage, 'round': r, 'bf16': bf16, 'tokens_per_s': st['tokens_per_s'], 'targets_per_s': st['targets_per_s'], 'loss_first': st['loss_first']})
                print(rows[-1], flush=True)
    summ = {}
    for stage in stages:
        f = [x for x in rows if x['stage'] == stage and not x['bf16']]; b = [x for x in rows if x['stage'] == stage and x['bf16']]
        summ[stage] = {'fp32_tokens_per_s': statistics.median(x['tokens_per_s'] for x in f), 'bf16_tokens_per_s': statistics.median(x['tokens_per_s'] for x in b),
                       'speedup': round(statistics.median(y['tokens_per_s'] / x['tokens_per_s'] for x, y in zip(f, b)), 2),
                       'first_loss_fp32': f[0]['loss_first'], 'first_loss_bf16': b[0]['loss_first']}
    write_json_atomic(a.out, {'command': f'python scripts/bench_train_step.py --run {a.run} --steps {a.steps} --rounds {a.rounds} --batch-size {a.batch_size} --stages {a.stages}', 'machine': machine_info(),
                              'cpu_model': next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), None) if Path('/proc/cpuinfo').exists() else None,
                              'native_bf16': native_bf16('cpu'), 'batch_size': a.batch_size, 'window_items': split.max_history + 1, 'summary': summ, 'rows': rows})
    print(summ)
