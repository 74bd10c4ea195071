"""Compare two `scripts/top10_lists.py` outputs: per method, how many (user, request) top-10 lists are identical, and the mean overlap."""
import json, sys
from collections import defaultdict

def compare(a:dict, b:dict) -> dict:
    "Method -> [identical lists, lists, mean |A & B| / 10] over the keys both files hold."
    out = defaultdict(lambda: [0, 0, 0.0])
    for key in sorted(set(a) & set(b)):
        m = key.split('|')[0]; r = out[m]
        r[0] += a[key] == b[key]; r[1] += 1; r[2] += len(set(a[key]) & set(b[key])) / 10
    return {m: [s, n, round(o / n, 4)] for m, (s, n, o) in out.items()}

if __name__ == '__main__':
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
    for m, (same, n, ov) in compare(a, b).items(): print(f'{m}: {same}/{n} identical top-10 lists, mean overlap {ov:.3f}')
