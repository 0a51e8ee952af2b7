"""Checks moto_cloudcontrol.py, the Cloud Control front of moto, with boto3.

    .venv/bin/python tests/support/moto_cloudcontrol_selftest.py

Imports moto_launcher.py (which installs the front) and runs moto's
ThreadedMotoServer in this process, so a check can change
PAYRUN_MOTO_CC_SECONDS (read at each write) as it goes; one check starts
the launcher as a script, as tests/support/moto.rs does, to show the front
is installed that way too. Prints one line per check (and what it saw) and
`N passed, M failed` at the end; exits non-zero on any failure.
"""

import json
import logging
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import moto_launcher  # noqa: E402,F401  (importing it installs the Cloud Control front)
from moto.server import ThreadedMotoServer  # noqa: E402

from fault_proxy_selftest import Process, client, error_code, expect  # noqa: E402

import selftest  # noqa: E402

CC_SECONDS = "PAYRUN_MOTO_CC_SECONDS"
ACCOUNT = "123456789012"


def say(text):
    print(f"     {text}", flush=True)


def settle(cc, event, deadline=5.0):
    """The request's final event, polled every 50 ms."""
    start = time.monotonic()
    while event["OperationStatus"] in ("PENDING", "IN_PROGRESS"):
        if time.monotonic() - start > deadline:
            raise AssertionError(f"request {event['RequestToken']} still {event['OperationStatus']}")
        time.sleep(0.05)
        event = cc.get_resource_request_status(RequestToken=event["RequestToken"])["ProgressEvent"]
    return event


def create(cc, type_name, desired, **extra):
    started = cc.create_resource(TypeName=type_name, DesiredState=json.dumps(desired), **extra)["ProgressEvent"]
    expect(started["OperationStatus"] == "IN_PROGRESS", f"CreateResource answered {started['OperationStatus']}")
    done = settle(cc, started)
    expect(done["OperationStatus"] == "SUCCESS", f"create of {type_name} {done}")
    return done


def update(cc, type_name, identifier, patch):
    started = cc.update_resource(TypeName=type_name, Identifier=identifier, PatchDocument=json.dumps(patch))[
        "ProgressEvent"
    ]
    expect(started["Operation"] == "UPDATE" and started["OperationStatus"] == "IN_PROGRESS", f"{started}")
    return settle(cc, started)


def delete(cc, type_name, identifier):
    started = cc.delete_resource(TypeName=type_name, Identifier=identifier)["ProgressEvent"]
    expect(started["Operation"] == "DELETE" and started["OperationStatus"] == "IN_PROGRESS", f"{started}")
    return settle(cc, started)


def properties(cc, type_name, identifier):
    described = cc.get_resource(TypeName=type_name, Identifier=identifier)["ResourceDescription"]
    expect(described["Identifier"] == identifier, f"{described['Identifier']} != {identifier}")
    return json.loads(described["Properties"])


