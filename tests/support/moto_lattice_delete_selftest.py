"""Checks moto_launcher.py's VPC Lattice delete extension with boto3.

    .venv/bin/python tests/support/moto_lattice_delete_selftest.py

Starts moto (moto_launcher.py) itself, twice: once with
PAYRUN_MOTO_LATTICE_DELETE_SECONDS unset (the default, 1 second) and once
with it set; prints one line per check and `N passed, M failed` at the end;
exits non-zero on any failure.
"""

import os
import sys
import time
import uuid

import botocore.exceptions

from fault_proxy_selftest import HERE, Process, client, expect

import selftest

ACCOUNT = "123456789012"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}'


def launch(delete_seconds=None):
    saved = os.environ.get("PAYRUN_MOTO_LATTICE_DELETE_SECONDS")
    if delete_seconds is None:
        os.environ.pop("PAYRUN_MOTO_LATTICE_DELETE_SECONDS", None)
    else:
        os.environ["PAYRUN_MOTO_LATTICE_DELETE_SECONDS"] = str(delete_seconds)
    try:
        return Process([os.path.join(HERE, "moto_launcher.py")])
    finally:
        if saved is None:
            os.environ.pop("PAYRUN_MOTO_LATTICE_DELETE_SECONDS", None)
        else:
            os.environ["PAYRUN_MOTO_LATTICE_DELETE_SECONDS"] = saved


