"""Teaches moto 5.2.5's DynamoDB the idempotency of ``TransactWriteItems``.

AWS applies a transaction once per ``ClientRequestToken`` for ten minutes: the same token with the
same items answers success again without writing, the same token with other items is refused with
``IdempotentParameterMismatchException``. The SDKs fill the token in and keep it across their
retries, so a transaction whose answer was lost is retried safely. moto ignores the token and
applies the retry as a new transaction, whose conditions then fail: a conflict AWS would not
raise. The controller's fault exploration depends on AWS's behaviour here, so the emulator has it.

Tokens are remembered per account and region, in this process, for ``WINDOW_SECONDS``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from moto.dynamodb import responses
from moto.dynamodb.exceptions import DynamodbException

# How long AWS remembers a client request token.
WINDOW_SECONDS = 600.0

_applied = False


class IdempotentParameterMismatch(DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            IdempotentParameterMismatch.error_type,
            message="The request uses the same client token as a previous, but non-identical "
            "request. Do not reuse a client token with different requests, unless the requests "
            "are identical.",
        )


class Tokens:
    """The tokens seen within the window: key → (when, digest of the request's items)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def claim(self, key: tuple[str, str, str], digest: str) -> bool:
        """True the first time ``key`` is seen in the window (the caller applies the request);
        False for a repeat of the same request (already applied); raises for other items."""
        now = self._clock()
        with self._lock:
            for old in [k for k, (at, _) in self._seen.items() if now - at >= WINDOW_SECONDS]:
                del self._seen[old]
            prior = self._seen.get(key)
            if prior is not None:
                if prior[1] != digest:
                    raise IdempotentParameterMismatch()
                return False
            self._seen[key] = (now, digest)
            return True

    def forget(self, key: tuple[str, str, str]) -> None:
        """A request that failed was not applied: its retry must be applied."""
        with self._lock:
            self._seen.pop(key, None)


def digest(items: Any) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()


def apply() -> None:
    """Patches moto's DynamoDB in this process; idempotent."""
    global _applied
    if _applied:
        return
    _applied = True
    tokens = Tokens()
    moto_transact = responses.DynamoHandler.transact_write_items

    def transact_write_items(self: responses.DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return moto_transact(self)
        key = (self.current_account, self.region, token)
        if not tokens.claim(key, digest(self.body.get("TransactItems"))):
            return responses.ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        try:
            return moto_transact(self)
        except Exception:
            tokens.forget(key)
            raise

    responses.DynamoHandler.transact_write_items = transact_write_items
