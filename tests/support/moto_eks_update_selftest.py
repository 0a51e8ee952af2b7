"""Checks moto_launcher.py's EKS UpdateClusterVersion extension with boto3.

    .venv/bin/python tests/support/moto_eks_update_selftest.py

Starts moto (moto_launcher.py) itself, twice: once with
PAYRUN_MOTO_EKS_UPDATE_SECONDS unset (the default, 1 second) and once with
it set; prints one line per check and `N passed, M failed` at the end; exits
non-zero on any failure. One check puts fault_proxy.py in front, to show
that a lost UpdateClusterVersion reply is answered again for the same
clientRequestToken.
"""

import os
import sys
import time
import uuid

import botocore.exceptions

from fault_proxy_selftest import HERE, Process, Proxy, client, error_code, expect

import selftest

ROLE = "arn:aws:iam::123456789012:role/eks-cluster"


def launch(update_seconds=None):
    saved = os.environ.get("PAYRUN_MOTO_EKS_UPDATE_SECONDS")
    if update_seconds is None:
        os.environ.pop("PAYRUN_MOTO_EKS_UPDATE_SECONDS", None)
    else:
        os.environ["PAYRUN_MOTO_EKS_UPDATE_SECONDS"] = str(update_seconds)
    try:
        return Process([os.path.join(HERE, "moto_launcher.py")])
    finally:
        if saved is None:
            os.environ.pop("PAYRUN_MOTO_EKS_UPDATE_SECONDS", None)
        else:
            os.environ["PAYRUN_MOTO_EKS_UPDATE_SECONDS"] = saved


def new_cluster(url, version="1.28"):
    ec2 = client("ec2", url)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    name = f"c-{uuid.uuid4().hex[:8]}"
    cluster = client("eks", url).create_cluster(
        name=name, version=version, roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets}
    )["cluster"]
    expect(cluster["version"] == version and cluster["status"] == "ACTIVE", f"{cluster}")
    return name


def wait_until(eks, name, update_id, deadline=10.0):
    """(seconds it took, the final update) once it is not InProgress."""
    start = time.monotonic()
    while True:
        update = eks.describe_update(name=name, updateId=update_id)["update"]
        if update["status"] != "InProgress":
            return time.monotonic() - start, update
        if time.monotonic() - start > deadline:
            raise AssertionError(f"update {update_id} still InProgress after {deadline}s")
        time.sleep(0.05)


