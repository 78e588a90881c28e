#!/usr/bin/env python3
"""A stand-in for systemd's notify socket (tests only).

notify_sink.py SOCKET LOG [IFNAME]: binds an AF_UNIX datagram socket at SOCKET and
appends one line per datagram to LOG:  <ms since start> <payload, newlines as ' | '>.
When a datagram carries READY=1 it also records, at that instant, what the host has:
"routes=<n> fw=<0|1> link=<0|1>" (routes of protocol 109 on IFNAME, the nftables
table inet meshgate, the tunnel link), so a test can tell READY came after the work.
Runs until killed; bounded to 10 minutes.
"""
import json
import os
import socket
import subprocess
import sys
import time


def host_facts(ifname):
    r = subprocess.run(["ip", "-j", "route", "show", "proto", "109"],
                       capture_output=True, text=True)
    routes = len([x for x in json.loads(r.stdout or "[]")
                  if not ifname or x.get("dev") == ifname])
    fw = subprocess.run(["nft", "list", "table", "inet", "meshgate"],
                        capture_output=True).returncode == 0
    link = subprocess.run(["ip", "link", "show", ifname],
                          capture_output=True).returncode == 0 if ifname else False
    return f"routes={routes} fw={int(fw)} link={int(link)}"


def main():
    path, log = sys.argv[1], sys.argv[2]
    ifname = sys.argv[3] if len(sys.argv) > 3 else ""
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(1.0)
    t0 = time.monotonic()
    with open(log, "a", buffering=1) as out:
        out.write("0 LISTENING\n")
        while time.monotonic() - t0 < 600:
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            msg = data.decode(errors="replace").strip().replace("\n", " | ")
            extra = " " + host_facts(ifname) if "READY=1" in msg.split(" | ") else ""
            out.write(f"{int((time.monotonic() - t0) * 1000)} {msg}{extra}\n")


if __name__ == "__main__":
    main()
