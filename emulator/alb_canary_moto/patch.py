"""Teaches moto 5.2.5's CloudWatch the extended statistics of ``stats``.

Three methods are wrapped, everything else is moto's own (storage, bucketing, filtering by
namespace, name, dimensions and unit, serialization):

- ``Statistics.get_statistics_for_type``: a period's extended statistic from its raw values.
- ``CloudWatchBackend.get_metric_data``: every ``MetricStat.Stat`` is checked before any work (an
  unsupported one is a 400 ``InvalidParameterValue``, where moto answered 500), and a period without
  a value for the statistic (see ``stats``) has no datapoint, where moto would serialize a null.
- ``CloudWatchResponse.get_metric_statistics``: ``ExtendedStatistics`` (percentiles only, as the
  API defines it), which moto reads and ignores, computed into each datapoint's
  ``ExtendedStatistics`` map.

How moto stores PutMetricData (and so what the statistics see): ``Value`` is one datum; each of
``Values`` is one datum per count (``Counts`` truncated to whole numbers; 0 drops the value);
``StatisticValues`` is one aggregated datum. GetMetricData's periods start at the query's
StartTime; GetMetricStatistics' at the first datum's timestamp in range.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.cloudwatch import models, responses
from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue

from . import stats

_applied = False


def _distribution(statistics: models.Statistics) -> stats.Distribution | None:
    sets = [
        (s.sample_count, s.sum, s.min, s.max) for s in statistics.metric_aggregated_list
    ]
    return stats.distribution(statistics.metric_single_values_list, sets)


def _extended(statistics: models.Statistics, stat: str) -> float | None:
    return stats.compute(stats.parse(stat), _distribution(statistics))


def _checked(stat: Any, parameter: str) -> None:
    if not isinstance(stat, str):
        raise InvalidParameterValue(f"The parameter {parameter} is required.")
    try:
        stats.check(stat)
    except stats.StatError as err:
        raise InvalidParameterValue(
            f"The value {stat} for parameter {parameter} is not supported: {err}"
        ) from None


# The one namespace `get_all_metrics` returns while set (per thread: moto's server serves
# requests on threads).
_only_namespace = threading.local()


def _by_namespace(queries: list[dict[str, Any]], run: Any) -> list[dict[str, Any]]:
    """moto's ``get_metric_data`` forgets the namespace when a query names dimensions: a query of
    ``AlbCanary/Targets`` returned the ``AWS/ApplicationELB`` data of the same name and dimensions
    too. Each namespace's queries are therefore answered from that namespace's data alone; math
    expressions over queries of several namespaces are refused rather than answered wrong."""
    namespaces = sorted(
        {q["MetricStat"]["Metric"]["Namespace"] for q in queries if "MetricStat" in q}
    )
    if len(namespaces) > 1 and any("Expression" in q for q in queries):
        raise InvalidParameterCombination(
            "alb-canary-moto answers expressions over one namespace's metrics only; this request "
            f"reads {', '.join(namespaces)}"
        )
    if not namespaces:
        return run()
    results: dict[str, dict[str, Any]] = {}
    for namespace in namespaces:
        _only_namespace.value = namespace
        try:
            answered = run()
        finally:
            _only_namespace.value = None
        wanted = {
            q["Id"]
            for q in queries
            if "MetricStat" not in q or q["MetricStat"]["Metric"]["Namespace"] == namespace
        }
        for result in answered:
            if result["id"] in wanted:
                results[result["id"]] = result
    # In the order moto answers them: the queries' own order.
    order = [q["Id"] for q in queries]
    return sorted(results.values(), key=lambda r: order.index(r["id"]) if r["id"] in order else len(order))


def apply() -> None:
    """Patches moto's CloudWatch in this process; idempotent."""
    global _applied
    if _applied:
        return
    _applied = True

    basic_for_type = models.Statistics.get_statistics_for_type

    def get_statistics_for_type(self: models.Statistics, stat: str) -> Any:
        if stat in stats.BASIC:
            return basic_for_type(self, stat)
        return _extended(self, stat)

    models.Statistics.get_statistics_for_type = get_statistics_for_type

    moto_get_metric_data = models.CloudWatchBackend.get_metric_data
    moto_get_all_metrics = models.CloudWatchBackend.get_all_metrics

    def get_all_metrics(self: models.CloudWatchBackend) -> Any:
        metrics = moto_get_all_metrics(self)
        namespace = getattr(_only_namespace, "value", None)
        if namespace is None:
            return metrics
        return [md for md in metrics if md.namespace == namespace]

    models.CloudWatchBackend.get_all_metrics = get_all_metrics

    def get_metric_data(
        self: models.CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: Any,
        end_time: Any,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        for number, query in enumerate(queries, start=1):
            if "MetricStat" in query:
                _checked(
                    query["MetricStat"].get("Stat"),
                    f"MetricDataQueries.member.{number}.MetricStat.Stat",
                )
        results = _by_namespace(
            queries, lambda: moto_get_metric_data(self, queries, start_time, end_time, scan_by)
        )
        for result in results:
            pairs = [
                (value, timestamp)
                for value, timestamp in zip(result["values"], result["timestamps"])
                if value is not None
            ]
            result["values"] = [value for value, _ in pairs]
            result["timestamps"] = [timestamp for _, timestamp in pairs]
        return results

    models.CloudWatchBackend.get_metric_data = get_metric_data

    moto_get_metric_statistics = responses.CloudWatchResponse.get_metric_statistics

    def get_metric_statistics(self: responses.CloudWatchResponse) -> Any:
        extended = self._get_param("ExtendedStatistics") or []
        if not extended:
            return moto_get_metric_statistics(self)
        for number, stat in enumerate(extended, start=1):
            _checked(stat, f"ExtendedStatistics.member.{number}")
            if stat in stats.BASIC or stats.parse(stat).kind != "p":
                raise InvalidParameterValue(
                    f"The value {stat} for parameter ExtendedStatistics.member.{number} is not "
                    "supported: ExtendedStatistics takes percentiles (p0.0 to p100)"
                )
        if len(extended) > 10:
            raise InvalidParameterCombination(
                "The collection ExtendedStatistics must not have a size greater than 10."
            )
        statistics = self._get_param("Statistics", [])
        datapoints = self.cloudwatch_backend.get_metric_statistics(
            self._get_param("Namespace"),
            self._get_param("MetricName"),
            self._get_param("StartTime"),
            self._get_param("EndTime"),
            self._get_int_param("Period"),
            list(statistics) + list(extended),
            unit=self._get_param("Unit"),
            dimensions=self._get_param("Dimensions", []),
        )
        kept = []
        for point in datapoints:
            values = {stat: _extended(point, stat) for stat in extended}
            point.extended_statistics = {k: v for k, v in values.items() if v is not None}
            if statistics or point.extended_statistics:
                kept.append(point)
        result = {"Label": self._get_param("MetricName"), "Datapoints": kept}
        return responses.ActionResult(result)

    responses.CloudWatchResponse.get_metric_statistics = get_metric_statistics
