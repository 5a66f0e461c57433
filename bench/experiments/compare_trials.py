"""Paired comparison of validation trials: ``compare_trials.py BASE CAND [CAND ...] [--seeds 0,1,2]``.

BASE and each CAND are label stems in ``bench/results/trials.jsonl``; a stem's seed-s row is
``{stem}_s{s}``. For each candidate it prints the seeds both have, both means, the mean paired
difference and on how many seeds the candidate is ahead (ties counted apart), plus trial seconds.
"""
import argparse
import json
from pathlib import Path
from statistics import mean


def rows() -> dict[str, dict]:
    out = {}
    for line in Path("bench/results/trials.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if "final_val_acc" in row:
                out[row["label"]] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("cands", nargs="+")
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8")
    args = ap.parse_args()
    table = rows()
    seeds = [int(s) for s in args.seeds.split(",")]
    for cand in args.cands:
        both = [s for s in seeds if f"{args.base}_s{s}" in table and f"{cand}_s{s}" in table]
        if not both:
            print(f"{cand}: no seeds in common with {args.base}")
            continue
        b = [100 * table[f"{args.base}_s{s}"]["final_val_acc"] for s in both]
        c = [100 * table[f"{cand}_s{s}"]["final_val_acc"] for s in both]
        d = [y - x for x, y in zip(b, c)]
        secs = [table[f"{cand}_s{s}"]["train_s"] for s in both]
        print(f"{cand:28s} seeds {','.join(map(str, both)):12s} base {mean(b):.3f} cand {mean(c):.3f} "
              f"diff {mean(d):+.3f} ahead {sum(x > 0 for x in d)} tied {sum(x == 0 for x in d)} "
              f"of {len(d)}  per seed " + " ".join(f"{x:.2f}" for x in c) + f"  s {mean(secs):.0f}")


if __name__ == "__main__":
    main()
