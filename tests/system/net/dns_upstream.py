#!/usr/bin/env python3
"""A fake nameserver for the networking tests (the net-dns test's
FakeUpstream): `dns_upstream.py HOST NAME=ADDR...` answers the A queries of
each NAME with ADDR on HOST:53 (UDP and TCP), prints "ready", and serves
until it is ended (by pid)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "net-dns"))
from dnslib import FakeUpstream  # noqa: E402

names = {}
for arg in sys.argv[2:]:
    name, addr = arg.split("=", 1)
    names.setdefault(name.lower(), []).append(addr)
FakeUpstream(sys.argv[1], names)
print("ready", flush=True)
while True:
    time.sleep(60)
