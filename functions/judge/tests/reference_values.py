"""Independent reference values for the judge's checked cases (`src/evidence/tests.rs`).

Run with any Python that has mpmath (`.venv/bin/python functions/judge/tests/reference_values.py`):
50-digit arithmetic, the maximiser found by bisection on the score, no code shared with the Rust
implementation. The printed values are pinned in the Rust tests to 1e-9.
"""
from mpmath import mp, mpf, log, exp, log1p, loggamma

mp.dps = 50
GRID = 40


def grid(lo, hi):
    a, b = log(lo), log(hi)
    return [exp(a + (b - a) * k / (GRID - 1)) for k in range(GRID)]


NEAR_WEIGHT = mpf("0.5")
NEAR_SPAN = 10


def ln_mixture(lo, hi, ll):
    """ln of the prior-weighted mean of exp(ll): half on GRID points over [lo, hi], half on GRID
    points over [lo, min(NEAR_SPAN lo, hi)]."""
    near = grid(lo, min(NEAR_SPAN * lo, hi))
    return lse([log(1 - NEAR_WEIGHT) - log(GRID) + ll(x) for x in grid(lo, hi)]
               + [log(NEAR_WEIGHT) - log(GRID) + ll(x) for x in near])


def lse(values):
    top = max(values)
    return top + log(sum(exp(v - top) for v in values))


def ell(minutes, r):
    total = mpf(0)
    for n1, e1, n2, e2 in minutes:
        if n1 == 0 or n2 == 0 or e1 + e2 == 0:
            continue
        if r == 0:
            if e2 > 0:
                return -mp.inf
            continue
        theta = n2 * r / (n1 + n2 * r)
        total += (e2 * log(theta) if e2 else 0) + (e1 * log(1 - theta) if e1 else 0)
    return total


def r_hat(minutes):
    used = [m for m in minutes if m[0] and m[2] and m[1] + m[3]]
    e1 = sum(m[1] for m in used)
    e2 = sum(m[3] for m in used)
    if e2 == 0:
        return mpf(0)
    if e1 == 0:
        return mp.inf

    def score(s):
        r = exp(s)
        return sum(m[3] - (m[1] + m[3]) * m[2] * r / (m[0] + m[2] * r) for m in used)

    lo, hi = mpf(-60), mpf(60)
    for _ in range(400):
        mid = (lo + hi) / 2
        if score(mid) > 0:
            lo = mid
        else:
            hi = mid
    return exp((lo + hi) / 2)


def ln_e_rel(minutes, r0=mpf("1.0")):
    used = [m for m in minutes if m[0] and m[2] and m[1] + m[3]]
    if not used:
        return mpf(0)
    null = ell(used, min(r_hat(used), r0))
    return ln_mixture(mpf("1.1") * r0, mpf(200), lambda r: ell(used, r)) - null


def m(events, trials, p):
    return (events * log(p) if events else 0) + ((trials - events) * log1p(-p) if trials > events else 0)


def ln_one_sample(events, trials, p0):
    p_hat = mpf(events) / trials if trials else mpf(0)
    null = m(events, trials, min(p_hat, p0))
    return ln_mixture(mpf("1.1") * p0, mpf("0.5"), lambda p: m(events, trials, p)) - null


def upper_bound(events, trials, level, a=1, b=100):
    ln_mix = (loggamma(a + events) + loggamma(b + trials - events) - loggamma(a + b + trials)) - (
        loggamma(a) + loggamma(b) - loggamma(a + b))
    bound = log(1 / mpf(level))
    lo, hi = mpf(events) / trials, mpf(1)
    for _ in range(300):
        mid = (lo + hi) / 2
        if ln_mix - m(events, trials, mid) < bound:
            lo = mid
        else:
            hi = mid
    return hi


F = mpf("0.001")
CASES = [
    ("stable 9/9000, canary 49/1000", [(9000, 9, 1000, 49)]),
    ("stable 540/9000, canary 60/1000", [(9000, 540, 1000, 60)]),
    ("stable 0/441, canary 49/49", [(441, 0, 49, 49)]),
    ("no errors, stable 0/5400, canary 0/600", [(5400, 0, 600, 0)]),
    ("ten minutes stable 5/5400, canary 1/600", [(5400, 5, 600, 1)] * 10),
]
for name, minutes in CASES:
    e2 = sum(x[3] for x in minutes)
    n2 = sum(x[2] for x in minutes)
    print(f"{name}: ln_e_rel {mp.nstr(ln_e_rel(minutes), 17)} ln_e_abs {mp.nstr(ln_one_sample(e2, n2, F), 17)}")
print("r_hat stable 9/9000 canary 49/1000:", mp.nstr(r_hat([(9000, 9, 1000, 49)]), 17))
print("r_hat two minutes:", mp.nstr(r_hat([(900, 3, 100, 1), (500, 1, 500, 4)]), 17))
print("upper bound stable 0/441 at 0.0025:", mp.nstr(upper_bound(0, 441, mpf("0.0025")), 17))
print("upper bound stable 9/9000 at 0.0025:", mp.nstr(upper_bound(9, 9000, mpf("0.0025")), 17))
print("slow share 600/600 against 0.01:", mp.nstr(ln_one_sample(600, 600, mpf("0.01")), 17))
