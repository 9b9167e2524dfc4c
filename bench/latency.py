#!/usr/bin/env python3
"""Measure Vitrine's read-side latency against an already running server.

For N sequential price updates of one probe product it measures, from the
moment the PATCH is sent (t0):
  (a) command -> read record visible: first GET /api/products/{id} showing
      aggregateVersion >= the receipt's version;
  (b) command -> SSE notice: arrival of the `projected` notice on /api/live
      for (id, version >= receipt version);
plus the PATCH round trip alone. Standard library only.
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

NOTICE_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0


class BenchError(Exception):
    """A request failed or the server is unreachable: abort the run."""


class LiveFeed(threading.Thread):
    """One persistent SSE connection; records when each notice arrived.

    Arrival times are stored, not just awaited, because a notice may arrive
    before the PATCH response that announces its version.
    """

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.cond = threading.Condition()
        self.arrivals = {}  # aggregateId -> {version: perf_counter()}
        self.sent = threading.Event()
        self.error = None
        self.resets = 0

    def run(self):
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=None)
            conn.request("GET", "/api/live", headers={"Accept": "text/event-stream"})
            self.sent.set()
            # The server may hold the headers back until the first event.
            resp = conn.getresponse()
            if resp.status != 200:
                raise BenchError(f"GET /api/live -> HTTP {resp.status}")
            event, data = "message", []
            while True:
                raw = resp.readline()
                if not raw:
                    raise BenchError("SSE stream closed by the server")
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":  # blank line: dispatch the event
                    if data:
                        self._dispatch(event, "\n".join(data))
                    event, data = "message", []
                elif line.startswith(":"):
                    continue  # comment, e.g. keep-alive
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)
        except Exception as exc:  # surfaced to the main thread
            with self.cond:
                self.error = exc if isinstance(exc, BenchError) else BenchError(f"SSE connection failed: {exc!r}")
                self.sent.set()
                self.cond.notify_all()

    def _dispatch(self, event, data):
        now = time.perf_counter()
        if event == "reset":
            self.resets += 1  # fell behind: later notices may be missing
            return
        if event != "projected":
            return
        notice = json.loads(data)
        with self.cond:
            per_agg = self.arrivals.setdefault(notice["aggregateId"], {})
            per_agg.setdefault(int(notice["aggregateVersion"]), now)
            self.cond.notify_all()

    def wait_for(self, agg_id, version, timeout):
        """Earliest arrival time of a notice for agg_id with version >= version."""
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                if self.error:
                    raise self.error
                times = [t for v, t in self.arrivals.get(agg_id, {}).items() if v >= version]
                if times:
                    return min(times)
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)


SESSION = {}  # the admin's session cookie, once signed in


def call(conn, method, path, body=None, expect=(200,)):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if "cookie" in SESSION:
        headers["Cookie"] = SESSION["cookie"]
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()  # read fully so the connection can be reused
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"{method} {path} failed: {exc!r}") from exc
    if resp.status not in expect:
        raise BenchError(f"{method} {path} -> HTTP {resp.status}: {payload[:300]!r}")
    return resp.status, (json.loads(payload) if payload else None)


def sign_in(conn, email, password):
    """Signs in as the admin; later commands carry the session cookie."""
    body = json.dumps({"email": email, "password": password}).encode()
    conn.request("POST", "/api/auth/login", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status != 200:
        raise BenchError(f"sign-in as {email} -> HTTP {resp.status}: {payload[:300]!r}")
    cookie = resp.getheader("Set-Cookie") or ""
    SESSION["cookie"] = cookie.split(";", 1)[0]


def price_body(i):
    # 101.00 .. 101.49 cycling: consecutive prices always differ, never a >50% cut.
    cents = 10100 + i % 50
    return f'{{"price": {cents // 100}.{cents % 100:02d}}}'.encode()


def summarize(samples):
    if not samples:
        return {"count": 0}
    q = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else [samples[0]] * 99
    return {"count": len(samples), "median": statistics.median(samples),
            "p90": q[89], "p99": q[98], "max": max(samples)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="http://127.0.0.1:3000", help="server base URL")
    ap.add_argument("--updates", type=int, default=300, help="measured price updates (>= 200)")
    ap.add_argument("--warmup", type=int, default=20, help="unmeasured updates first")
    ap.add_argument("--admin-email", default="admin@vitrine.example")
    ap.add_argument("--admin-password", default="vitrine-admin")
    args = ap.parse_args()
    if args.updates < 200:
        ap.error("--updates must be at least 200")
    if args.warmup < 0:
        ap.error("--warmup must be >= 0")
    url = urllib.parse.urlsplit(args.base)
    if url.scheme != "http" or not url.hostname:
        ap.error("--base must be an http:// URL")
    host, port = url.hostname, url.port or 80

    print(f"Vitrine latency bench: {args.base}, {args.updates} updates (+{args.warmup} warm-up)")
    print("  (a) PATCH sent -> GET /api/products/{id} shows the receipt's version")
    print("  (b) PATCH sent -> 'projected' SSE notice for that version on /api/live")

    # Fail fast with a clear message if nothing answers at --base.
    try:
        probe = http.client.HTTPConnection(host, port, timeout=5)
        probe.request("GET", "/api/products/latency-preflight")
        probe.getresponse().read()
        probe.close()
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"server not reachable at {args.base}: {exc!r}") from exc

    # Both threads mostly block on sockets; a short switch interval keeps the
    # feed thread's arrival stamps from waiting on the GIL behind the poller.
    sys.setswitchinterval(0.0005)
    feed = LiveFeed(host, port)
    feed.start()
    feed.sent.wait(5)
    time.sleep(0.3)  # let the server subscribe the stream before the first command
    if feed.error:
        raise feed.error

    cmd = http.client.HTTPConnection(host, port, timeout=10)
    read = http.client.HTTPConnection(host, port, timeout=10)
    sign_in(cmd, args.admin_email, args.admin_password)
    _, created = call(cmd, "POST", "/api/products", expect=(201,),
                      body=b'{"name":"Latency probe","category":"Bench","price":100.00,"stock":5}')
    pid = created["productId"]
    if feed.wait_for(pid, 1, NOTICE_TIMEOUT_S) is None:
        raise BenchError(f"no SSE notice for probe {pid} v1 within {NOTICE_TIMEOUT_S:.0f}s")
    print(f"  probe product {pid}")

    read_ms, notice_ms, patch_ms, failures = [], [], [], []
    for i in range(args.warmup + args.updates):
        measured = i >= args.warmup
        t0 = time.perf_counter()
        _, receipt = call(cmd, "PATCH", f"/api/products/{pid}", body=price_body(i))
        t_receipt = time.perf_counter()
        version = int(receipt["aggregateVersion"])
        if not receipt.get("eventIds"):
            raise BenchError(f"update {i}: receipt has no events (price unchanged?)")

        # (a) tight poll on its own persistent connection, right after the receipt.
        t_read = None
        while time.perf_counter() - t_receipt < READ_TIMEOUT_S:
            status, view = call(read, "GET", f"/api/products/{pid}", expect=(200, 404))
            if status == 200 and int(view["aggregateVersion"]) >= version:
                t_read = time.perf_counter()
                break
        # (b) the feed thread stamped the arrival; this only looks it up (or waits).
        t_notice = feed.wait_for(pid, version, NOTICE_TIMEOUT_S)

        if not measured:
            continue
        patch_ms.append((t_receipt - t0) * 1000)
        if t_read is None:
            failures.append(f"update {i}: read record v{version} not visible within {READ_TIMEOUT_S:.0f}s")
        else:
            read_ms.append((t_read - t0) * 1000)
        if t_notice is None:
            failures.append(f"update {i}: no SSE notice for v{version} within {NOTICE_TIMEOUT_S:.0f}s")
        else:
            notice_ms.append((t_notice - t0) * 1000)

    results = {"base": args.base, "updates": args.updates, "warmup": args.warmup, "productId": pid,
               "command_to_read_ms": summarize(read_ms), "command_to_sse_ms": summarize(notice_ms),
               "patch_roundtrip_median_ms": statistics.median(patch_ms),
               "failures": len(failures), "sse_resets": feed.resets}
    print(f"\n{'':28}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}   (ms)")
    for label, key in (("(a) command -> read record", "command_to_read_ms"),
                       ("(b) command -> SSE notice", "command_to_sse_ms")):
        s = results[key]
        if s["count"]:
            print(f"{label:28}" + "".join(f"{s[k]:9.2f}" for k in ("median", "p90", "p99", "max"))
                  + f"   n={s['count']}")
        else:
            print(f"{label:28}  no successful samples")
    print(f"PATCH round trip (command latency) median: {results['patch_roundtrip_median_ms']:.2f} ms")
    for f in failures:
        print(f"FAILURE: {f}", file=sys.stderr)
    if feed.resets:
        print(f"WARNING: SSE stream sent {feed.resets} reset event(s)", file=sys.stderr)
    print(json.dumps(results))
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
