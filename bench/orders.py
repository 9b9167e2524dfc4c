#!/usr/bin/env python3
"""PlaceOrder throughput and latency under concurrent load, over the JSON API.

Against an already running server (started with demo data off), it:
  1. signs in as the admin and creates --products products with ample stock;
  2. signs up --concurrency customers (each with its own session);
  3. runs --concurrency workers, each on its own keep-alive connection,
     sending POST /api/orders (1 to 3 lines, random products and quantities)
     back to back for --seconds, after --warmup seconds not measured;
  4. reports orders/s (201s only), latency median / p90 / p99 / max, and
     every other status it saw; then waits until the read side has caught
     up (GET /api/analytics/sync-status says "synced").

With --rate R the load is open-loop instead: an order is due every 1/R s
whether or not earlier ones have been answered (a pool of --concurrency
connections sends them), and latency counts from when an order was due, so
a server falling behind shows as latency, not as a politely lower rate.
It then also reports how long events took from the command's decision to
the product pages' read store, from the server's own histogram
(vitrine_event_visible_seconds in /metrics, differenced over the window).

The relay and the projectors run inside the server throughout. The load
generator shares the machine's cores with the server: its cost is in the
figures. Standard library only (asyncio, raw HTTP/1.1).
"""
import argparse
import asyncio
import json
import random
import statistics
import time
import urllib.parse


