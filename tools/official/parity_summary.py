#!/usr/bin/env python3
"""The table of the parity study (tools/official/parity.sh): reads OUT/<impl>-<arm>-s<seed>.eval.txt
(esvit's eval-knn, eval-linear --mode fast and eval-correspondence output) and prints, per
implementation and arm, each measure's mean ± sample s.d. over the seeds, the paired difference
L_V + L_R − L_V per implementation, and whether parity holds: esvit's mean within 2 pooled s.d.
(or 0.5 points, whichever is larger) of the official mean, and the paired differences of the
same sign (or both within their spread of zero). Standard library only.

Usage: python3 tools/official/parity_summary.py OUT
"""
import glob
import os
import re
import statistics
import sys

MEASURES = [("k-NN", r"k-NN \(k = 20, T = 0.07\): ([\d.]+)%"),
            ("linear", r"linear probe \(fast mode\): best val top-1 ([\d.]+)%"),
            ("corresp.", r"correspondence: accuracy ([\d.]+)%")]


def read(out):
    """{(impl, arm): {seed: [values per measure]}} and the random-init row."""
    runs, base = {}, None
    for path in sorted(glob.glob(os.path.join(out, "*.eval.txt"))):
        text = open(path).read()
        values = [float(m.group(1)) if (m := re.search(p, text)) else None for _, p in MEASURES]
        name = os.path.basename(path)[:-len(".eval.txt")]
        if name == "random-init":
            base = values
            continue
        m = re.fullmatch(r"(\w+)-(\w+)-s(\d+)", name)
        if m and None not in values:
            runs.setdefault((m.group(1), m.group(2)), {})[int(m.group(3))] = values
    return runs, base


def spread(xs):
    return statistics.stdev(xs) if len(xs) > 1 else float("nan")


def cell(xs):
    return f"{statistics.mean(xs):.2f} ± {spread(xs):.2f} (n={len(xs)})" if xs else "—"


def main(out):
    runs, base = read(out)
    print("| implementation, arm | " + " | ".join(n for n, _ in MEASURES) + " |")
    print("|---|" + "---|" * len(MEASURES))
    if base:
        print("| random initialisation | " + " | ".join(f"{v:.2f}" for v in base) + " |")
    for key in sorted(runs):
        print(f"| {key[0]}, {key[1]} | " + " | ".join(cell([v[i] for v in runs[key].values()]) for i in range(len(MEASURES))) + " |")
    print()
    diffs = {}
    for impl in sorted({k[0] for k in runs}):
        a, b = runs.get((impl, "LVLR"), {}), runs.get((impl, "LV"), {})
        seeds = sorted(set(a) & set(b))
        diffs[impl] = [[a[s][i] - b[s][i] for s in seeds] for i in range(len(MEASURES))]
        print(f"{impl}: L_V + L_R − L_V, paired over seeds {seeds}: "
              + "; ".join(f"{n} {cell(d)}" for (n, _), d in zip(MEASURES, diffs[impl])))
    if {"esvit", "official"} <= set(diffs):
        print()
        for arm in ("LVLR", "LV"):
            e, o = runs.get(("esvit", arm), {}), runs.get(("official", arm), {})
            for i, (n, _) in enumerate(MEASURES):
                xe, xo = [v[i] for v in e.values()], [v[i] for v in o.values()]
                if len(xe) < 2 or len(xo) < 2:
                    print(f"parity {arm} {n}: needs two seeds or more of each")
                    continue
                pooled = ((spread(xe) ** 2 + spread(xo) ** 2) / 2) ** 0.5
                gap, limit = statistics.mean(xe) - statistics.mean(xo), max(2 * pooled, 0.5)
                print(f"parity {arm} {n}: esvit − official {gap:+.2f}, limit {limit:.2f}: {'holds' if abs(gap) <= limit else 'does not hold'}")
        for i, (n, _) in enumerate(MEASURES):
            de, do = diffs["esvit"][i], diffs["official"][i]
            if len(de) < 2 or len(do) < 2:
                continue
            zero = [abs(statistics.mean(d)) <= spread(d) for d in (de, do)]
            same = (statistics.mean(de) > 0) == (statistics.mean(do) > 0)
            print(f"region effect {n}: esvit {statistics.mean(de):+.2f}, official {statistics.mean(do):+.2f}: "
                  + ("signs agree" if same else "both within their spread of zero" if all(zero) else "signs differ"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
