"""CloudWatch's extended statistics over one period's raw values, exactly.

Definitions followed: the CloudWatch user guide, "CloudWatch statistics definitions", and the
GetMetricStatistics / PutMetricData API reference.

- ``pNN`` / ``pNN.NN`` (0 to 100, at most two decimals): the percentile. AWS defines p95 as the
  value that 95 percent of the period's data is at or below. We take the nearest rank of the
  weighted sample: with N values in all, the smallest stored value v such that at least NN % of
  the N values are <= v (``p0`` is the minimum, ``p100`` the maximum). No interpolation between
  values: the answer is always a value that was put, every ``Counts`` entry weighs as that many
  values, and it agrees with ``PR``: ``PR(:pNN) >= NN`` always holds. (CloudWatch itself keeps an
  approximate histogram, so on real AWS a percentile can differ from any value put by its bucket
  error.)
- ``PR(n:m)``, ``PR(:m)``, ``PR(n:)``: the percentile rank, the percentage of values v with
  n < v <= m ("exclusive on the lower bound and inclusive on the upper bound"); bounds are values,
  not percentages.
- ``TM(a:b)``, ``TC(a:b)``, ``TS(a:b)`` and the short forms ``tmNN``, ``tcNN``, ``tsNN`` (=
  ``TM(:NN%)``...), ``IQM`` (= ``TM(25%:75%)``): trimmed mean, count and sum. A bound is a value
  (``TM(150:1000)`` keeps 150 < v <= 1000, as ``PR``) or a percentage of the data
  (``TM(2%:98%)`` drops the lowest 2 % and the highest 2 % of the values). A percentage that falls
  inside a run of equal values keeps that fraction of it, so ``TC`` can be fractional, as AWS
  documents ("an interpolated approximation").

Edge cases: an empty period has no datapoint; a period holding a negative value has none of these
statistics ("Percentile statistics are not available for metrics when any of the metric values are
negative numbers"); a statistic set (``StatisticValues``) counts as SampleCount copies of its value
when SampleCount is 1 or Minimum == Maximum, and any other statistic set in the period means no
extended statistic for it (AWS: "CloudWatch needs raw data points to calculate percentile
statistics"). ``TM`` of an empty trimmed range has no datapoint; ``TC`` and ``TS`` are 0 there.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

# What moto computes itself.
BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

SUPPORTED = (
    "SampleCount, Average, Sum, Minimum, Maximum, pNN or pNN.NN (p0 to p100), "
    "PR(n:m) / PR(:m) / PR(n:), TM(a:b) / TC(a:b) / TS(a:b) with values or percentages "
    "(a% / b%), tmNN, tcNN, tsNN, IQM"
)

_NUMBER = r"\d+(?:\.\d+)?"
_PERCENTILE = re.compile(r"p(\d{1,3}(?:\.\d{1,2})?)")
_RANGE = re.compile(rf"(PR|TM|TC|TS)\(({_NUMBER}%?)?:({_NUMBER}%?)?\)")
_SHORT = re.compile(r"(tm|tc|ts)(\d{1,3}(?:\.\d{1,2})?)")


class StatError(ValueError):
    """A statistic string this emulator does not compute; the message says why."""


@dataclass(frozen=True)
class Bound:
    """One end of a range: a metric value, or a percentage of the period's values.

    A value is compared as the double its text parses to, as the values put were: ``PR(:0.1)``
    counts a value put as 0.1.
    """

    number: Fraction
    percent: bool

    @property
    def value(self) -> float:
        return float(self.number)


@dataclass(frozen=True)
class Stat:
    """A parsed extended statistic."""

    kind: str  # "p", "PR", "TM", "TC" or "TS"
    percentile: Fraction | None = None
    lower: Bound | None = None
    upper: Bound | None = None


def _percentage(text: str, stat: str) -> Fraction:
    value = Fraction(text)
    if value > 100:
        raise StatError(f"{stat}: a percentage must be between 0 and 100")
    return value


def _bound(text: str | None, stat: str) -> Bound | None:
    if text is None:
        return None
    if text.endswith("%"):
        return Bound(_percentage(text[:-1], stat), True)
    return Bound(Fraction(float(text)), False)


def parse(stat: str) -> Stat:
    """Parses an extended statistic (not one of ``BASIC``); raises ``StatError``."""
    if m := _PERCENTILE.fullmatch(stat):
        return Stat("p", percentile=_percentage(m.group(1), stat))
    if stat == "IQM":
        return Stat("TM", lower=Bound(Fraction(25), True), upper=Bound(Fraction(75), True))
    if m := _SHORT.fullmatch(stat):
        return Stat(m.group(1).upper(), upper=Bound(_percentage(m.group(2), stat), True))
    if m := _RANGE.fullmatch(stat):
        kind = m.group(1)
        lower, upper = _bound(m.group(2), stat), _bound(m.group(3), stat)
        if lower is None and upper is None:
            raise StatError(f"{stat}: give at least one bound")
        if kind == "PR" and any(b is not None and b.percent for b in (lower, upper)):
            raise StatError(f"{stat}: percentile rank bounds are values, not percentages")
        if (
            lower is not None
            and upper is not None
            and lower.percent == upper.percent
            and lower.number >= upper.number
        ):
            raise StatError(f"{stat}: the lower bound must be below the upper bound")
        return Stat(kind, lower=lower, upper=upper)
    raise StatError(f"{stat!r} is not a statistic this emulator computes (supported: {SUPPORTED})")


def check(stat: str) -> None:
    """Raises ``StatError`` unless ``stat`` is a basic statistic or one ``parse`` accepts."""
    if stat not in BASIC:
        parse(stat)


class Distribution:
    """A period's values, each with its weight (how many times it occurred), sorted."""

    def __init__(self, weighted: Iterable[tuple[float, Fraction]]):
        merged: dict[float, Fraction] = {}
        for value, weight in weighted:
            if weight > 0:
                merged[value] = merged.get(value, Fraction(0)) + weight
        self.entries = sorted(merged.items())
        self.total = sum((w for _, w in self.entries), Fraction(0))

    def at_or_below(self, value: float) -> Fraction:
        """How many values are <= ``value``."""
        return sum((w for v, w in self.entries if v <= value), Fraction(0))

    def percentile(self, q: Fraction) -> float:
        if q == 0:
            return self.entries[0][0]
        target = q * self.total / 100
        seen = Fraction(0)
        for value, weight in self.entries:
            seen += weight
            if seen >= target:
                return value
        return self.entries[-1][0]

    def position(self, bound: Bound | None, default: Fraction) -> Fraction:
        """Where ``bound`` falls in the sorted values, counted in values from the lowest."""
        if bound is None:
            return default
        if bound.percent:
            return bound.number * self.total / 100
        return self.at_or_below(bound.value)

    def trimmed(self, lower: Bound | None, upper: Bound | None) -> tuple[Fraction, Fraction]:
        """(count, sum) of the values between the two positions; partial runs count partly."""
        start = self.position(lower, Fraction(0))
        end = self.position(upper, self.total)
        count = max(end - start, Fraction(0))
        total = Fraction(0)
        seen = Fraction(0)
        for value, weight in self.entries:
            overlap = min(end, seen + weight) - max(start, seen)
            if overlap > 0:
                total += overlap * Fraction(value)
            seen += weight
        return count, total


