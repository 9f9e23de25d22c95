"""Benchmark: the reproduction number R_t (Cori et al. 2013, as EpiEstim) over a long daily series.

    .venv/bin/python benchmarks/rt.py [--days 1000] [--runs 20] [--seed 1]

A synthetic daily incidence of --days days (Poisson counts around a few waves, seeded) goes through
`shouwang.reports.rt.estimate_rt` with default weekly sliding windows (--days − 7 of them), once with a parametric
serial interval (mean 4.7, sd 2.9: discretised with EpiEstim's discr_si over all --days days) and once with a
given discrete distribution (Flu2009's, from shouwang/reports/tests/reference/). Each is run --runs times after one
warm-up call; the best run counts. The import of scipy is not timed.

The promise, checked at the end (exit 1 when missed): the slower of the two under 50 ms for 1,000 days. The last
line is `rt: <ms> ms for <days> days (target < 50 ms)`.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shouwang.reports.rt import estimate_rt  # noqa: E402

TARGET_MS = 50.0
SI_CSV = ROOT / "shouwang" / "reports" / "tests" / "reference" / "Flu2009_si_distr.csv"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    t = np.arange(args.days)
    incidence = rng.poisson(50 * np.exp(3 * np.sin(t / 60))).astype(float)
    with open(SI_CSV, newline="") as f:
        si_distr = [float(row["prob"]) for row in csv.DictReader(f)]

    cases = {
        "parametric SI (mean 4.7, sd 2.9)": {"mean_si": 4.7, "std_si": 2.9},
        "given SI distribution (Flu2009)": {"si_distr": si_distr},
    }
    print(f"{args.days} days, {int(incidence.sum()):,} cases, best of {args.runs} runs")
    worst_best = 0.0
    for label, kwargs in cases.items():
        estimate = estimate_rt(incidence, **kwargs)  # warm-up
        timings = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            estimate = estimate_rt(incidence, **kwargs)
            timings.append((time.perf_counter() - t0) * 1000)
        best = min(timings)
        worst_best = max(worst_best, best)
        estimated = sum(w.mean is not None for w in estimate.windows)
        print(
            f"  {label:<34} best {best:6.2f} ms  median {float(np.median(timings)):6.2f} ms  "
            f"{len(estimate.windows)} windows, {estimated} estimated"
        )
    print(f"rt: {worst_best:.1f} ms for {args.days} days (target < {TARGET_MS:.0f} ms)")
    if worst_best >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
