"""Checks fault_proxy.py against a real moto server with boto3.

    .venv/bin/python tests/support/fault_proxy_selftest.py

Starts moto (moto_launcher.py) and proxies in front of it itself, prints one
line per check and `N passed, M failed` at the end; exits non-zero on any
failure. boto3 and moto come with the project's .venv (scripts/test-env).

botocore's `retries={"max_attempts": N}` counts retries, not attempts, in
its default ("legacy") mode: one call with max_attempts 1 is two requests.
The clients here use `total_max_attempts: 1`, one request per call, so each
call is one decision of the proxy.
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import boto3
import botocore.config
import botocore.exceptions

import selftest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable
ONE_ATTEMPT = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
CREDENTIALS = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


class Process:
    """A launcher-style child: prints PORT <n>, exits when stdin closes."""

    def __init__(self, args):
        self.proc = subprocess.Popen(
            [PYTHON, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"{args[0]} said {line!r} instead of its port")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client(service, url):
    return boto3.client(service, endpoint_url=url, config=ONE_ATTEMPT, **CREDENTIALS)


class Proxy(Process):
    def __init__(self, upstream, *args, log=None):
        self.log = log
        extra = ["--log", log] if log else []
        super().__init__([os.path.join(HERE, "fault_proxy.py"), "--upstream", upstream, *args, *extra])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def entries(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read()
        conn.close()
        return response.status, json.loads(text) if text else None


def error_code(call):
    """(code, HTTP status) of the ClientError `call` raises."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    moto = Process([os.path.join(HERE, "moto_launcher.py")])
    tmp = tempfile.mkdtemp(prefix="fault-proxy-selftest-")
    direct_ec2 = client("ec2", moto.url)

    def vpc_count():
        return len(direct_ec2.describe_vpcs()["Vpcs"])

    def log(name):
        return os.path.join(tmp, name + ".jsonl")

    def pass_through():
        with Proxy(moto.url, "--seed", "1", log=log("pass")) as proxy:
            ec2 = client("ec2", proxy.url)
            vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
            seen = [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]]
            expect(seen == [vpc], f"describe_vpcs through the proxy saw {seen}")
            direct = [v["VpcId"] for v in direct_ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]]
            expect(direct == [vpc], "moto has the VPC")
            entries = proxy.entries()
            expect(
                [(e["seq"], e["action"], e["service"], e["decision"], e["status"]) for e in entries]
                == [(1, "CreateVpc", "ec2", "pass", 200), (2, "DescribeVpcs", "ec2", "pass", 200)],
                f"log: {entries}",
            )

    def refuse_ec2():
        before = vpc_count()
        with Proxy(moto.url, "--seed", "1", "--refuse", "1", log=log("refuse")) as proxy:
            code = error_code(lambda: client("ec2", proxy.url).create_vpc(CidrBlock="10.2.0.0/16"))
            expect(code == ("RequestLimitExceeded", 503), f"got {code}")
            expect(proxy.entries()[0]["upstream_status"] is None, "not forwarded")
        expect(vpc_count() == before, "moto created no VPC")

    def lose_ec2():
        # Seed 1 loses its first reply by a reset and the next ones by 503s.
        outcomes = []
        with Proxy(moto.url, "--seed", "1", "--lose", "1", log=log("lose")) as proxy:
            ec2 = client("ec2", proxy.url)
            for i in range(4):
                before = vpc_count()
                try:
                    ec2.create_vpc(CidrBlock=f"10.3.{i}.0/24")
                    outcomes.append("answered")
                except botocore.exceptions.ClientError as e:
                    outcomes.append(e.response["Error"]["Code"])
                except botocore.exceptions.ConnectionClosedError:
                    outcomes.append("connection closed")
                expect(vpc_count() == before + 1, f"call {i}: moto created exactly one VPC")
            decisions = [e["decision"] for e in proxy.entries()]
        expect("answered" not in outcomes, f"every reply lost: {outcomes}")
        expect(set(decisions) == {"lose-503", "lose-reset"}, f"both kinds of loss: {decisions}")
        expected = ["connection closed" if d == "lose-reset" else "ServiceUnavailable" for d in decisions]
        expect(outcomes == expected, f"{outcomes} for {decisions}")

    def refuse_iam_sts():
        with Proxy(moto.url, "--seed", "2", "--refuse", "1") as proxy:
            code = error_code(lambda: client("iam", proxy.url).list_roles())
            expect(code == ("Throttling", 503), f"iam: {code}")
            code = error_code(lambda: client("sts", proxy.url).get_caller_identity())
            expect(code == ("Throttling", 503), f"sts: {code}")

    def refuse_eks_rest():
        with Proxy(moto.url, "--seed", "3", "--refuse", "1", log=log("eks")) as proxy:
            code = error_code(lambda: client("eks", proxy.url).list_clusters())
            expect(code == ("ThrottlingException", 429), f"eks: {code}")
            entry = proxy.entries()[0]
            expect((entry["action"], entry["service"]) == ("GET /clusters", "eks"), f"log: {entry}")

    def refuse_json():
        with Proxy(moto.url, "--seed", "4", "--refuse", "1", log=log("json")) as proxy:
            code = error_code(lambda: client("ecr", proxy.url).describe_repositories())
            expect(code == ("ThrottlingException", 503), f"ecr: {code}")
            entry = proxy.entries()[0]
            expect((entry["action"], entry["service"]) == ("DescribeRepositories", "ecr"), f"log: {entry}")

    def lose_eks_rest():
        with Proxy(moto.url, "--seed", "2", "--lose", "1", log=log("lose-eks")) as proxy:
            decision = None
            try:
                client("eks", proxy.url).list_clusters()
            except botocore.exceptions.ClientError as e:
                decision = e.response["Error"]["Code"]
            except botocore.exceptions.ConnectionClosedError:
                decision = "connection closed"
            entry = proxy.entries()[0]
            expect(
                (entry["decision"], decision)
                in (("lose-503", "ServiceUnavailableException"), ("lose-reset", "connection closed")),
                f"{entry} / {decision}",
            )
            expect(entry["upstream_status"] == 200, "moto answered")

    def s3_rest_xml():
        with Proxy(moto.url, "--seed", "5", "--actions", "^GET ", "--refuse", "1") as proxy:
            s3 = client("s3", proxy.url)
            s3.create_bucket(Bucket="fault-proxy-selftest")
            body = b"x" * 70000
            s3.put_object(Bucket="fault-proxy-selftest", Key="k", Body=body)
            code = error_code(lambda: s3.get_object(Bucket="fault-proxy-selftest", Key="k"))
            expect(code == ("SlowDown", 503), f"s3: {code}")
            got = client("s3", moto.url).get_object(Bucket="fault-proxy-selftest", Key="k")["Body"].read()
            expect(got == body, "the PUT body reached moto whole")

    def same_seed_same_sequence():
        def run(seed, name):
            with Proxy(
                moto.url, "--seed", str(seed), "--refuse", "0.3", "--lose", "0.3",
                "--latency-ms", "0-3", log=log(name),
            ) as proxy:
                ec2 = client("ec2", proxy.url)
                for _ in range(20):
                    try:
                        ec2.describe_vpcs()
                    except (botocore.exceptions.ClientError, botocore.exceptions.ConnectionClosedError):
                        pass
                return [(e["seq"], e["action"], e["decision"], e["latency_ms"]) for e in proxy.entries()]

        first, second, other = run(42, "seed-a"), run(42, "seed-b"), run(43, "seed-c")
        expect(len(first) == 20, f"{len(first)} requests logged")
        expect(first == second, f"seed 42 twice:\n{first}\n{second}")
        expect(first != other, "seed 43 differs")
        expect({d for _, _, d, _ in first} == {"pass", "refuse", "lose-503", "lose-reset"}, f"{first}")

    def actions_filter():
        before = vpc_count()
        with Proxy(moto.url, "--seed", "6", "--refuse", "1", "--actions", "^Create", log=log("actions")) as proxy:
            ec2 = client("ec2", proxy.url)
            ec2.describe_vpcs()
            code = error_code(lambda: ec2.create_vpc(CidrBlock="10.4.0.0/16"))
            expect(code[0] == "RequestLimitExceeded", f"{code}")
            expect([e["decision"] for e in proxy.entries()] == ["pass", "refuse"], f"{proxy.entries()}")
        expect(vpc_count() == before, "moto created no VPC")

    def control_endpoint():
        with Proxy(moto.url, "--seed", "7", "--refuse", "1", log=log("control")) as proxy:
            ec2 = client("ec2", proxy.url)
            expect(error_code(ec2.describe_vpcs)[0] == "RequestLimitExceeded", "refused first")
            expect(proxy.control("POST", "/__fault/config", {"refuse": 0, "lose": 0}) == (200, {}), "config")
            ec2.describe_vpcs()
            status, stats = proxy.control("GET", "/__fault/stats")
            expect(status == 200 and stats["refuse"] == 1 and stats["pass"] == 1, f"stats {stats}")
            expect(proxy.control("POST", "/__fault/config", {"lose": 2})[0] == 400, "a bad rate is refused")
            expect(proxy.control("POST", "/__fault/config", {"refuse": 1, "actions": "Nothing"})[0] == 200, "config")
            ec2.describe_vpcs()
            expect(proxy.control("GET", "/__fault/stats")[1]["pass"] == 2, "filtered out")
            expect(len(proxy.entries()) == 3, "control calls are not logged as requests")

    def latency():
        with Proxy(moto.url, "--seed", "8", "--latency-ms", "300-300", log=log("latency")) as proxy:
            ec2 = client("ec2", proxy.url)
            ec2.describe_vpcs()  # connection set up
            start = time.monotonic()
            ec2.describe_vpcs()
            took = time.monotonic() - start
            expect(took >= 0.3, f"took {took:.3f}s")
            expect(proxy.entries()[-1]["latency_ms"] == 300, "logged")

    def moto_api_never_faulted():
        with Proxy(moto.url, "--seed", "9", "--refuse", "1", log=log("moto-api")) as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            conn.request("GET", "/moto-api/data.json")
            response = conn.getresponse()
            response.read()
            expect(response.status == 200, f"status {response.status}")
            expect(proxy.entries()[0]["decision"] == "pass", "passed")

    def keep_alive_and_chunked():
        # One client connection, several requests, one of them chunked.
        with Proxy(moto.url, "--seed", "10", log=log("raw")) as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            auth = "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00"
            form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth}
            body = b"Action=DescribeVpcs&Version=2016-11-15"
            conn.request("POST", "/", body=body, headers=form)
            first = conn.getresponse()
            first.read()
            sock = conn.sock
            conn.request("POST", "/", body=iter([body[:10], body[10:]]), headers=form, encode_chunked=True)
            second = conn.getresponse()
            text = second.read()
            expect(first.status == 200 and second.status == 200, f"{first.status} {second.status}")
            expect(b"DescribeVpcsResponse" in text, "moto answered the chunked request")
            expect(conn.sock is sock, "the connection was kept alive")
            expect(second.getheader("Content-Length") == str(len(text)), "Content-Length sent")
            actions = [e["action"] for e in proxy.entries()]
            expect(actions == ["DescribeVpcs", "DescribeVpcs"], f"{actions}")

    def upstream_down():
        with Proxy("http://127.0.0.1:9", "--seed", "11") as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            conn.request("GET", "/clusters")
            response = conn.getresponse()
            response.read()
            expect(response.status == 502, f"status {response.status}")
            conn.request("GET", "/clusters")  # the server and connection survive
            response = conn.getresponse()
            response.read()
            expect(response.status == 502, f"status {response.status}")

    def survives_bad_requests():
        import socket

        proxy = Proxy(moto.url, "--seed", "12")
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as raw:
                raw.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                raw.shutdown(socket.SHUT_WR)
                while raw.recv(4096):
                    pass
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as raw:
                raw.sendall(b"GARBAGE\r\n\r\n")
                while raw.recv(4096):
                    pass
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            conn.request("GET", "/moto-api/data.json")
            response = conn.getresponse()
            response.read()
            expect(response.status == 200, f"still serving: {response.status}")
            conn.close()
        finally:
            proxy.proc.stdin.close()
            try:
                code = proxy.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proxy.stop()
                raise AssertionError("the proxy did not exit when its stdin closed")
        expect(code == 0, f"exit code {code} after stdin closed")

    checks = [
        pass_through,
        refuse_ec2,
        lose_ec2,
        refuse_iam_sts,
        refuse_eks_rest,
        refuse_json,
        lose_eks_rest,
        s3_rest_xml,
        same_seed_same_sequence,
        actions_filter,
        control_endpoint,
        latency,
        moto_api_never_faulted,
        keep_alive_and_chunked,
        upstream_down,
        survives_bad_requests,
    ]
    selftest.run(checks, moto)


if __name__ == "__main__":
    main()
