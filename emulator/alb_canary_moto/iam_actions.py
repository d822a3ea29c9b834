"""Teaches moto 5.2.5's request authorization two things AWS does for CloudWatch, so that an
instance role's right to put metrics is checked as AWS checks it:

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

from moto.iam import access_control
from moto.iam.access_control import IAMPolicy, PermissionResult

# SigV4 signing names whose IAM service prefix differs.
IAM_PREFIX = {"monitoring": "cloudwatch"}

_applied = False


def iam_action(action: str) -> str:
    """``signing-name:Action`` → ``iam-prefix:Action``."""
    service, sep, name = action.partition(":")
    return f"{IAM_PREFIX.get(service, service)}{sep}{name}"


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

    base.__init__ = __init__  # type: ignore[method-assign]
    base.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
