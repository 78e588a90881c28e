#!/usr/bin/env python3
"""A stream of creates against meshgate-controller-mock that outlives its restarts
(tests only).

ctl_burst.py --url https://ADDR:PORT --cafile cert.pem --token ADMIN_TOKEN
             --path /api/v1/networks/ID/connectors --acked FILE --stop FILE
             [--max 3000] [--seconds 120]

POSTs {"name":"burst-<n>"} to --path one after another (keep-alive, a new connection
after any failure; a refused connection is retried every 20 ms: the controller is being
killed and restarted). Each create answered 2xx has its "id" appended to --acked at
once (one line, flushed): the ids the controller acknowledged. Stops when --stop
exists, after --max creates or after --seconds.
"""
import argparse
import http.client
import json
import os
import ssl
import time
from urllib.parse import urlsplit


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--acked", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--max", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=120)
    args = p.parse_args()
    u = urlsplit(args.url)
    ctx = ssl.create_default_context(cafile=args.cafile)
    end = time.monotonic() + args.seconds
    hdrs = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    conn = None
    n = acked = 0
    with open(args.acked, "a", encoding="ascii") as out:
        while n < args.max and time.monotonic() < end and not os.path.exists(args.stop):
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx,
                                                       timeout=5)
                body = json.dumps({"name": f"burst-{n}"})
                conn.request("POST", args.path, body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                n += 1
                if 200 <= r.status < 300:
                    out.write(json.loads(data)["id"] + "\n")
                    out.flush()
                    acked += 1
            except (OSError, http.client.HTTPException, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
    print(json.dumps({"sent": n, "acked": acked}))


if __name__ == "__main__":
    main()
