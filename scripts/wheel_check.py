"""A plain (non-editable) install carries what it needs: build the wheel, install it into a fresh venv, run the data stage.

The fresh venv gets .venv's packages (the dependencies, and the recbole wheel that ships MovieLens 100K) through one line
in a .pth file. Such a line only adds the folder to sys.path: the .pth files inside it are not run, so .venv's editable
talkwalk (an import hook installed by a .pth) stays out. Everything runs from a temporary folder, so the repository is
not on sys.path either: what is imported is the installed wheel. `make wheel-check` runs this; so does
tests/test_package.py."""
import argparse, json, os, shutil, subprocess, sys, sysconfig, tempfile, time, venv, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run by the fresh venv's python, from the temporary folder: the package and its descriptions must be the installed copy.
CHECK = r'''
import sys
from pathlib import Path
import talkwalk, talkwalk.catalog as catalog
root, pkg = Path(sys.argv[1]).resolve(), Path(talkwalk.__file__).resolve().parent
assert Path(sys.prefix).resolve() in pkg.parents, f'talkwalk was imported from {pkg}, not from the installed wheel in {sys.prefix}'
assert root not in {Path(p or '.').resolve() for p in sys.path}, f'the repository {root} is on sys.path'
d = Path(str(catalog.descriptions_dir())).resolve()
assert d == pkg/'descriptions', f'descriptions found in {d}, not in the installed package {pkg}'
for dom in ('movielens', 'amazon', 'generic'): assert catalog.load_descriptions(dom)['items'], f'no item phrasings for {dom}'
assert catalog.load_descriptions('movielens')['users'], 'no user phrasings for movielens'
print(f'descriptions load from the installed package: {d}')
'''

def run(cmd:list, **kw) -> subprocess.CompletedProcess:
    "Run `cmd`, failing with its output when it fails."
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode: sys.exit(f'wheel-check failed: {" ".join(map(str, cmd))} exited {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}')
    return r

def source_tree(dst:Path) -> Path:
    "Copy what a fresh clone would hold (tracked files and untracked ones git does not ignore) into `dst`."
    files = run(['git', '-C', ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard']).stdout.split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file():  # tracked files deleted in the working tree are not part of it
            (dst/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, dst/f)
    return dst

def build_wheel(src:Path, out:Path) -> Path:
    "Build the wheel from `src` with this interpreter's setuptools (no download)."
    run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', out, src])
    return next(out.glob('talkwalk-*.whl'))

def fresh_venv(path:Path) -> Path:
    "A venv without pip whose only other packages are this interpreter's (see the module docstring); returns its python."
    venv.create(path, with_pip=False)
    py = path/'bin'/'python'
    site = run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).stdout.strip()
    deps = sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})
    Path(site, '_talkwalk_deps.pth').write_text(''.join(d + '\n' for d in deps))
    return py

def main(keep:bool=False, serve_run:str|None=None):
    "Build, install and check; prints what it did and how long each step took."
    tmp = Path(tempfile.mkdtemp(prefix='talkwalk-wheel-'))
    t0 = time.time()
    try:
        whl = build_wheel(source_tree(tmp/'src'), tmp/'dist')
        names = zipfile.ZipFile(whl).namelist()
        yamls = [n for n in names if n.startswith('talkwalk/descriptions/') and n.endswith('.yaml')]
        if not yamls: sys.exit(f'wheel-check failed: {whl.name} holds no talkwalk/descriptions/*.yaml')
        if not any(n.endswith('.dist-info/licenses/LICENSE') for n in names): sys.exit(f'wheel-check failed: {whl.name} holds no LICENSE')
        print(f'built {whl.name}: {len(names)} files, {len(yamls)} description YAMLs and the LICENSE ({time.time() - t0:.0f} s)')
        py = fresh_venv(tmp/'venv')
        run([sys.executable, '-m', 'pip', '--python', py, 'install', '-q', '--no-deps', '--no-index', whl])
        work = tmp/'work'; work.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'TALKWALK_DESCRIPTIONS', 'TALKWALK_RUNS', 'VIRTUAL_ENV')}
        env.update(WANDB_MODE='disabled', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', PATH=f"{py.parent}{os.pathsep}{env.get('PATH', '')}")
        print(run([py, '-c', CHECK, ROOT], cwd=work, env=env).stdout.strip())
        t1 = time.time()
        run([py.parent/'talkwalk', 'data', '--dataset', 'ml-100k', '--run', work/'run'], cwd=work, env=env)
        data = work/'run'/'data'
        missing = [f for f in ('items.jsonl', 'descriptions.jsonl', 'stats.json') if not (data/f).is_file() or not (data/f).stat().st_size]
        if missing: sys.exit(f'wheel-check failed: the data stage wrote no {missing} in {data}')
        print(f'talkwalk data --dataset ml-100k from the installed wheel: {len(list(data.iterdir()))} artifacts ({time.time() - t1:.0f} s)')
        if serve_run:  # one recommendation from a trained run, by the installed wheel's engine
            t2 = time.time()
            out = run([py.parent/'talkwalk', 'recommend', '--run', Path(serve_run).resolve(), '--say', 'something funny', '-k', '3', '--json'], cwd=work, env=env)
            items = json.loads(out.stdout)['items']
            if len(items) != 3: sys.exit(f'wheel-check failed: talkwalk recommend from the installed wheel returned {len(items)} items, not 3')
            print(f'talkwalk recommend --run {serve_run} from the installed wheel: {[r["title"] for r in items]} ({time.time() - t2:.0f} s)')
        print(f'wheel-check passed in {time.time() - t0:.0f} s')
    finally:
        if keep: print(f'kept {tmp}')
        else: shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--keep', action='store_true', help='keep the temporary folder (wheel, venv, run) for a look')
    p.add_argument('--recommend', default=None, help='a trained run folder: also ask the installed wheel for one recommendation from it')
    a = p.parse_args(); main(a.keep, a.recommend)
