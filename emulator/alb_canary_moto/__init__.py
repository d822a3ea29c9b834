"""alb-canary's extension of moto's CloudWatch: percentile (``p99``), percentile rank (``PR(:T)``)
and trimmed statistics over the raw values PutMetricData stored (see ``stats`` for the exact
definitions, ``patch`` for what is changed in moto's CloudWatch); DynamoDB's ``TransactWriteItems``
applied once per client request token, as AWS does (``idempotency``); ``server`` is the launcher."""

__version__ = "0.1.0"