def compute(stat: Stat, dist: Distribution | None) -> float | None:
    """The statistic's value, or None when the period has no datapoint for it."""
    if dist is None or dist.total == 0:
        return None
    if stat.kind == "p":
        assert stat.percentile is not None
        return float(dist.percentile(stat.percentile))
    if stat.kind == "PR":
        below_upper = dist.position(stat.upper, dist.total)
        below_lower = dist.position(stat.lower, Fraction(0))
        return float(100 * max(below_upper - below_lower, Fraction(0)) / dist.total)
    count, total = dist.trimmed(stat.lower, stat.upper)
    if stat.kind == "TC":
        return float(count)
    if stat.kind == "TS":
        return float(total)
    return float(total / count) if count > 0 else None


def distribution(
    single_values: Iterable[float],
    statistic_sets: Iterable[tuple[float, float, float, float]],
) -> Distribution | None:
    """The period's distribution, or None when AWS computes no extended statistic for it.

    ``statistic_sets`` are (SampleCount, Sum, Minimum, Maximum).
    """
    weighted: list[tuple[float, Fraction]] = [(float(v), Fraction(1)) for v in single_values]
    for sample_count, total, minimum, maximum in statistic_sets:
        if sample_count == 0:
            continue
        if minimum == maximum:
            weighted.append((float(minimum), Fraction(sample_count)))
        elif sample_count == 1:
            weighted.append((float(total), Fraction(1)))
        else:
            return None
    if any(v < 0 or math.isinf(v) for v, _ in weighted):
        return None
    return Distribution(weighted)
