"""``alb-canary-moto``: moto's own server, with the CloudWatch, DynamoDB and IAM-authorization
extensions applied first (and CloudWatch's ingestion delay, when ``ALB_CANARY_INGESTION_DELAY``
configures one).

Takes exactly moto_server's arguments (``alb-canary-moto -H 127.0.0.1 -p PORT``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from . import authorization, idempotency, ingestion, patch

    patch.apply()
    idempotency.apply()
    authorization.apply()
    try:
        ingestion.apply()
    except ValueError as err:
        sys.exit(f"alb-canary-moto: {err}")

    from moto import server

    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
