"""alb-canary's extension of moto's CloudWatch: percentile (``p99``), percentile rank (``PR(:T)``)
and trimmed statistics over the raw values PutMetricData stored (see ``stats`` for the exact
definitions, ``patch`` for what is changed in moto, ``server`` for the launcher)."""

__version__ = "0.1.0"