def main():
    os.environ.pop(CC_SECONDS, None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    cc = client("cloudcontrol", url)
    sqs = client("sqs", url)
    dynamodb = client("dynamodb", url)
    sns = client("sns", url)
    script = None
    queue = {}

    def sqs_queue_with_dead_letter_queue():
        dlq = create(cc, "AWS::SQS::Queue", {"QueueName": "cc-dlq"})
        dlq_arn = json.loads(dlq["ResourceModel"])["Arn"]
        expect(dlq["Identifier"] == f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/cc-dlq", dlq["Identifier"])
        desired = {
            "QueueName": "cc-main",
            "VisibilityTimeout": 45,
            "MessageRetentionPeriod": 86400,
            "RedrivePolicy": {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4},
            "Tags": [{"Key": "team", "Value": "payments"}],
        }
        started = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=json.dumps(desired))["ProgressEvent"]
        expect(started["OperationStatus"] == "IN_PROGRESS", f"{started}")
        expect(json.loads(started["ResourceModel"]) == desired, "IN_PROGRESS carries the desired state")
        done = settle(cc, started)
        expect(done["OperationStatus"] == "SUCCESS", f"{done}")
        say(f"CREATE {started['OperationStatus']} -> {done['OperationStatus']}, identifier {done['Identifier']}")
        queue["url"], queue["request"] = done["Identifier"], started["RequestToken"]
        queue["desired"] = desired
        native = sqs.get_queue_attributes(QueueUrl=done["Identifier"], AttributeNames=["All"])["Attributes"]
        expect(native["VisibilityTimeout"] == "45" and native["MessageRetentionPeriod"] == "86400", f"{native}")
        redrive = json.loads(native["RedrivePolicy"])
        expect(redrive == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}, f"{native}")
        expect(sqs.list_queue_tags(QueueUrl=done["Identifier"])["Tags"] == {"team": "payments"}, "SQS sees the tags")
        say("SQS's own GetQueueAttributes and ListQueueTags see the queue, its DLQ and tags")
        model = properties(cc, "AWS::SQS::Queue", done["Identifier"])
        expect(model["RedrivePolicy"] == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}, "an object")
        expect(model["Arn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:cc-main", f"{model}")
        expect(model["VisibilityTimeout"] == 45, f"{model}")

    def native_change_shows_then_patched_back():
        sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "99"})
        model = properties(cc, "AWS::SQS::Queue", queue["url"])
        expect(model["VisibilityTimeout"] == 99, f"GetResource says {model['VisibilityTimeout']}")
        say("VisibilityTimeout set to 99 through SQS: GetResource reads 99")
        done = update(
            cc,
            "AWS::SQS::Queue",
            queue["url"],
            [
                {"op": "replace", "path": "/VisibilityTimeout", "value": 45},
                {"op": "add", "path": "/Tags/-", "value": {"Key": "tier", "Value": "1"}},
            ],
        )
        expect(done["OperationStatus"] == "SUCCESS", f"{done}")
        expect(json.loads(done["ResourceModel"])["VisibilityTimeout"] == 45, "the SUCCESS event's model")
        native = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["VisibilityTimeout"])["Attributes"]
        expect(native["VisibilityTimeout"] == "45", f"{native}")
        tags = sqs.list_queue_tags(QueueUrl=queue["url"])["Tags"]
        expect(tags == {"team": "payments", "tier": "1"}, f"{tags}")
        say("UpdateResource replace /VisibilityTimeout 45, add /Tags/-: SQS sees 45 and both tags")

    def create_only_and_read_only_refused():
        code = error_code(
            lambda: cc.update_resource(
                TypeName="AWS::SQS::Queue",
                Identifier=queue["url"],
                PatchDocument=json.dumps([{"op": "replace", "path": "/QueueName", "value": "renamed"}]),
            )
        )
        expect(code == ("NotUpdatableException", 400), f"QueueName: {code}")
        code = error_code(
            lambda: cc.update_resource(
                TypeName="AWS::SQS::Queue",
                Identifier=queue["url"],
                PatchDocument=json.dumps([{"op": "replace", "path": "/Arn", "value": "arn:aws:sqs:x"}]),
            )
        )
        expect(code == ("InvalidRequestException", 400), f"Arn: {code}")
        code = error_code(
            lambda: cc.update_resource(
                TypeName="AWS::SQS::Queue",
                Identifier=queue["url"],
                PatchDocument=json.dumps([{"op": "test", "path": "/VisibilityTimeout", "value": 1}]),
            )
        )
        expect(code == ("InvalidRequestException", 400), f"failed test op: {code}")
        expect(properties(cc, "AWS::SQS::Queue", queue["url"])["QueueName"] == "cc-main", "untouched")
        say("patch of /QueueName: NotUpdatableException; of /Arn, or a failing test: InvalidRequestException")

    def client_token_is_idempotent():
        token = str(uuid.uuid4())
        desired = json.dumps({"QueueName": "cc-once", "DelaySeconds": 5})
        first = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=desired, ClientToken=token)["ProgressEvent"]
        again = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=desired, ClientToken=token)["ProgressEvent"]
        expect(again["RequestToken"] == first["RequestToken"], "the same request")
        done = settle(cc, first)
        later = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=desired, ClientToken=token)["ProgressEvent"]
        expect(
            (later["RequestToken"], later["OperationStatus"]) == (first["RequestToken"], "SUCCESS"),
            f"after it finished: {later}",
        )
        urls = sqs.list_queues(QueueNamePrefix="cc-once").get("QueueUrls", [])
        expect(len(urls) == 1, f"{urls}")
        code = error_code(
            lambda: cc.create_resource(
                TypeName="AWS::SQS::Queue", DesiredState=json.dumps({"QueueName": "cc-twice"}), ClientToken=token
            )
        )
        expect(code == ("ClientTokenConflictException", 400), f"{code}")
        expect(not sqs.list_queues(QueueNamePrefix="cc-twice").get("QueueUrls"), "no second queue")
        say(f"same token, same body: request {first['RequestToken'][:8]} thrice, one queue; other body: conflict")
        expect(done["OperationStatus"] == "SUCCESS", f"{done}")

    def taken_name_fails_the_request():
        started = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=json.dumps({"QueueName": "cc-dlq"}))[
            "ProgressEvent"
        ]
        expect(started["OperationStatus"] == "IN_PROGRESS", f"{started}")
        done = settle(cc, started)
        expect(
            (done["OperationStatus"], done.get("ErrorCode")) == ("FAILED", "AlreadyExists"),
            f"{done}",
        )
        say(f"a queue name already taken: FAILED {done['ErrorCode']} ({done['StatusMessage']})")

    def delete_then_delete_again():
        done = create(cc, "AWS::SQS::Queue", {"QueueName": "cc-gone"})
        url_ = done["Identifier"]
        gone = delete(cc, "AWS::SQS::Queue", url_)
        expect(gone["OperationStatus"] == "SUCCESS", f"{gone}")
        code = error_code(lambda: sqs.get_queue_url(QueueName="cc-gone"))
        expect(code[0] == "AWS.SimpleQueueService.NonExistentQueue", f"SQS: {code}")
        again = delete(cc, "AWS::SQS::Queue", url_)
        expect((again["OperationStatus"], again.get("ErrorCode")) == ("FAILED", "NotFound"), f"{again}")
        code = error_code(lambda: cc.get_resource(TypeName="AWS::SQS::Queue", Identifier=url_))
        expect(code == ("ResourceNotFoundException", 400), f"GetResource: {code}")
        code = error_code(
            lambda: cc.update_resource(TypeName="AWS::SQS::Queue", Identifier=url_, PatchDocument="[]")
        )
        expect(code == ("ResourceNotFoundException", 400), f"UpdateResource: {code}")
        say("delete: SUCCESS, gone from SQS; again: FAILED NotFound; Get/Update: ResourceNotFoundException")

    def dynamodb_table_with_pitr():
        desired = {
            "TableName": "cc-ledger",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "Tags": [{"Key": "team", "Value": "ledger"}],
        }
        done = create(cc, "AWS::DynamoDB::Table", desired)
        expect(done["Identifier"] == "cc-ledger", done["Identifier"])
        backups = dynamodb.describe_continuous_backups(TableName="cc-ledger")["ContinuousBackupsDescription"]
        expect(backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", f"{backups}")
        table = dynamodb.describe_table(TableName="cc-ledger")["Table"]
        expect(table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", f"{table}")
        expect(table.get("SSEDescription", {}).get("Status") == "ENABLED", f"{table.get('SSEDescription')}")
        model = properties(cc, "AWS::DynamoDB::Table", "cc-ledger")
        expect(model["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, f"{model}")
        expect(model["SSESpecification"] == {"SSEEnabled": True}, f"{model['SSESpecification']}")
        expect(model["Arn"] == table["TableArn"] and model["Tags"] == desired["Tags"], f"{model}")
        say("table created with PITR and SSE: DescribeContinuousBackups ENABLED, DescribeTable SSE ENABLED")
        done = update(
            cc,
            "AWS::DynamoDB::Table",
            "cc-ledger",
            [{"op": "replace", "path": "/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled", "value": False}],
        )
        expect(done["OperationStatus"] == "SUCCESS", f"{done}")
        backups = dynamodb.describe_continuous_backups(TableName="cc-ledger")["ContinuousBackupsDescription"]
        expect(backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED", f"{backups}")
        dynamodb.update_continuous_backups(
            TableName="cc-ledger", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        expect(
            properties(cc, "AWS::DynamoDB::Table", "cc-ledger")["PointInTimeRecoverySpecification"][
                "PointInTimeRecoveryEnabled"
            ]
            is True,
            "PITR turned on through DynamoDB reads back on",
        )
        say("patch turned PITR off (DynamoDB sees DISABLED); DynamoDB turned it on (GetResource sees it)")
        expect(delete(cc, "AWS::DynamoDB::Table", "cc-ledger")["OperationStatus"] == "SUCCESS", "deleted")
        expect("cc-ledger" not in dynamodb.list_tables()["TableNames"], "gone from DynamoDB")

    def wafv2_web_acl_kept_by_the_front():
        desired = {
            "Name": "cc-acl",
            "Scope": "REGIONAL",
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": True,
                "CloudWatchMetricsEnabled": True,
                "MetricName": "cc-acl",
            },
            "Tags": [{"Key": "team", "Value": "edge"}],
        }
        done = create(cc, "AWS::WAFv2::WebACL", desired)
        name, acl_id, scope = done["Identifier"].split("|")
        expect((name, scope) == ("cc-acl", "REGIONAL") and len(acl_id) == 36, done["Identifier"])
        model = properties(cc, "AWS::WAFv2::WebACL", done["Identifier"])
        expect(model["Id"] == acl_id and model["Arn"].startswith("arn:aws:wafv2:us-east-1:"), f"{model}")
        expect(model["Capacity"] == 0 and {k: model[k] for k in desired} == desired, f"{model}")
        say(f"WebACL identifier Name|Id|Scope = {done['Identifier']}, Arn {model['Arn']}")
        code = error_code(lambda: cc.list_resources(TypeName="AWS::WAFv2::WebACL"))
        expect(code == ("InvalidRequestException", 400), f"list without Scope: {code}")
        listed = cc.list_resources(TypeName="AWS::WAFv2::WebACL", ResourceModel=json.dumps({"Scope": "REGIONAL"}))
        expect([d["Identifier"] for d in listed["ResourceDescriptions"]] == [done["Identifier"]], f"{listed}")
        rule = {
            "Name": "block-bad",
            "Priority": 0,
            "Action": {"Block": {}},
            "Statement": {"IPSetReferenceStatement": {"Arn": "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/x/y"}},
            "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "r"},
        }
        done_update = update(
            cc, "AWS::WAFv2::WebACL", done["Identifier"], [{"op": "add", "path": "/Rules", "value": [rule]}]
        )
        expect(done_update["OperationStatus"] == "SUCCESS", f"{done_update}")
        expect(properties(cc, "AWS::WAFv2::WebACL", done["Identifier"])["Rules"] == [rule], "rules added")
        code = error_code(
            lambda: cc.update_resource(
                TypeName="AWS::WAFv2::WebACL",
                Identifier=done["Identifier"],
                PatchDocument=json.dumps([{"op": "replace", "path": "/Scope", "value": "CLOUDFRONT"}]),
            )
        )
        expect(code == ("NotUpdatableException", 400), f"Scope: {code}")
        alb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"
        association = create(cc, "AWS::WAFv2::WebACLAssociation", {"ResourceArn": alb, "WebACLArn": model["Arn"]})
        expect(association["Identifier"] == f"{alb}|{model['Arn']}", association["Identifier"])
        code = error_code(lambda: cc.list_resources(TypeName="AWS::WAFv2::WebACLAssociation"))
        expect(code == ("UnsupportedActionException", 400), f"no list handler: {code}")
        gone = delete(cc, "AWS::WAFv2::WebACLAssociation", association["Identifier"])
        expect(gone["OperationStatus"] == "SUCCESS", f"{gone}")
        expect(delete(cc, "AWS::WAFv2::WebACL", done["Identifier"])["OperationStatus"] == "SUCCESS", "deleted")
        say("list needs Scope; patch /Rules ok, /Scope NotUpdatable; association ResourceArn|WebACLArn")

    def schema_validation():
        cases = [
            ("AWS::SQS::Queue", {"QueueName": "x", "Colour": "red"}, "extraneous key [Colour]"),
            ("AWS::SQS::Queue", {"VisibilityTimeout": "30"}, "#/VisibilityTimeout: expected type: Integer"),
            ("AWS::WAFv2::WebACL", {"Name": "n", "DefaultAction": {"Allow": {}}}, "required key [Scope] not found"),
            ("AWS::SQS::Queue", ["not", "an", "object"], "expected type: JSONObject"),
        ]
        for type_name, desired, needle in cases:
            try:
                cc.create_resource(TypeName=type_name, DesiredState=json.dumps(desired))
                raise AssertionError(f"{desired} was accepted")
            except cc.exceptions.InvalidRequestException as e:
                expect(needle in e.response["Error"]["Message"], e.response["Error"]["Message"])
        code = error_code(lambda: cc.create_resource(TypeName="AWS::Nope::Thing", DesiredState="{}"))
        expect(code == ("TypeNotFoundException", 400), f"{code}")
        say("extraneous key, wrong type, missing required key, not an object: InvalidRequestException")

    def sns_topic_and_subscription():
        topic = create(
            cc,
            "AWS::SNS::Topic",
            {"TopicName": "cc-events", "DisplayName": "Events", "Tags": [{"Key": "a", "Value": "1"}]},
        )
        arn = topic["Identifier"]
        expect(arn == f"arn:aws:sns:us-east-1:{ACCOUNT}:cc-events", arn)
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        expect(attributes["DisplayName"] == "Events", f"{attributes}")
        expect(sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}], "SNS sees the tags")
        queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:cc-dlq"
        sub = create(
            cc,
            "AWS::SNS::Subscription",
            {
                "TopicArn": arn,
                "Protocol": "sqs",
                "Endpoint": queue_arn,
                "RawMessageDelivery": True,
                "FilterPolicy": {"kind": ["payment"]},
            },
        )
        native = sns.get_subscription_attributes(SubscriptionArn=sub["Identifier"])["Attributes"]
        expect(native["RawMessageDelivery"] == "true", f"{native}")
        expect(json.loads(native["FilterPolicy"]) == {"kind": ["payment"]}, f"{native}")
        model = properties(cc, "AWS::SNS::Topic", arn)
        expect(model["Subscription"] == [{"Endpoint": queue_arn, "Protocol": "sqs"}], f"{model}")
        sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Renamed")
        expect(properties(cc, "AWS::SNS::Topic", arn)["DisplayName"] == "Renamed", "SNS's change reads back")
        done = update(
            cc,
            "AWS::SNS::Subscription",
            sub["Identifier"],
            [{"op": "replace", "path": "/RawMessageDelivery", "value": False}],
        )
        expect(done["OperationStatus"] == "SUCCESS", f"{done}")
        native = sns.get_subscription_attributes(SubscriptionArn=sub["Identifier"])["Attributes"]
        expect(native["RawMessageDelivery"] == "false", f"{native}")
        expect(delete(cc, "AWS::SNS::Subscription", sub["Identifier"])["OperationStatus"] == "SUCCESS", "")
        expect(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == [], "unsubscribed")
        expect(delete(cc, "AWS::SNS::Topic", arn)["OperationStatus"] == "SUCCESS", "")
        say("topic and sqs subscription made in SNS; SNS's DisplayName change reads back; both deleted")

    def list_resource_requests_finds_the_create():
        summaries = []
        kwargs = {"ResourceRequestStatusFilter": {"Operations": ["CREATE"]}, "MaxResults": 5}
        while True:
            page = cc.list_resource_requests(**kwargs)
            summaries += page["ResourceRequestStatusSummaries"]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        expect(all(s["Operation"] == "CREATE" for s in summaries), "only creates")
        times = [s["EventTime"] for s in summaries]
        expect(times == sorted(times, reverse=True), "newest first")
        mine = [s for s in summaries if s["RequestToken"] == queue["request"]]
        expect(len(mine) == 1, f"{len(mine)} summaries of the queue's create")
        expect(json.loads(mine[0]["ResourceModel"]) == queue["desired"], f"{mine[0]}")
        expect(mine[0]["Identifier"] == queue["url"] and mine[0]["OperationStatus"] == "SUCCESS", f"{mine[0]}")
        failed = cc.list_resource_requests(ResourceRequestStatusFilter={"OperationStatuses": ["FAILED"]})
        kinds = {(s["Operation"], s["ErrorCode"]) for s in failed["ResourceRequestStatusSummaries"]}
        expect({("CREATE", "AlreadyExists"), ("DELETE", "NotFound")} <= kinds, f"{kinds}")
        say(f"{len(summaries)} creates in pages of 5, newest first; cc-main's with the desired state it was sent")

    def configured_delay_and_concurrency():
        os.environ[CC_SECONDS] = "1.5"
        try:
            start = time.monotonic()
            started = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=json.dumps({"QueueName": "cc-slow"}))[
                "ProgressEvent"
            ]
            expect(started["Identifier"].endswith("/cc-slow"), "the identifier is known at once")
            expect(sqs.get_queue_url(QueueName="cc-slow")["QueueUrl"], "the queue exists at once")
            time.sleep(0.5)
            now = cc.get_resource_request_status(RequestToken=started["RequestToken"])["ProgressEvent"]
            expect(now["OperationStatus"] == "IN_PROGRESS", f"at 0.5s: {now['OperationStatus']}")
            code = error_code(
                lambda: cc.delete_resource(TypeName="AWS::SQS::Queue", Identifier=started["Identifier"])
            )
            expect(code == ("ConcurrentOperationException", 400), f"delete while creating: {code}")
            done = settle(cc, now)
            took = time.monotonic() - start
            expect(done["OperationStatus"] == "SUCCESS", f"{done}")
            expect(1.4 <= took <= 3, f"about 1.5s in all, took {took:.2f}s")
            os.environ[CC_SECONDS] = "0"
            gone = cc.delete_resource(TypeName="AWS::SQS::Queue", Identifier=started["Identifier"])["ProgressEvent"]
            expect(gone["OperationStatus"] == "IN_PROGRESS", "a write answers IN_PROGRESS even at 0")
            expect(
                cc.get_resource_request_status(RequestToken=gone["RequestToken"])["ProgressEvent"]["OperationStatus"]
                == "SUCCESS",
                "then SUCCESS at once",
            )
        finally:
            os.environ.pop(CC_SECONDS, None)
        say("PAYRUN_MOTO_CC_SECONDS=1.5: IN_PROGRESS at 0.5s, delete meanwhile ConcurrentOperation, then SUCCESS")

    def default_delay():
        started = cc.create_resource(TypeName="AWS::SQS::Queue", DesiredState=json.dumps({"QueueName": "cc-quick"}))[
            "ProgressEvent"
        ]
        start = time.monotonic()
        done = settle(cc, started)
        took = time.monotonic() - start
        expect(done["OperationStatus"] == "SUCCESS" and 0.1 <= took <= 1.5, f"took {took:.2f}s")
        say(f"default delay: SUCCESS after {took:.2f}s")

    def the_launcher_script_installs_it():
        nonlocal script
        script = Process([os.path.join(HERE, "moto_launcher.py")])
        other = client("cloudcontrol", script.url)
        started = other.create_resource(
            TypeName="AWS::GuardDuty::Detector", DesiredState=json.dumps({"Enable": True})
        )["ProgressEvent"]
        done = settle(other, started)
        expect(done["OperationStatus"] == "SUCCESS" and len(done["Identifier"]) == 36, f"{done}")
        say(f"moto_launcher.py run as a script serves Cloud Control (detector {done['Identifier']})")

    checks = [
        sqs_queue_with_dead_letter_queue,
        native_change_shows_then_patched_back,
        create_only_and_read_only_refused,
        client_token_is_idempotent,
        taken_name_fails_the_request,
        delete_then_delete_again,
        dynamodb_table_with_pitr,
        wafv2_web_acl_kept_by_the_front,
        schema_validation,
        sns_topic_and_subscription,
        list_resource_requests_finds_the_create,
        configured_delay_and_concurrency,
        default_delay,
        the_launcher_script_installs_it,
    ]

    class Servers:
        """Stops the in-process server and the launcher, for selftest.run."""

        def stop(self):
            server.stop()
            if script is not None:
                script.stop()

    selftest.run(checks, Servers())


if __name__ == "__main__":
    main()