def main():
    moto = launch()
    eks = client("eks", moto.url)
    slow = None

    def update_one_minor():
        name = new_cluster(moto.url)
        token = str(uuid.uuid4())
        update = eks.update_cluster_version(name=name, version="1.29", clientRequestToken=token)["update"]
        expect(update["status"] == "InProgress" and update["type"] == "VersionUpdate", f"{update}")
        expect(
            update["params"] == [{"type": "Version", "value": "1.29"}, {"type": "PlatformVersion", "value": "eks.1"}],
            f"params {update['params']}",
        )
        expect(update["errors"] == [] and update["createdAt"] is not None, f"{update}")
        cluster = eks.describe_cluster(name=name)["cluster"]
        expect((cluster["status"], cluster["version"]) == ("UPDATING", "1.28"), f"{cluster['status']} {cluster['version']}")
        # The same token answers the same update; another is refused.
        again = eks.update_cluster_version(name=name, version="1.29", clientRequestToken=token)["update"]
        expect(again["id"] == update["id"], "idempotent by clientRequestToken")
        code = error_code(lambda: eks.update_cluster_version(name=name, version="1.29"))
        expect(code == ("ResourceInUseException", 409), f"while in progress: {code}")
        took, done = wait_until(eks, name, update["id"])
        expect(done["status"] == "Successful", f"{done}")
        expect(0.5 <= took <= 5, f"default delay about 1s, took {took:.2f}s")
        cluster = eks.describe_cluster(name=name)["cluster"]
        expect(
            (cluster["status"], cluster["version"], cluster["platformVersion"]) == ("ACTIVE", "1.29", "eks.1"),
            f"{cluster['status']} {cluster['version']} {cluster['platformVersion']}",
        )
        # A skip of two minors and a downgrade are refused, the cluster untouched.
        code = error_code(lambda: eks.update_cluster_version(name=name, version="1.31"))
        expect(code == ("InvalidParameterException", 400), f"1.29 -> 1.31: {code}")
        code = error_code(lambda: eks.update_cluster_version(name=name, version="1.28"))
        expect(code == ("InvalidParameterException", 400), f"1.29 -> 1.28: {code}")
        code = error_code(lambda: eks.update_cluster_version(name=name, version="1.29"))
        expect(code == ("InvalidParameterException", 400), f"1.29 -> 1.29: {code}")
        cluster = eks.describe_cluster(name=name)["cluster"]
        expect((cluster["status"], cluster["version"]) == ("ACTIVE", "1.29"), "untouched")
        # And the next minor goes through.
        update = eks.update_cluster_version(name=name, version="1.30")["update"]
        expect(wait_until(eks, name, update["id"])[1]["status"] == "Successful", "1.29 -> 1.30")
        expect(eks.describe_cluster(name=name)["cluster"]["version"] == "1.30", "at 1.30")

    def errors_of_unknowns():
        code = error_code(lambda: eks.update_cluster_version(name="no-such-cluster", version="1.29"))
        expect(code == ("ResourceNotFoundException", 404), f"no cluster: {code}")
        name = new_cluster(moto.url)
        code = error_code(lambda: eks.describe_update(name=name, updateId=str(uuid.uuid4())))
        expect(code == ("ResourceNotFoundException", 404), f"no update: {code}")
        code = error_code(lambda: eks.update_cluster_version(name=name, version="latest"))
        expect(code == ("InvalidParameterException", 400), f"not a version: {code}")

    def addon_updates_unaffected():
        name = new_cluster(moto.url)
        eks.create_addon(clusterName=name, addonName="vpc-cni")
        expect(
            eks.describe_addon(clusterName=name, addonName="vpc-cni")["addon"]["addonVersion"] == "v1.0.0-eksbuild.28",
            "the default for 1.28",
        )
        update = eks.update_addon(clusterName=name, addonName="vpc-cni", addonVersion="v1.0.0-eksbuild.27")["update"]
        described = eks.describe_update(name=name, updateId=update["id"], addonName="vpc-cni")["update"]
        expect(described["status"] == "Successful", f"{described}")
        # An add-on built for 1.27 does not run on 1.29: the upgrade is
        # refused, unless forced.
        code = error_code(lambda: eks.update_cluster_version(name=name, version="1.29"))
        expect(code == ("InvalidRequestException", 400), f"add-on behind: {code}")
        offered = eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.29")["addons"][0]
        versions = [(v["addonVersion"], v["compatibilities"][0]["defaultVersion"]) for v in offered["addonVersions"]]
        expect(versions == [("v1.0.0-eksbuild.29", True), ("v1.0.0-eksbuild.28", False)], f"{versions}")
        eks.update_addon(clusterName=name, addonName="vpc-cni", addonVersion="v1.0.0-eksbuild.28")
        # A Successful add-on update does not block a version update.
        update = eks.update_cluster_version(name=name, version="1.29")["update"]
        expect(wait_until(eks, name, update["id"])[1]["status"] == "Successful", "version update")
        # Now at 1.29, the 1.28 build would not run on 1.30.
        code = error_code(lambda: eks.update_cluster_version(name=name, version="1.30"))
        expect(code == ("InvalidRequestException", 400), f"1.30 with a 1.28 build: {code}")
        update = eks.update_cluster_version(name=name, version="1.30", force=True)["update"]
        expect(wait_until(eks, name, update["id"])[1]["status"] == "Successful", "forced")

    def configured_delay():
        nonlocal slow
        slow = launch(update_seconds=2.5)
        slow_eks = client("eks", slow.url)
        name = new_cluster(slow.url)
        update = slow_eks.update_cluster_version(name=name, version="1.29")["update"]
        time.sleep(1.5)
        expect(slow_eks.describe_update(name=name, updateId=update["id"])["update"]["status"] == "InProgress", "at 1.5s")
        expect(slow_eks.describe_cluster(name=name)["cluster"]["status"] == "UPDATING", "UPDATING at 1.5s")
        took, done = wait_until(slow_eks, name, update["id"])
        expect(done["status"] == "Successful", f"{done}")
        cluster = slow_eks.describe_cluster(name=name)["cluster"]
        expect((cluster["status"], cluster["version"]) == ("ACTIVE", "1.29"), f"{cluster['status']} {cluster['version']}")

    def lost_reply_then_same_token():
        name = new_cluster(moto.url)
        token = str(uuid.uuid4())
        with Proxy(moto.url, "--seed", "1", "--lose", "1", "--actions", r"^POST /clusters/[^/]+/updates$") as proxy:
            lost = False
            try:
                client("eks", proxy.url).update_cluster_version(name=name, version="1.29", clientRequestToken=token)
            except (botocore.exceptions.ClientError, botocore.exceptions.ConnectionClosedError):
                lost = True
            expect(lost, "the reply was lost")
        update = eks.update_cluster_version(name=name, version="1.29", clientRequestToken=token)["update"]
        expect(update["status"] == "InProgress", "the first call's update, still running")
        expect(wait_until(eks, name, update["id"])[1]["status"] == "Successful", "done")
        expect(eks.describe_cluster(name=name)["cluster"]["version"] == "1.29", "one update, at 1.29")

    checks = [
        update_one_minor,
        errors_of_unknowns,
        addon_updates_unaffected,
        configured_delay,
        lost_reply_then_same_token,
    ]
    selftest.run(checks, moto, slow)


if __name__ == "__main__":
    main()
