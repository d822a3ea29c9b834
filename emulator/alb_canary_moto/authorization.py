"""Teaches moto 5.2.5's request authentication and authorization three things AWS does, so that
the tests can leave signatures and policies checked throughout:

- **A body-less request's signature.** moto recomputes a signature over the request's body, and
  when the body is empty it signs the parsed query string as if it were a form body instead: every
  signed GET of a REST service with a query string (Scheduler's ``GetSchedule?groupName=…``) was
  refused with ``SignatureDoesNotMatch``. A ``GET``, ``HEAD`` or ``DELETE`` without a body is now
  checked as it was signed, with an empty payload (the query string stays in the URL, where it
  was signed).
- **A form ``POST``'s signature.** moto no longer has a Query-protocol request's bytes by the
  time it checks them: it re-encodes the parsed form as botocore would (``+`` for a space), while
  aws-sdk-rust sent RFC 3986's encoding (``%20``). Every signed form holding a space, such as an
  SNS ``Publish`` of a sentence, was refused. When moto's re-encoding does not match, the form is
  encoded the RFC 3986 way and checked again; a wrong key fails both.

CloudWatch's, so that an instance role's right to put metrics is checked as AWS checks it:

- **The action's service prefix.** moto names the action after the SigV4 credential scope's
  service, which for CloudWatch is its signing name ``monitoring``: a call was authorized as
  ``monitoring:PutMetricData``, which no policy grants, and every role allowed
  ``cloudwatch:PutMetricData`` was refused. The action's prefix is now the IAM one.
- **The ``cloudwatch:namespace`` condition key.** moto evaluates an identity policy's conditions
  with no request values at all, and a condition with nothing to compare passes: a role allowed
  only ``AlbCanary/Targets`` could put into any namespace. A PutMetricData now carries its
  ``Namespace`` as that key, so a put into another namespace is refused.

Everything else (signature, key, session token, the other condition keys) stays moto's own,
including one way it differs from AWS: an Allow statement whose condition fails counts as a deny in
moto, where AWS only leaves it out (another statement could still allow the call).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from moto.iam import access_control
from moto.iam.access_control import IAMPolicy, PermissionResult

# Methods whose requests the SDKs send without a body.
BODYLESS_METHODS = ("GET", "HEAD", "DELETE")

# SigV4 signing names whose IAM service prefix differs.
IAM_PREFIX = {"monitoring": "cloudwatch"}

_applied = False


def iam_action(action: str) -> str:
    """``signing-name:Action`` → ``iam-prefix:Action``."""
    service, sep, name = action.partition(":")
    return f"{IAM_PREFIX.get(service, service)}{sep}{name}"


def rfc3986_form(data: dict[str, Any]) -> str:
    """A parsed form (name → values, in the order received) encoded as aws-sdk-rust encodes a
    Query request: every byte but RFC 3986's unreserved characters percent-encoded."""
    parts = []
    for name, values in data.items():
        for value in values if isinstance(values, list) else [values]:
            parts.append(f"{quote(str(name), safe='-_.~')}={quote(str(value), safe='-_.~')}")
    return "&".join(parts)


def condition_values(action: str, data: Any) -> dict[str, str]:
    """The request's values of the condition keys this module knows, for ``action``."""
    values: dict[str, str] = {}
    if action == "cloudwatch:PutMetricData" and isinstance(data, dict):
        namespace = data.get("Namespace")
        if isinstance(namespace, list):
            namespace = namespace[0] if namespace else None
        if isinstance(namespace, str):
            values["cloudwatch:namespace"] = namespace
    return values


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    base = access_control.IAMRequestBase
    original_init = base.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._action = iam_action(self._action)

    def check_action_permitted(self: Any, resource: str) -> None:
        # moto's own loop over the caller's policies, with the request's condition values.
        if self._action == "sts:GetCallerIdentity":
            return
        values = condition_values(self._action, self._data) or None
        permitted = False
        for policy in self._access_key.collect_policies():
            result = IAMPolicy(policy).is_action_permitted(
                self._action, resource, incoming_condition_values=values
            )
            if result == PermissionResult.DENIED:
                self._raise_access_denied()
            elif result == PermissionResult.PERMITTED:
                permitted = True
        if self._is_assuming_role_operation(resource):
            permitted = permitted and self._check_role_trust_relationship(resource)
        if not permitted:
            self._raise_access_denied()

    original_request = base._create_aws_request

    def _create_aws_request(self: Any) -> Any:
        if not self._body and self._method in BODYLESS_METHODS:
            # moto's own construction, with the payload that was signed: none.
            data, self._data = self._data, {}
            try:
                return original_request(self)
            finally:
                self._data = data
        return original_request(self)

    original_check = base.check_signature

    def check_signature(self: Any) -> None:
        try:
            original_check(self)
        except Exception:
            if self._body or self._method in BODYLESS_METHODS or not isinstance(self._data, dict):
                raise
            received, self._body = self._body, rfc3986_form(self._data)
            try:
                original_check(self)
            finally:
                self._body = received

    base.__init__ = __init__  # type: ignore[method-assign]
    base.check_signature = check_signature  # type: ignore[method-assign]
    base._create_aws_request = _create_aws_request  # type: ignore[method-assign]
    base.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