class BenchError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method, path, body=None, cookie=None):
        if self.writer is None:
            await self.open()
        data = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if cookie:
            head.append(f"Cookie: {cookie}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise BenchError(f"{method} {path}: connection closed")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        length = int(headers.get("content-length", ["0"])[0])
        payload = await self.reader.readexactly(length) if length else b""
        return status, headers, payload

    def close(self):
        if self.writer:
            self.writer.close()


def session_cookie(headers):
    for v in headers.get("set-cookie", []):
        if v.startswith("vitrine_session="):
            return v.split(";", 1)[0]
    raise BenchError("no session cookie in the answer")


def histogram(text, name, labels):
    """Cumulative bucket counts {le: count} of one histogram in /metrics text."""
    out = {}
    for line in text.splitlines():
        if not line.startswith(name + "_bucket{") or labels not in line:
            continue
        le = line.split('le="', 1)[1].split('"', 1)[0]
        out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def bucket_quantile(before, after, q):
    """The q-quantile (seconds) of the observations between two scrapes,
    interpolated linearly inside its bucket, as Prometheus does."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0.0) for le in les]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in zip(les, counts):
        if count >= rank:
            if le == float("inf"):
                return prev_le
            width = count - prev_count
            return prev_le + (le - prev_le) * ((rank - prev_count) / width if width else 1)
        prev_le, prev_count = le, count
    return les[-1]


def summarize(samples_ms):
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"median": statistics.median(samples_ms), "p90": q[89], "p99": q[98], "max": max(samples_ms)}


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="http://127.0.0.1:3000")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--admin-email", default="admin@vitrine.example")
    ap.add_argument("--admin-password", default="vitrine-admin")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rate", type=float, default=0.0,
                    help="orders per second, open-loop (0: closed loop, back to back)")
    args = ap.parse_args()
    url = urllib.parse.urlsplit(args.base)
    host, port = url.hostname, url.port or 80
    rng = random.Random(args.seed)

    admin = Conn(host, port)
    status, headers, payload = await admin.request(
        "POST", "/api/auth/login", {"email": args.admin_email, "password": args.admin_password})
    if status != 200:
        raise BenchError(f"admin sign-in: HTTP {status} {payload[:200]!r}")
    admin_cookie = session_cookie(headers)

    products = []
    for i in range(args.products):
        status, _, payload = await admin.request("POST", "/api/products", {
            "name": f"Bench product {i}", "category": "Bench",
            "price": round(rng.uniform(10, 120), 2), "stock": 1_000_000}, cookie=admin_cookie)
        if status != 201:
            raise BenchError(f"create product: HTTP {status} {payload[:200]!r}")
        products.append(json.loads(payload)["productId"])

    cookies = []
    run = int(time.time())
    for i in range(args.concurrency):
        status, headers, payload = await admin.request("POST", "/api/auth/signup", {
            "name": f"Bench shopper {i}", "email": f"bench-{run}-{i}@bench.example",
            "password": "bench-password"})
        if status != 201:
            raise BenchError(f"signup: HTTP {status} {payload[:200]!r}")
        cookies.append(session_cookie(headers))
    admin.close()

    latencies, statuses = [], {}
    t_start = time.perf_counter()
    t_measure = t_start + args.warmup
    t_end = t_measure + args.seconds

    async def scrape():
        conn = Conn(host, port)
        _, _, payload = await conn.request("GET", "/metrics")
        conn.close()
        return payload.decode()

    def order_body(wrng):
        lines = wrng.sample(products, wrng.randint(1, 3))
        return {"items": [{"productId": p, "quantity": wrng.randint(1, 3)} for p in lines]}

    def record(t_due, t0, t1, status):
        if t0 >= t_measure and t1 <= t_end:
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201:
                latencies.append((t1 - t_due) * 1000)

    async def worker(cookie, wrng):
        conn = Conn(host, port)
        await conn.open()
        while True:
            now = time.perf_counter()
            if now >= t_end:
                break
            body = order_body(wrng)
            t0 = time.perf_counter()
            status, _, _ = await conn.request("POST", "/api/orders", body, cookie=cookie)
            record(t0, t0, time.perf_counter(), status)
        conn.close()

    async def open_loop():
        idle = asyncio.Queue()
        for c in cookies:
            conn = Conn(host, port)
            await conn.open()
            idle.put_nowait((conn, c))
        wrng = random.Random(args.seed)
        tasks = []

        async def send(t_due, conn, cookie):
            status, _, _ = await conn.request("POST", "/api/orders", order_body(wrng), cookie=cookie)
            record(t_due, t_due, time.perf_counter(), status)
            idle.put_nowait((conn, cookie))

        i = 0
        while True:
            t_due = t_start + i / args.rate
            if t_due >= t_end:
                break
            delay = t_due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            conn, cookie = await idle.get()  # waits when every connection is busy
            tasks.append(asyncio.create_task(send(t_due, conn, cookie)))
            i += 1
        await asyncio.gather(*tasks)

    metrics_before = None
    async def mark_window():
        nonlocal metrics_before
        await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
        metrics_before = await scrape()

    marker = asyncio.create_task(mark_window())
    if args.rate > 0:
        await open_loop()
    else:
        await asyncio.gather(*(worker(c, random.Random(args.seed + i)) for i, c in enumerate(cookies)))
    await marker
    ok = statuses.get(201, 0)
    mode = (f"open loop at {args.rate:.0f} orders/s over {args.concurrency} connections" if args.rate > 0
            else f"{args.concurrency} concurrent clients")
    print(f"PlaceOrder over HTTP: {mode}, {args.seconds:.0f} s measured "
          f"(+{args.warmup:.0f} s warm-up), {args.products} products")
    print(f"  accepted orders: {ok}  ->  {ok / args.seconds:.0f} orders/s")
    if latencies:
        s = summarize(latencies)
        since = "from when each order was due" if args.rate > 0 else "per request"
        print(f"  latency ms ({since}): median {s['median']:.1f}  p90 {s['p90']:.1f}  p99 {s['p99']:.1f}  max {s['max']:.1f}")
    print(f"  statuses: {dict(sorted(statuses.items()))}")

    # The read side: how long until every read model has caught up.
    t_load_end = time.perf_counter()
    check = Conn(host, port)
    while True:
        status, _, payload = await check.request("GET", "/api/analytics/sync-status")
        sync = json.loads(payload) if status == 200 else {}
        if sync.get("status") == "synced":
            break
        if time.perf_counter() - t_load_end > 120:
            print(f"  read side still behind after 120 s: {sync}")
            break
        await asyncio.sleep(0.2)
    print(f"  pipeline drained {time.perf_counter() - t_load_end:.1f} s after the load stopped")
    check.close()
    if metrics_before is not None:
        after = await scrape()
        # Where the time goes: decision -> JetStream ack (relay), then
        # decision -> each read model's commit.
        stages = [("decision -> JetStream ack (relay)", "vitrine_relay_lag_seconds", "")]
        for model in ("product_views", "order_history", "sales_analytics"):
            stages.append((f"decision -> {model} committed", "vitrine_event_visible_seconds",
                           f'read_model="{model}"'))
        for title, name, labels in stages:
            before_h = histogram(metrics_before, name, labels)
            after_h = histogram(after, name, labels)
            med = bucket_quantile(before_h, after_h, 0.5)
            p99 = bucket_quantile(before_h, after_h, 0.99)
            if med is not None:
                print(f"  {title} (server histogram, measured window to drain): "
                      f"median {med * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms")

if __name__ == "__main__":
    asyncio.run(main())
