"""Our judge and two published sequential tests on the same seeded canaries.

Reads the canaries `simulation bench-judge --export FILE` wrote (`cargo xtask bench-peers` runs
it): each an error cell's periods under a fixed schedule (the canary's percent, the stable version's requests and errors,
the canary's requests and errors, and the closed period at which our judge first rolled back). Runs on
each, period by period, over the periods
our controller would have judged:

- savvi 0.3.1 (Lindon & Malek, NeurIPS 2022): `InhomogeneousPoissonProcess` on the errors' arms,
  assignment probabilities the step's weights, one test per step with their odds multiplied (a
  product of e-processes over consecutive steps is one); no test at 100 %, where stable serves nothing.
- expectation 0.6.1 (Turner, Ly & Grünwald 2022): `KSampleSequentialTest`, k = 2, on every
  request's outcome; periods where a version served nothing are skipped (it refuses empty groups).

Both test equal rates (two-sided); a rejection counts as a rollback only while the canary's observed rate
is above the stable version's. Every test at the exported alpha. Prints a Markdown table: per cell, rolled back /
median closed periods at rollback. Fails (exit 1) when a canary's data are inconsistent.

Usage: compare.py FILE
"""
import json
import statistics
import sys
from collections import OrderedDict

import warnings

import numpy as np
from expectation.ksample.config import KSampleConfig
from expectation.ksample.ksample_test import KSampleSequentialTest
from savvi.multinomial import InhomogeneousPoissonProcess


def savvi_rollback(periods, alpha):
    """First closed period (1-based) at which savvi rejects with canary worse, or None."""
    carried, test, step_percent = 1.0, None, None
    e = [0, 0]
    n = [0, 0]
    for i, (percent, n1, e1, n2, e2) in enumerate(periods, start=1):
        e[0] += e1; e[1] += e2; n[0] += n1; n[1] += n2
        if percent >= 100:
            continue
        if percent != step_percent:
            if test is not None:
                carried *= test.odds
            rho = np.array([(100 - percent) / 100, percent / 100])
            test = InhomogeneousPoissonProcess(alpha, rho, np.array([[-1, 1]]))
            step_percent = percent
        test.update(np.array([e1, e2], dtype=np.int64))
        worse = n[1] > 0 and n[0] > 0 and e[1] / n[1] > e[0] / n[0]
        if worse and carried * test.odds >= 1 / alpha:
            return i
    return None


def expectation_rollback(periods, alpha):
    """First closed period (1-based) at which expectation rejects with canary worse, or None."""
    test = KSampleSequentialTest(KSampleConfig(k=2, significance_level=alpha))
    totals = [0, 0, 0, 0]
    for i, (_, n1, e1, n2, e2) in enumerate(periods, start=1):
        if n1 == 0 or n2 == 0:
            continue
        totals = [totals[0] + n1, totals[1] + e1, totals[2] + n2, totals[3] + e2]
        worse = totals[3] / totals[2] > totals[1] / totals[0]
        stable = np.zeros(n1, dtype=np.int8); stable[:e1] = 1
        canary = np.zeros(n2, dtype=np.int8); canary[:e2] = 1
        try:
            result = test.update({0: stable, 1: canary})
        except ValueError as err:
            # Its e-process refuses an infinite e-value (e.g. every canary request failing against
            # none of the stable version's): evidence beyond any threshold.
            if "Infinite e-value" in str(err):
                return i if worse else None
            raise
        if result.reject_null and worse:
            return i
    return None


def summary(stops):
    caught = [s for s in stops if s is not None]
    share = 100 * len(caught) / len(stops)
    median = statistics.median(caught) if caught else None
    return f"{share:.1f} % / {'–' if median is None else f'{median:g}'}"


def main(path):
    # Both libraries overflow exp() on overwhelming evidence and carry on with inf, correctly.
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    cells = OrderedDict()
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            c = json.loads(line)
            periods = c["periods"][: c["judged"]]
            if any(len(p) != 5 or p[2] > p[1] or p[4] > p[3] for p in periods):
                sys.exit(f"{path}:{number}: a period is not [percent, n1, e1, n2, e2] with e <= n")
            key = (c["cell"], c["rps"])
            row = cells.setdefault(key, {"ours": [], "savvi": [], "expectation": []})
            row["ours"].append(c["ours"])
            row["savvi"].append(savvi_rollback(periods, c["alpha"]))
            row["expectation"].append(expectation_rollback(periods, c["alpha"]))
    if not cells:
        sys.exit(f"{path}: no canaries")
    n = len(next(iter(cells.values()))["ours"])
    print(f"{n} canaries per cell; rolled back / median closed periods at rollback")
    print()
    print("| cell | rps | ours | savvi 0.3.1 | expectation 0.6.1 |")
    print("|---|---|---|---|---|")
    for (cell, rps), row in cells.items():
        print(f"| {cell} | {rps:g} | {summary(row['ours'])} | {summary(row['savvi'])} | "
              f"{summary(row['expectation'])} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