def lattice_error(call):
    """(code, HTTP status, resourceId, resourceType) of the ClientError
    `call` raises."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        r = e.response
        return (
            r["Error"]["Code"],
            r["ResponseMetadata"]["HTTPStatusCode"],
            r.get("resourceId"),
            r.get("resourceType"),
        )
    raise AssertionError("the call succeeded")


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_gone(get, deadline=10.0):
    """Seconds until `get` raises ResourceNotFoundException (404); the
    statuses it answered until then."""
    start = time.monotonic()
    seen = []
    while True:
        try:
            seen.append(get()["status"])
        except botocore.exceptions.ClientError as e:
            code = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
            expect(code == ("ResourceNotFoundException", 404), f"gone as {code}")
            return time.monotonic() - start, seen
        if time.monotonic() - start > deadline:
            raise AssertionError(f"still there after {deadline}s: {seen[-1]}")
        time.sleep(0.05)


def main():
    moto = launch()
    url = moto.url
    lattice = client("vpc-lattice", url)
    ec2 = client("ec2", url)
    slow = None

    def vpc():
        return ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]

    def network():
        return lattice.create_service_network(name=name("sn"), authType="NONE")

    def service():
        return lattice.create_service(name=name("svc"), authType="AWS_IAM")

    def target_group(vpc_id):
        return lattice.create_target_group(
            name=name("tg"), type="IP", config={"port": 80, "protocol": "HTTP", "vpcIdentifier": vpc_id}
        )

    def listener(service_id, group_id):
        return lattice.create_listener(
            serviceIdentifier=service_id,
            name=name("l"),
            protocol="HTTP",
            port=80,
            defaultAction={"forward": {"targetGroups": [{"targetGroupIdentifier": group_id, "weight": 100}]}},
        )

    def service_network_is_deleted_at_once():
        sn = network()
        lattice.tag_resource(resourceArn=sn["arn"], tags={"team": "payments"})
        reply = lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])
        expect(reply["ResponseMetadata"]["HTTPStatusCode"] == 204, f"{reply['ResponseMetadata']}")
        code = lattice_error(lambda: lattice.get_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code[:2] == ("ResourceNotFoundException", 404), f"get after delete: {code}")
        code = lattice_error(lambda: lattice.delete_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code == ("ResourceNotFoundException", 404, sn["id"], "SERVICE_NETWORK"), f"again: {code}")
        expect(sn["id"] not in [n["id"] for n in lattice.list_service_networks()["items"]], "not listed")
        expect(lattice.list_tags_for_resource(resourceArn=sn["arn"])["tags"] == {}, "its tags are gone")
        # An ARN names it too.
        sn = network()
        lattice.delete_service_network(serviceNetworkIdentifier=sn["arn"])
        code = lattice_error(lambda: lattice.get_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code[:2] == ("ResourceNotFoundException", 404), f"deleted by ARN: {code}")

    def service_network_with_associations_conflicts():
        sn = network()
        snva = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn["id"], vpcIdentifier=vpc())
        code = lattice_error(lambda: lattice.delete_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code == ("ConflictException", 409, sn["id"], "SERVICE_NETWORK"), f"with a VPC: {code}")
        lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=snva["id"])
        # Still DELETE_IN_PROGRESS: still an association.
        code = lattice_error(lambda: lattice.delete_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code[:2] == ("ConflictException", 409), f"while the VPC leaves: {code}")
        wait_gone(lambda: lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=snva["id"]))
        svc = service()
        snsa = lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"], serviceIdentifier=svc["id"])
        code = lattice_error(lambda: lattice.delete_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code == ("ConflictException", 409, sn["id"], "SERVICE_NETWORK"), f"with a service: {code}")
        lattice.delete_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"])
        wait_gone(lambda: lattice.get_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"]))
        lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])
        code = lattice_error(lambda: lattice.get_service_network(serviceNetworkIdentifier=sn["id"]))
        expect(code[:2] == ("ResourceNotFoundException", 404), f"then deleted: {code}")

    def service_is_deleted_after_a_delay_with_its_parts():
        svc = service()
        tg = target_group(vpc())
        ln = listener(svc["id"], tg["id"])
        lattice.tag_resource(resourceArn=ln["arn"], tags={"team": "payments"})
        lattice.put_auth_policy(resourceIdentifier=svc["id"], policy=POLICY)
        reply = lattice.delete_service(serviceIdentifier=svc["id"])
        expect(reply["ResponseMetadata"]["HTTPStatusCode"] == 200, f"{reply['ResponseMetadata']}")
        expect(
            (reply["id"], reply["arn"], reply["name"], reply["status"]) == (svc["id"], svc["arn"], svc["name"], "DELETE_IN_PROGRESS"),
            f"{reply}",
        )
        expect(lattice.get_service(serviceIdentifier=svc["id"])["status"] == "DELETE_IN_PROGRESS", "get while deleting")
        again = lattice.delete_service(serviceIdentifier=svc["id"])
        expect(again["status"] == "DELETE_IN_PROGRESS", f"a repeated delete: {again}")
        took, seen = wait_gone(lambda: lattice.get_service(serviceIdentifier=svc["id"]))
        expect(set(seen) == {"DELETE_IN_PROGRESS"}, f"{seen}")
        expect(0.5 <= took <= 5, f"default delay about 1s, took {took:.2f}s")
        code = lattice_error(lambda: lattice.delete_service(serviceIdentifier=svc["id"]))
        expect(code == ("ResourceNotFoundException", 404, svc["id"], "SERVICE"), f"again once gone: {code}")
        code = lattice_error(lambda: lattice.get_auth_policy(resourceIdentifier=svc["id"]))
        expect(code[:2] == ("ResourceNotFoundException", 404), f"its auth policy: {code}")
        # Its listener went with it, so the target group is free.
        lattice.delete_target_group(targetGroupIdentifier=tg["id"])
        wait_gone(lambda: lattice.get_target_group(targetGroupIdentifier=tg["id"]))
        expect(lattice.list_tags_for_resource(resourceArn=ln["arn"])["tags"] == {}, "its listener's tags are gone")

    def service_in_a_network_conflicts():
        sn = network()
        svc = service()
        snsa = lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"], serviceIdentifier=svc["id"])
        code = lattice_error(lambda: lattice.delete_service(serviceIdentifier=svc["id"]))
        expect(code == ("ConflictException", 409, svc["id"], "SERVICE"), f"associated: {code}")
        expect(lattice.get_service(serviceIdentifier=svc["id"])["status"] == "ACTIVE", "untouched")
        lattice.delete_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"])
        wait_gone(lambda: lattice.get_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"]))
        expect(lattice.delete_service(serviceIdentifier=svc["id"])["status"] == "DELETE_IN_PROGRESS", "then deleting")

    def target_group_in_use_conflicts_then_deletes_after_a_delay():
        svc = service()
        tg = target_group(vpc())
        ln = listener(svc["id"], tg["id"])
        code = lattice_error(lambda: lattice.delete_target_group(targetGroupIdentifier=tg["id"]))
        expect(code == ("ConflictException", 409, tg["id"], "TARGET_GROUP"), f"forwarded to: {code}")
        lattice.delete_listener(serviceIdentifier=svc["id"], listenerIdentifier=ln["id"])
        reply = lattice.delete_target_group(targetGroupIdentifier=tg["arn"])
        expect((reply["id"], reply["arn"], reply["status"]) == (tg["id"], tg["arn"], "DELETE_IN_PROGRESS"), f"{reply}")
        took, seen = wait_gone(lambda: lattice.get_target_group(targetGroupIdentifier=tg["id"]))
        expect(set(seen) == {"DELETE_IN_PROGRESS"} and 0.5 <= took <= 5, f"{seen} in {took:.2f}s")
        code = lattice_error(lambda: lattice.delete_target_group(targetGroupIdentifier=tg["id"]))
        expect(code == ("ResourceNotFoundException", 404, tg["id"], "TARGET_GROUP"), f"again: {code}")

    def listener_is_deleted_in_its_own_service():
        svc = service()
        other = service()
        tg = target_group(vpc())
        ln = listener(svc["id"], tg["id"])
        code = lattice_error(lambda: lattice.delete_listener(serviceIdentifier=other["id"], listenerIdentifier=ln["id"]))
        expect(code == ("ResourceNotFoundException", 404, ln["id"], "LISTENER"), f"in another service: {code}")
        expect(lattice.get_listener(serviceIdentifier=svc["id"], listenerIdentifier=ln["id"])["id"] == ln["id"], "untouched")
        reply = lattice.delete_listener(serviceIdentifier=svc["id"], listenerIdentifier=ln["id"])
        expect(reply["ResponseMetadata"]["HTTPStatusCode"] == 204, f"{reply['ResponseMetadata']}")
        code = lattice_error(lambda: lattice.get_listener(serviceIdentifier=svc["id"], listenerIdentifier=ln["id"]))
        expect(code[:2] == ("ResourceNotFoundException", 404), f"get after delete: {code}")
        code = lattice_error(lambda: lattice.delete_listener(serviceIdentifier=svc["id"], listenerIdentifier=ln["id"]))
        expect(code == ("ResourceNotFoundException", 404, ln["id"], "LISTENER"), f"again: {code}")
        expect(lattice.list_listeners(serviceIdentifier=svc["id"])["items"] == [], "none listed")

    def associations_are_deleted_after_a_delay():
        sn = network()
        snva = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn["id"], vpcIdentifier=vpc())
        snsa = lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"], serviceIdentifier=service()["id"])
        for delete, get, kind in (
            (
                lambda: lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=snva["id"]),
                lambda: lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=snva["id"]),
                "SERVICE_NETWORK_VPC_ASSOCIATION",
            ),
            (
                lambda: lattice.delete_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"]),
                lambda: lattice.get_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"]),
                "SERVICE_NETWORK_SERVICE_ASSOCIATION",
            ),
        ):
            expect(get()["status"] == "ACTIVE", f"{kind}: before")
            reply = delete()
            expect(reply["status"] == "DELETE_IN_PROGRESS" and reply["arn"].endswith(reply["id"]), f"{kind}: {reply}")
            expect(get()["status"] == "DELETE_IN_PROGRESS", f"{kind}: get while deleting")
            expect(delete()["status"] == "DELETE_IN_PROGRESS", f"{kind}: a repeated delete")
            took, seen = wait_gone(get)
            expect(set(seen) == {"DELETE_IN_PROGRESS"} and 0.5 <= took <= 5, f"{kind}: {seen} in {took:.2f}s")
        code = lattice_error(lambda: lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=snva["id"]))
        expect(code == ("ResourceNotFoundException", 404, snva["id"], "SERVICE_NETWORK_VPC_ASSOCIATION"), f"again: {code}")
        code = lattice_error(lambda: lattice.delete_service_network_service_association(serviceNetworkServiceAssociationIdentifier=snsa["id"]))
        expect(code == ("ResourceNotFoundException", 404, snsa["id"], "SERVICE_NETWORK_SERVICE_ASSOCIATION"), f"again: {code}")
        expect(lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=sn["id"])["items"] == [], "none listed")

    def auth_policy_is_deleted():
        svc = service()
        lattice.put_auth_policy(resourceIdentifier=svc["id"], policy=POLICY)
        reply = lattice.delete_auth_policy(resourceIdentifier=svc["id"])
        expect(reply["ResponseMetadata"]["HTTPStatusCode"] == 204, f"{reply['ResponseMetadata']}")
        code = lattice_error(lambda: lattice.get_auth_policy(resourceIdentifier=svc["id"]))
        expect(code[:2] == ("ResourceNotFoundException", 404), f"get after delete: {code}")
        code = lattice_error(lambda: lattice.delete_auth_policy(resourceIdentifier=svc["id"]))
        expect(code == ("ResourceNotFoundException", 404, svc["id"], "SERVICE"), f"again: {code}")
        expect(lattice.get_service(serviceIdentifier=svc["id"])["status"] == "ACTIVE", "the service stays")

    def unknown_ids_are_not_found():
        unknown = "0123456789abcdef0"
        svc = service()
        for call, ident, kind in (
            (lambda i: lattice.delete_service_network(serviceNetworkIdentifier=i), f"sn-{unknown}", "SERVICE_NETWORK"),
            (lambda i: lattice.delete_service(serviceIdentifier=i), f"svc-{unknown}", "SERVICE"),
            (lambda i: lattice.delete_target_group(targetGroupIdentifier=i), f"tg-{unknown}", "TARGET_GROUP"),
            (lambda i: lattice.delete_listener(serviceIdentifier=svc["id"], listenerIdentifier=i), f"listener-{unknown}", "LISTENER"),
            (lambda i: lattice.delete_listener(serviceIdentifier=i, listenerIdentifier=f"listener-{unknown}"), f"svc-{unknown}", "SERVICE"),
            (
                lambda i: lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=i),
                f"snva-{unknown}",
                "SERVICE_NETWORK_VPC_ASSOCIATION",
            ),
            (
                lambda i: lattice.delete_service_network_service_association(serviceNetworkServiceAssociationIdentifier=i),
                f"snsa-{unknown}",
                "SERVICE_NETWORK_SERVICE_ASSOCIATION",
            ),
            (lambda i: lattice.delete_auth_policy(resourceIdentifier=i), f"svc-{unknown}", "SERVICE"),
        ):
            code = lattice_error(lambda: call(ident))
            expect(code == ("ResourceNotFoundException", 404, ident, kind), f"{ident}: {code}")
        arn = f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:service/svc-{unknown}"
        code = lattice_error(lambda: lattice.delete_service(serviceIdentifier=arn))
        expect(code == ("ResourceNotFoundException", 404, f"svc-{unknown}", "SERVICE"), f"by ARN: {code}")

    def configured_delay():
        nonlocal slow
        slow = launch(delete_seconds=2.5)
        slow_lattice = client("vpc-lattice", slow.url)
        svc = slow_lattice.create_service(name=name("svc"))
        slow_lattice.delete_service(serviceIdentifier=svc["id"])
        time.sleep(1.5)
        status = slow_lattice.get_service(serviceIdentifier=svc["id"])["status"]
        expect(status == "DELETE_IN_PROGRESS", f"at 1.5s: {status}")
        took, _ = wait_gone(lambda: slow_lattice.get_service(serviceIdentifier=svc["id"]))
        expect(0.5 <= took <= 3, f"gone about 1s later, took {took:.2f}s")

    checks = [
        service_network_is_deleted_at_once,
        service_network_with_associations_conflicts,
        service_is_deleted_after_a_delay_with_its_parts,
        service_in_a_network_conflicts,
        target_group_in_use_conflicts_then_deletes_after_a_delay,
        listener_is_deleted_in_its_own_service,
        associations_are_deleted_after_a_delay,
        auth_policy_is_deleted,
        unknown_ids_are_not_found,
        configured_delay,
    ]
    selftest.run(checks, moto, slow)


if __name__ == "__main__":
    main()
