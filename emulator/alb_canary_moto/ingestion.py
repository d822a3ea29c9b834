"""CloudWatch's ingestion delay, for chosen namespaces: a datum is stored when it is put (the call
succeeds at once, as on AWS) but is visible to GetMetricData, GetMetricStatistics and ListMetrics
only some seconds later. CloudWatch publishes no such delay; the lab rehearses one so that alarms on
high-resolution metrics are judged on what they would see, not on data that arrives instantly.

Configured by the server's environment, read once at start:

- ``ALB_CANARY_INGESTION_DELAY``: ``NAMESPACE=LOW-HIGH`` entries separated by ``;``, in seconds
  (e.g. ``AlbCanary/Targets=2-8``). Each PutMetricData call into a listed namespace gets one delay,
  drawn uniformly from its range. Unset or empty: no delay anywhere (moto's own behaviour).
- ``ALB_CANARY_INGESTION_SEED``: an integer seed for the draws (default 0), so a run is reproducible.

A malformed setting stops the server at start with a message naming it.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from moto.cloudwatch import models

DELAY_VAR = "ALB_CANARY_INGESTION_DELAY"
SEED_VAR = "ALB_CANARY_INGESTION_SEED"

_applied = False


def parse(text: str) -> dict[str, tuple[float, float]]:
    """``NS=LOW-HIGH;...`` → {namespace: (low, high)}; raises ValueError naming the bad entry."""
    ranges: dict[str, tuple[float, float]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        namespace, sep, span = entry.rpartition("=")
        low, dash, high = span.partition("-")
        try:
            bounds = (float(low), float(high))
        except ValueError:
            bounds = None
        if not sep or not namespace or not dash or bounds is None:
            raise ValueError(f"{DELAY_VAR}: `{entry}` is not NAMESPACE=LOW-HIGH (seconds)")
        if not 0 <= bounds[0] <= bounds[1] <= 900:
            raise ValueError(f"{DELAY_VAR}: `{entry}` needs 0 <= LOW <= HIGH <= 900")
        ranges[namespace] = bounds
    return ranges


def apply(environ: dict[str, str] | None = None) -> None:
    """Patches moto's CloudWatch in this process when a delay is configured; idempotent."""
    global _applied
    if _applied:
        return
    _applied = True
    environ = dict(os.environ) if environ is None else environ
    ranges = parse(environ.get(DELAY_VAR, ""))
    if not ranges:
        return
    draws = random.Random(int(environ.get(SEED_VAR, "0")))

    moto_put = models.CloudWatchBackend.put_metric_data

    def put_metric_data(
        self: models.CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]
    ) -> None:
        before = len(self.metric_data)
        moto_put(self, namespace, metric_data)
        if namespace in ranges:
            low, high = ranges[namespace]
            visible_at = time.time() + draws.uniform(low, high)
            for datum in self.metric_data[before:]:
                datum.alb_canary_visible_at = visible_at

    models.CloudWatchBackend.put_metric_data = put_metric_data

    moto_all = models.CloudWatchBackend.get_all_metrics

    def get_all_metrics(self: models.CloudWatchBackend) -> list[Any]:
        now = time.time()
        return [
            datum
            for datum in moto_all(self)
            if getattr(datum, "alb_canary_visible_at", 0.0) <= now
        ]

    models.CloudWatchBackend.get_all_metrics = get_all_metrics
