#!/usr/bin/env python3
"""Long-poll load for meshgate-controller-mock (tests only).

ctl_longpoll.py --url https://ADDR:PORT --cafile cert.pem --secret DEVICE_SECRET
                --version V --waiters N --wait SECONDS
                [--sources ADDR,ADDR,...] [--waiter-modes keepalive,close,http10]
                [--change-after SECONDS --admin-token T --patch PATH --body JSON
                 --change-mode keepalive|close|http10]

Holds N long-polls `GET /api/v1/device/config?wait=SECONDS` with `If-None-Match: "V"`
(waiter i speaks the i-th of --waiter-modes, round robin, and binds the i-th source
address), then, with --change-after, sends one admin PATCH in --change-mode once all
waiters' requests have been written and SECONDS more have passed. Prints one JSON object:
  {"statuses": {"200": n, ...}, "etags": [...distinct ETags...], "errors": [...],
   "change_ms": t, "change_status": s, "first_ms": t, "last_ms": t,
   "min_held_ms": t, "max_held_ms": t, "all_sent_ms": t}
times in ms since the start ("change_ms": when the PATCH was sent, "change_status": its
status; "all_sent_ms": when every waiter's request had been written, which the change
waits for); "held" is, per waiter, from just before its request was written (after the
TLS handshake) to its answer. Every connection is bounded by --timeout (default
wait+15 s); a waiter not answered by then is counted as status "timeout". Stops by
itself.
"""
import argparse
import asyncio
import json
import ssl
import sys
import time
from urllib.parse import urlsplit

MODES = ("keepalive", "close", "http10")


def request_bytes(method, host, path, headers, body, mode):
    version = "HTTP/1.0" if mode == "http10" else "HTTP/1.1"
    lines = [f"{method} {path} {version}", f"Host: {host}"]
    if mode == "close":
        lines.append("Connection: close")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    body = await reader.readexactly(n) if n else b""
    return status, hdrs, body


SENT = []  # monotonic times at which the waiters' requests had been written


async def one(args, ctx, method, path, headers, body, mode, source, t0, track=False):
    u = urlsplit(args.url)
    reader, writer = await asyncio.open_connection(
        u.hostname, u.port, ssl=ctx, server_hostname=u.hostname,
        local_addr=(source, 0) if source else None)
    try:
        sent = time.monotonic()  # before the write: the server's clock starts after it
        writer.write(request_bytes(method, u.netloc, path, headers, body, mode))
        await writer.drain()
        if track:
            SENT.append(sent)
        status, hdrs, rbody = await read_response(reader)
        return status, hdrs, rbody, (time.monotonic() - t0) * 1000, sent
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--waiters", type=int, default=1)
    p.add_argument("--wait", type=int, default=10)
    p.add_argument("--sources", default="")
    p.add_argument("--waiter-modes", default="keepalive")
    p.add_argument("--change-after", type=float)
    p.add_argument("--admin-token")
    p.add_argument("--patch")
    p.add_argument("--body", default="{}")
    p.add_argument("--change-mode", choices=MODES, default="keepalive")
    p.add_argument("--timeout", type=float)
    args = p.parse_args()
    if not 1 <= args.waiters <= 1000 or not 0 <= args.wait <= 60:
        sys.exit("ctl_longpoll: --waiters 1..1000, --wait 0..60")
    modes = args.waiter_modes.split(",")
    if any(m not in MODES for m in modes):
        sys.exit(f"ctl_longpoll: --waiter-modes takes {','.join(MODES)}")
    sources = [s for s in args.sources.split(",") if s] or [None]
    timeout = args.timeout or args.wait + 15
    ctx = ssl.create_default_context(cafile=args.cafile)

    hdrs = {"Authorization": f"Bearer {args.secret}",
            "If-None-Match": f'"{args.version}"'}
    path = f"/api/v1/device/config?wait={args.wait}"
    t0 = time.monotonic()
    tasks = []
    for i in range(args.waiters):
        tasks.append(asyncio.ensure_future(asyncio.wait_for(
            one(args, ctx, "GET", path, hdrs, None, modes[i % len(modes)],
                sources[i % len(sources)], t0, track=True), timeout)))
        if i % 20 == 19:
            await asyncio.sleep(0.01)  # let the handshakes progress
    out = {"statuses": {}, "etags": [], "errors": []}
    change = None
    if args.change_after is not None:
        # every waiter's request written (bounded), then the pause, then the change
        limit = time.monotonic() + timeout / 2
        while len(SENT) < args.waiters and time.monotonic() < limit:
            await asyncio.sleep(0.05)
        out["all_sent_ms"] = (time.monotonic() - t0) * 1000
        await asyncio.sleep(args.change_after)
        out["change_ms"] = (time.monotonic() - t0) * 1000
        change = await asyncio.wait_for(one(
            args, ctx, "PATCH", args.patch,
            {"Authorization": f"Bearer {args.admin_token}"}, args.body.encode(),
            args.change_mode, None, t0), 30)
        out["change_status"] = change[0]
    times = []
    held = []
    etags = set()
    for t in tasks:
        try:
            status, rh, _, at, sent = await t
            out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + 1
            times.append(at)
            held.append(at - (sent - t0) * 1000)
            if "etag" in rh:
                etags.add(rh["etag"])
        except asyncio.TimeoutError:
            out["statuses"]["timeout"] = out["statuses"].get("timeout", 0) + 1
        except Exception as ex:  # a refused or reset connection is a result too
            out["statuses"]["error"] = out["statuses"].get("error", 0) + 1
            if len(out["errors"]) < 5:
                out["errors"].append(repr(ex))
    out["etags"] = sorted(etags)
    if times:
        out["first_ms"] = min(times)
        out["last_ms"] = max(times)
        out["min_held_ms"] = min(held)
        out["max_held_ms"] = max(held)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
