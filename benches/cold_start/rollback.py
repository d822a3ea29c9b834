"""The rollback in Python with boto3, for `cargo xtask bench-lambda`'s cold-start comparison.

It makes the AWS calls the Rust rollback function makes when an alarm rolls a running canary back
(state read, listener read, write and verify, the state and history transaction, the
notification, the schedule disabled, the listener confirmed), against the same moto server and
the same settings, and it runs the way a Lambda runtime runs a function: the imports and clients
at start, then `next` / `response` on the runtime API (AWS_LAMBDA_RUNTIME_API). It is a
measuring stick, not a second implementation: it skips the decisions' edge cases.
"""

import json
import os
import time
import urllib.request

import boto3

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
ENV = os.environ
LISTENER = ENV["CANARY_LISTENER_ARN"]
STABLE = ENV["CANARY_STABLE_TARGET_GROUP_ARN"]
CANARY = ENV["CANARY_CANARY_TARGET_GROUP_ARN"]
TABLE = ENV["CANARY_STATE_TABLE"]
KEY = {"pk": {"S": LISTENER}, "sk": {"S": "STATE"}}

ELBV2 = boto3.client("elbv2")
DYNAMODB = boto3.client("dynamodb")
SNS = boto3.client("sns")
SCHEDULER = boto3.client("scheduler")


def weights():
    listener = ELBV2.describe_listeners(ListenerArns=[LISTENER])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: g.get("Weight", 0) for g in groups}


def handle(event):
    alarm = event["alarmData"]["alarmName"]
    if alarm not in ENV["CANARY_ROLLBACK_ALARMS"].split(","):
        raise ValueError(f"alarm {alarm} is not a rollback alarm")
    now = int(time.time())
    DYNAMODB.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
    before = weights()
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": STABLE, "Weight": 100},
                {"TargetGroupArn": CANARY, "Weight": 0},
            ],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }
    ELBV2.modify_listener(ListenerArn=LISTENER, DefaultActions=[forward])
    if weights().get(CANARY, 0) != 0:
        raise RuntimeError("the listener did not take canary = 0")
    DYNAMODB.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
    reason = f"alarm {alarm} entered ALARM"
    record = {"function": "rollback", "at": now, "alarm": alarm, "weights_before": before,
              "decision": {"decision": "roll_back", "reason": reason}}
    DYNAMODB.transact_write_items(TransactItems=[
        {"Update": {
            "TableName": TABLE, "Key": KEY,
            "UpdateExpression": "SET #s = :rb, #r = :reason, updated_at = :now ADD #v :one",
            "ExpressionAttributeNames": {"#s": "status", "#r": "reason", "#v": "version"},
            "ExpressionAttributeValues": {":rb": {"S": "rolled_back"}, ":reason": {"S": reason},
                                          ":now": {"N": str(now)}, ":one": {"N": "1"}},
        }},
        {"Put": {"TableName": TABLE, "Item": {
            "pk": {"S": LISTENER}, "sk": {"S": f"HISTORY#{now * 1000:013}#py"},
            "decision": {"S": "roll_back"}, "record": {"S": json.dumps(record)},
        }}},
    ])
    SNS.publish(TopicArn=ENV["CANARY_TOPIC_ARN"], Subject="Canary rolled back",
                Message=json.dumps(record))
    group = ENV.get("CANARY_SCHEDULE_GROUP", "default")
    schedule = SCHEDULER.get_schedule(Name=ENV["CANARY_SCHEDULE_NAME"], GroupName=group)
    SCHEDULER.update_schedule(Name=schedule["Name"], GroupName=group,
                              ScheduleExpression=schedule["ScheduleExpression"],
                              FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
                              Target=schedule["Target"], State="DISABLED")
    if weights().get(CANARY, 0) != 0:
        raise RuntimeError("canary has traffic again")
    return {"outcome": "rolled_back", "reason": reason}


def main():
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(answer.read())
        try:
            path, body = "response", handle(event)
        except Exception as err:  # the runtime API's contract: every failure is reported
            path, body = "error", {"errorMessage": str(err), "errorType": type(err).__name__}
        post = urllib.request.Request(f"{API}/invocation/{request_id}/{path}",
                                      data=json.dumps(body).encode(), method="POST")
        urllib.request.urlopen(post).read()


if __name__ == "__main__":
    main()
