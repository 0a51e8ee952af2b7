"""An HTTP fault-injection proxy between the AWS SDK and moto server.

    python fault_proxy.py --upstream http://127.0.0.1:PORT --seed N
        [--refuse P] [--lose P] [--latency-ms MIN-MAX] [--actions REGEX]
        [--log FILE]

Tests use it to prove that payrun never duplicates or orphans a resource
when a call is refused or its reply is lost. For each request it decides,
from one random.Random(seed), one of:

  pass        forward to moto and return moto's answer;
  refuse      answer a throttling error without forwarding (moto never
              sees the call), in the protocol's shape, so the SDK may retry;
  lose-503    forward, read moto's whole answer (moto has acted), drop it
              and answer 503 ServiceUnavailable instead;
  lose-reset  forward, read moto's whole answer, drop it and shut the
              client's connection down without a byte of response.

The draws for a request are made under one lock when it arrives, in this
order: refuse, lose, latency (only when --latency-ms is given) and, for a
lost reply only, 503-or-reset. So one seed gives one decision sequence by
request order. --actions REGEX (re.search on the action name) limits
refusing and losing to the matching actions; every request still draws, and
all of them get the latency. moto's own /moto-api/ paths are forwarded and
never faulted, and draw nothing.

Action names: the query protocol's `Action=` (body form or query string;
EC2, IAM, STS...), the part after the dot of `X-Amz-Target` (JSON
protocols), and `METHOD /path` otherwise (REST protocols: EKS, App Mesh,
VPC Lattice, S3...). The service is the credential scope's of the
Authorization header (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).

Control, never forwarded: `POST /__fault/config` with a JSON object of
`refuse`, `lose` (probabilities), `actions` (a regex, or null for all),
`latency_ms` ("MIN-MAX" or null) and `hold` (below), any of them, answers
200 `{}`; `GET /__fault/stats` answers the counts per decision.

A hold, `{"actions": REGEX, "ms": N, "count": K}`, keeps each of the next
K requests whose action matches for N ms before forwarding it, whatever
becomes of its client meanwhile: a request the cloud serves after the
process that sent it was killed, or after the next process looked for
what it would make. The decision draws are made as for any request; held
requests are logged with `held_ms`.

With --log FILE, one JSON line per request (flushed): seq (from 1, in
arrival order), action, service, decision, latency_ms, status (what the
client received; null after a reset), upstream_status (what moto answered;
null when not forwarded) and, on an upstream failure, error.

Like moto_launcher.py, it prints "PORT <n>" once listening on 127.0.0.1 (a
port the OS chose) and exits when its standard input closes or its parent
process changes. Standard library only.
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hop-by-hop headers (RFC 9110 7.6.1) and those this proxy recomputes.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}

CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
DECISIONS = ("pass", "refuse", "lose-503", "lose-reset")


def parse_latency(text):
    if text is None or text == "":
        return None
    lo, _, hi = str(text).partition("-")
    lo = int(lo)
    hi = int(hi) if hi else lo
    if lo < 0 or hi < lo:
        raise ValueError(f"latency range {text!r}: want MIN-MAX with 0 <= MIN <= MAX")
    return lo, hi


def probability(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability {text!r} is not within 0..1")
    return value


class Faults:
    """The settings and the one seeded generator, behind one lock."""

    def __init__(self, seed, refuse, lose, latency, actions, log_path):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.refuse = refuse
        self.lose = lose
        self.latency = latency
        self.actions = re.compile(actions) if actions else None
        # (regex, ms, count left) of a hold, or None.
        self.hold = None
        self.seq = 0
        self.stats = {d: 0 for d in DECISIONS}
        self.stats["upstream_errors"] = 0
        self.log_lock = threading.Lock()
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def decide(self, action):
        """(seq, decision, latency_ms) for a faultable request."""
        with self.lock:
            self.seq += 1
            r_refuse = self.rng.random()
            r_lose = self.rng.random()
            latency = self.rng.randint(*self.latency) if self.latency else 0
            eligible = self.actions is None or self.actions.search(action) is not None
            if eligible and r_refuse < self.refuse:
                decision = "refuse"
            elif eligible and r_lose < self.lose:
                decision = "lose-503" if self.rng.random() < 0.5 else "lose-reset"
            else:
                decision = "pass"
            self.stats[decision] += 1
            return self.seq, decision, latency

    def configure(self, settings):
        with self.lock:
            if "refuse" in settings:
                self.refuse = probability(settings["refuse"])
            if "lose" in settings:
                self.lose = probability(settings["lose"])
            if "actions" in settings:
                self.actions = re.compile(settings["actions"]) if settings["actions"] else None
            if "latency_ms" in settings:
                self.latency = parse_latency(settings["latency_ms"])
            if "hold" in settings:
                h = settings["hold"]
                self.hold = (re.compile(h["actions"]), int(h["ms"]), int(h.get("count", 1))) if h else None

    def held(self, action):
        """How long to keep a request for `action` before forwarding it."""
        with self.lock:
            if self.hold is None:
                return 0
            pattern, ms, left = self.hold
            if left <= 0 or pattern.search(action) is None:
                return 0
            self.hold = (pattern, ms, left - 1)
            return ms

    def snapshot(self):
        with self.lock:
            return dict(self.stats)

    def count_upstream_error(self):
        with self.lock:
            self.stats["upstream_errors"] += 1

    def record(self, entry):
        if self.log is None:
            return
        line = json.dumps(entry, sort_keys=False)
        with self.log_lock:
            self.log.write(line + "\n")
            self.log.flush()


def describe(method, path, headers, body):
    """(action, service, protocol) of a request; protocol is one of
    "query", "json", "rest"."""
    split = urllib.parse.urlsplit(path)
    match = CREDENTIAL.search(headers.get("Authorization") or "")
    if match is None:  # presigned URLs carry the scope in the query
        query_credential = urllib.parse.parse_qs(split.query).get("X-Amz-Credential")
        if query_credential:
            match = CREDENTIAL.search("Credential=" + query_credential[0])
    service = match.group(1) if match else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1], service, "json"
    action = urllib.parse.parse_qs(split.query).get("Action")
    content_type = (headers.get("Content-Type") or "").lower()
    if not action and body and "x-www-form-urlencoded" in content_type:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return action[0], service, "query"
    return f"{method} {split.path}", service, "rest"


def error_reply(kind, protocol, service, seq, request_headers):
    """(status, headers, body) of a refusal (kind "refuse") or a lost reply
    (kind "lost") in the protocol's error shape."""
    request_id = f"fault-proxy-{seq}"
    if kind == "refuse":
        note = "fault proxy: refused before forwarding"
    else:
        note = "fault proxy: reply lost after upstream acted"
    headers = {"x-amzn-RequestId": request_id}
    if protocol == "query" and service == "ec2":
        code, message = (
            ("RequestLimitExceeded", f"Request limit exceeded ({note})")
            if kind == "refuse"
            else ("ServiceUnavailable", f"The service is unavailable ({note})")
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        headers["Content-Type"] = "text/xml"
        return 503, headers, body.encode()
    if protocol == "query":  # IAM, STS, ...: the awsQuery error shape
        kind_, code, message = (
            ("Sender", "Throttling", f"Rate exceeded ({note})")
            if kind == "refuse"
            else ("Receiver", "ServiceUnavailable", f"Service unavailable ({note})")
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<ErrorResponse><Error><Type>{kind_}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
        headers["Content-Type"] = "text/xml"
        return 503, headers, body.encode()
    code, message = (
        ("ThrottlingException", f"Rate exceeded ({note})")
        if kind == "refuse"
        else ("ServiceUnavailableException", f"Service unavailable ({note})")
    )
    headers["x-amzn-ErrorType"] = code
    if protocol == "json":
        request_type = (request_headers.get("Content-Type") or "").lower()
        headers["Content-Type"] = (
            "application/x-amz-json-1.0"
            if "x-amz-json-1.0" in request_type
            else "application/x-amz-json-1.1"
        )
        body = json.dumps({"__type": code, "message": message})
        return 503, headers, body.encode()
    if service == "s3":
        # S3 is REST with XML errors; its throttling error is 503 SlowDown.
        code = "SlowDown" if kind == "refuse" else "ServiceUnavailable"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers["Content-Type"] = "application/xml"
        return 503, headers, body.encode()
    headers["Content-Type"] = "application/json"
    body = json.dumps({"message": message})
    return (429 if kind == "refuse" else 503), headers, body.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "payrun-fault-proxy"
    sys_version = ""
    faults: Faults  # set on the class by main()
    upstream_host: str
    upstream_port: int
    upstream_timeout = 120.0

    def log_message(self, format, *args):  # quiet, like the launcher
        pass

    # One upstream connection per handler thread (one thread serves one
    # client connection), reopened after a failure.
    def setup(self):
        super().setup()
        self.upstream = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()
                self.upstream = None

    def do_GET(self):
        self.handle_request()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # the chunk's CRLF
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_reply(self, status, headers, body, keep_length=False):
        """headers: a list of (name, value) or a dict. keep_length: a HEAD
        reply, whose Content-Length is the upstream's."""
        self.send_response_only(status)
        items = list(headers.items() if isinstance(headers, dict) else headers)
        length = None
        names = set()
        for name, value in items:
            lower = name.lower()
            if lower == "content-length":
                length = value
                continue
            if lower in HOP_BY_HOP:
                continue
            names.add(lower)
            self.send_header(name, value)
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        if keep_length and length is not None:
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def handle_request(self):
        try:
            body = self.read_body()
        except Exception:
            self.close_connection = True
            return
        try:
            path = urllib.parse.urlsplit(self.path).path
            if path.startswith("/__fault/"):
                self.control(path, body)
            elif path.startswith("/moto-api/"):
                self.passthrough(body)
            else:
                self.faulted(body)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            try:
                self.send_reply(
                    500, {"Content-Type": "text/plain"}, b"fault proxy: internal error\n"
                )
            except Exception:
                self.close_connection = True

    def control(self, path, body):
        faults = self.faults
        if path == "/__fault/config" and self.command == "POST":
            try:
                settings = json.loads(body or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("want a JSON object")
                faults.configure(settings)
            except (ValueError, re.error, TypeError) as e:
                reply = json.dumps({"message": str(e)}).encode()
                self.send_reply(400, {"Content-Type": "application/json"}, reply)
                return
            self.send_reply(200, {"Content-Type": "application/json"}, b"{}")
        elif path == "/__fault/stats" and self.command == "GET":
            reply = json.dumps(faults.snapshot()).encode()
            self.send_reply(200, {"Content-Type": "application/json"}, reply)
        else:
            self.send_reply(404, {"Content-Type": "text/plain"}, b"unknown fault control\n")

    def forward(self, body):
        """moto's (status, headers, body), the body read whole."""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        if body or self.command in ("POST", "PUT", "PATCH") or "Content-Length" in self.headers:
            headers.append(("Content-Length", str(len(body))))
        for attempt in (0, 1):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(
                    self.upstream_host, self.upstream_port, timeout=self.upstream_timeout
                )
            conn = self.upstream
            reused = conn.sock is not None
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body if body else None)
            except (ConnectionError, OSError):
                # Nothing reached moto's handler yet: a stale kept-alive
                # connection, reopened once.
                conn.close()
                self.upstream = None
                if attempt == 0 and reused:
                    continue
                raise
            try:
                response = conn.getresponse()
                data = response.read()
            except Exception:
                conn.close()
                self.upstream = None
                raise
            if response.will_close:
                conn.close()
                self.upstream = None
            return response.status, response.getheaders(), data
        raise ConnectionError("unreachable")

    def passthrough(self, body):
        action = f"{self.command} {urllib.parse.urlsplit(self.path).path}"
        seq = self.faults.next_seq()
        entry = {"seq": seq, "action": action, "service": "moto-api", "decision": "pass", "latency_ms": 0}
        self.relay(entry, body)

    def relay(self, entry, body):
        try:
            status, headers, data = self.forward(body)
        except Exception as e:
            self.faults.count_upstream_error()
            entry.update(status=502, upstream_status=None, error=f"{type(e).__name__}: {e}")
            self.faults.record(entry)
            text = f"fault proxy: upstream unreachable: {type(e).__name__}: {e}\n".encode()
            self.send_reply(502, {"Content-Type": "text/plain"}, text)
            return None
        entry.update(status=status, upstream_status=status)
        self.faults.record(entry)
        self.send_reply(status, headers, data, keep_length=self.command == "HEAD")
        return status

    def faulted(self, body):
        action, service, protocol = describe(self.command, self.path, self.headers, body)
        seq, decision, latency = self.faults.decide(action)
        entry = {
            "seq": seq,
            "action": action,
            "service": service,
            "decision": decision,
            "latency_ms": latency,
        }
        if latency:
            time.sleep(latency / 1000.0)
        held = self.faults.held(action)
        if held:
            entry["held_ms"] = held
            time.sleep(held / 1000.0)
        if decision == "pass":
            self.relay(entry, body)
            return
        if decision == "refuse":
            status, headers, data = error_reply("refuse", protocol, service, seq, self.headers)
            entry.update(status=status, upstream_status=None)
            self.faults.record(entry)
            self.send_reply(status, headers, data)
            return
        # A lost reply: moto acts, its answer is dropped.
        try:
            upstream_status, _, _ = self.forward(body)
        except Exception as e:
            self.faults.count_upstream_error()
            entry.update(status=502, upstream_status=None, error=f"{type(e).__name__}: {e}")
            self.faults.record(entry)
            self.send_reply(502, {"Content-Type": "text/plain"}, b"fault proxy: upstream unreachable\n")
            return
        if decision == "lose-503":
            status, headers, data = error_reply("lost", protocol, service, seq, self.headers)
            entry.update(status=status, upstream_status=upstream_status)
            self.faults.record(entry)
            self.send_reply(status, headers, data)
            return
        entry.update(status=None, upstream_status=upstream_status)
        self.faults.record(entry)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that went away mid-reply is no news; anything else goes
        # to stderr and the server goes on.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            traceback.print_exc(file=sys.stderr)


def watch_parent(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def watch_stdin():
    while sys.stdin.buffer.read(1):
        pass
    os._exit(0)


def main(argv=None):
    parser = argparse.ArgumentParser(description="HTTP fault-injection proxy in front of moto server")
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of moto")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--refuse", type=probability, default=0.0)
    parser.add_argument("--lose", type=probability, default=0.0)
    parser.add_argument("--latency-ms", type=parse_latency, default=None, metavar="MIN-MAX")
    parser.add_argument("--actions", default=None, metavar="REGEX")
    parser.add_argument("--log", default=None, metavar="FILE")
    args = parser.parse_args(argv)

    upstream = urllib.parse.urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname:
        parser.error(f"--upstream {args.upstream!r}: want http://HOST:PORT")
    Handler.upstream_host = upstream.hostname
    Handler.upstream_port = upstream.port or 80
    Handler.faults = Faults(args.seed, args.refuse, args.lose, args.latency_ms, args.actions, args.log)

    parent = os.getppid()
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    watch_parent(parent)


if __name__ == "__main__":
    main()
