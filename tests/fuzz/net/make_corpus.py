#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/net: queries (corpus-query) and
length-prefixed query + upstream answer pairs (corpus-response)."""

import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "system", "net-dns"))
from dnslib import A, AAAA, ANY, PTR, SERVFAIL, TC, answer_for, query  # noqa

QUERIES = {
    "a-web": query("web"),
    "a-mixed-case": query("Web.MyNet"),
    "aaaa": query("web", AAAA),
    "any": query("web", ANY),
    "ptr": query("2.0.0.10.in-addr.arpa", PTR),
    "edns-4096-do": query("tasks.api", edns=4096)[:-6] +
    struct.pack(">IH", 0x8000, 0),
    "edns-version-1": query("web", edns=1232)[:-6] +
    struct.pack(">IH", 0x10000, 0),
    "pointer-loop": struct.pack(">HHHHHH", 0xC00C, 0, 1, 0, 0, 0) +
    struct.pack(">HHH", 0xC000, A, 1),
    "pointer-to-header": struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) +
    b"\3www\xc0\x0a" + struct.pack(">HH", A, 1),
    "label-64": query("a" * 64),
    "opcode-update": query("web", flags=0x2800),
}

PAIRS = {
    "ext": (query("ext.example.com"),
            answer_for(query("ext.example.com"), ["192.0.2.1"])),
    "tc": (query("big.example.com"),
           answer_for(query("big.example.com"), [], flags=TC)),
    "servfail": (query("x.example.com"),
                 answer_for(query("x.example.com"), [], rcode=SERVFAIL)),
    "big": (query("big.example.com"),
            answer_for(query("big.example.com"),
                       ["198.51.100.%d" % i for i in range(1, 60)])),
    "edns": (query("e.example.com", edns=1232),
             answer_for(query("e.example.com"), ["192.0.2.9"])),
}


def write(folder, name, data):
    os.makedirs(os.path.join(here, folder), exist_ok=True)
    with open(os.path.join(here, folder, name), "wb") as f:
        f.write(data)


for name, data in QUERIES.items():
    write("corpus-query", name, data)
for name, (q, a) in PAIRS.items():
    write("corpus-response", name, struct.pack(">H", len(q)) + q + a)
